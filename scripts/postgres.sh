#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the store's tests (Debian's postgresql package).
#   eval "$(bash scripts/postgres.sh start)"   # exports RESNET_BENCH_TEST_PG (its URL) and
#                                              # RESNET_BENCH_TEST_PG_DIR (its folder)
#   bash scripts/postgres.sh stop "$RESNET_BENCH_TEST_PG_DIR"
# The cluster lives in a new temporary folder, listens only on a Unix socket there (no TCP
# port), trusts local connections, and is removed by `stop`. As root it runs as the
# `postgres` user the package creates (PostgreSQL refuses to run as root).
set -euo pipefail
cd /  # the postgres user may not enter the caller's folder (a root-only temporary clone)
find_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$found" ] && [ -x "$found/initdb" ] && echo "$found"
}
case "${1:-}" in
start)
  bin=$(find_bin || true)
  if [ -z "$bin" ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 &&
      apt-get install -y -q postgresql >/dev/null 2>&1; }) || true
    bin=$(find_bin || true)
  fi
  if [ -z "$bin" ]; then
    echo "echo 'postgres.sh: PostgreSQL is not installed (Debian: apt-get install postgresql); the store tests on PostgreSQL will be skipped' >&2"
    exit 0
  fi
  dir=$(mktemp -d /tmp/resnet-bench-pg.XXXXXX)
  as=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >"$dir/initdb.log" 2>&1
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses='' -k $dir -c max_connections=60 -c fsync=off" start >/dev/null
  echo "export RESNET_BENCH_TEST_PG='postgresql+psycopg://postgres@/postgres?host=$dir' RESNET_BENCH_TEST_PG_DIR='$dir'"
  ;;
stop)
  dir=${2:?usage: postgres.sh stop DIR}
  bin=$(find_bin)
  as=()
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  case "$dir" in /tmp/resnet-bench-pg.*) rm -rf "$dir" ;; esac
  ;;
*)
  echo "usage: postgres.sh start | stop DIR" >&2
  exit 2
  ;;
esac

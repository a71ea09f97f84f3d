#!/usr/bin/env bash
# The main job: set up, run the benchmark (quick profile unless arguments say otherwise)
# into results/<machine>/<date-time>-bench/run.json, with its NOTES.md, and into the results
# store; then its report and a dashboard over the store.
#   bash scripts/bench.sh                      # quick profile, 23-24 min on 2 cores
#   bash scripts/bench.sh --bench-profile smoke      # any `pytest bench` options
#   bash scripts/bench.sh --benchmark-json new.json  # also a copy of run.json there, once complete
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
# --benchmark-json PATH: the run is still written into results/ (with its journal, log and
# notes); PATH gets a copy once it is complete.
args=()
targets=()  # bench/<file>.py arguments: only those files' cases (default: all of bench/)
copy_to=""
while [ $# -gt 0 ]; do
  case "$1" in
    --benchmark-json=*) copy_to=${1#*=}; shift ;;
    --benchmark-json)
      [ $# -ge 2 ] || { echo "bench.sh: --benchmark-json needs a file name" >&2; exit 2; }
      copy_to=$2; shift 2 ;;
    bench/*) targets+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]+"${args[@]}"}"
bash scripts/setup.sh
# results/<machine>/machine.json names the machine (resnet-bench machine --write; kept if there).
slug=$(.venv/bin/resnet-bench machine --write results | tail -1 | sed 's#.*results/\([^/]*\)/machine.json#\1#')
# Date and time in the name: a second run the same day never overwrites the first.
dir="results/$slug/$(date +%Y-%m-%d-%H%M)-bench"
mkdir -p "$dir"
start=$(date +%s)
set +e
# --store: the run also goes into the results store (RESNET_BENCH_DB, else .benchmarks/resnet-bench.sqlite).
.venv/bin/python -m pytest -p no:cacheprovider "${targets[@]:-bench}" --benchmark-json "$dir/run.json" --store "$@" \
  2>&1 | tee "$dir/run.log"
status=${PIPESTATUS[0]}
set -e
took=$(( $(date +%s) - start ))
cat > "$dir/NOTES.md" <<NOTES
---
what: bash scripts/bench.sh $* ($took s)
command: bash scripts/bench.sh $*
report report: run.json | ResNet-50 on $slug, $(date +%Y-%m-%d)
---

# bash scripts/bench.sh $*

Made by scripts/bench.sh on $(date -u +%Y-%m-%dT%H:%MZ) at commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $took s.
NOTES
echo "benchmark run took $took s; results in $dir/run.json"
if [ -n "$copy_to" ] && [ -f "$dir/run.json" ]; then
  cp "$dir/run.json" "$copy_to.tmp.$$" && mv "$copy_to.tmp.$$" "$copy_to"
  echo "copied to $copy_to"
fi
.venv/bin/resnet-bench report "$dir/run.json" --out "$dir/report" --title "ResNet-50 on $slug, $(date +%Y-%m-%d)"
# Every run the store holds (this machine's earlier ones, a team's): one page.
if ! .venv/bin/resnet-bench dashboard --db default --out .benchmarks/dashboard; then
  [ "$status" != 0 ] || status=2
fi
exit "$status"

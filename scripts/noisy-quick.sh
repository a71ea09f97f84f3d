#!/usr/bin/env bash
# Two back-to-back quick runs under the shared noisy neighbour (by default both cores busy 1 s,
# idle 4 s, +-0.5 s, seeded: a machine whose speed drops to half a fifth of the time, the same
# way every time; NOISE="--cores 2 --on 3 --off 3" for another), then how well they agree
# cell by cell (scripts/reproducibility.py) and the gate between them:
#   bash scripts/noisy-quick.sh OUT LABEL [CHECKOUT]
# CHECKOUT: another checkout of this project to measure instead (its code, this .venv), e.g.
# `git worktree add /tmp/old COMMIT` for the code before a change. Writes OUT/LABEL-a.json,
# OUT/LABEL-b.json (with journals and logs), OUT/LABEL-reproducibility.md, OUT/LABEL-compare.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$(realpath -m "$1"); label=$2; code=${3:-$root}
neighbour=${NEIGHBOUR:-$root/../shared/tools/noisy-neighbour.py}
[ -f "$neighbour" ] || { echo "no noisy neighbour at $neighbour (set NEIGHBOUR)"; exit 2; }
mkdir -p "$out"
export TF_CPP_MIN_LOG_LEVEL=2
noise=${NOISE:---cores 2 --on 1 --off 4 --jitter 0.5 --seed 1}
# shellcheck disable=SC2086
setsid python3 "$neighbour" $noise --duration 7200 &
neighbour_pid=$!
# Its own process group, stopped whole (the neighbour's workers too) however this script ends.
trap 'kill -- -$neighbour_pid 2>/dev/null' EXIT
for run in a b; do
  echo "== $label-$run, $(date -u +%H:%M:%S)"
  (cd "$code" && PYTHONPATH="$code" "$root/.venv/bin/python" -m pytest -p no:cacheprovider bench \
    --benchmark-json "$out/$label-$run.json" > "$out/$label-$run.log" 2>&1)
  tail -1 "$out/$label-$run.log"
done
kill -- -$neighbour_pid 2>/dev/null
.venv/bin/python scripts/reproducibility.py "$out/$label-a.json" "$out/$label-b.json" \
  --out "$out/$label-reproducibility.md" | tail -8
.venv/bin/resnet-bench compare "$out/$label-a.json" "$out/$label-b.json" > "$out/$label-compare.txt" 2>&1
echo "compare exit $? (1: the gate failed): $(grep -E '^[0-9]+ comparisons' "$out/$label-compare.txt")"

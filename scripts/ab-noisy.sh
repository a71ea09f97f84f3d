#!/usr/bin/env bash
# The A/B benchmark of #37, on this machine:
#   1. quiet: the cost of TF_ENABLE_ONEDNN_OPTS=0 measured separately (plain runs of each
#      stack, one after the other, twice);
#   2. under the shared noisy neighbour (both cores busy 1 s, idle 4 s, +-0.5 s, seeded):
#      RUNS A/A runs (identical stacks, --ab same) with seeds 1..RUNS;
#   3. under it: A/B runs of TF_ENABLE_ONEDNN_OPTS=0 against this stack (3 seeds);
#   4. under it: plain runs of each stack, A, B, A, B, compared run against run (compare).
# Then scripts/ab_summary.py writes OUT/README.md from what they recorded.
#   bash scripts/ab-noisy.sh OUT [RUNS]
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$(realpath -m "$1"); runs=${2:-20}
neighbour=${NEIGHBOUR:-$root/../shared/tools/noisy-neighbour.py}
[ -f "$neighbour" ] || { echo "no noisy neighbour at $neighbour (set NEIGHBOUR)"; exit 2; }
mkdir -p "$out"
export TF_CPP_MIN_LOG_LEVEL=2
noise=${NOISE:---cores 2 --on 1 --off 4 --jitter 0.5 --seed 1}
change=TF_ENABLE_ONEDNN_OPTS=0
cell=(--versions v1.5 --modes inference --batch-sizes 8 --precisions float32 --image-size 224)
alternate=(--paired off --paired-rounds 10 --paired-min-time inference:10 --paired-width 2.5
  --paired-max-time inference:40)
plain=(--paired off --windows 3 --min-time 5 --rounds 5)
bench() { # NAME ENV... -- PYTEST ARGS...: one pytest run, its log, its last line
  local name=$1; shift; local env=()
  while [ "$1" != "--" ]; do env+=("$1"); shift; done; shift
  echo "== $name, $(date -u +%H:%M:%S)"
  env "${env[@]}" .venv/bin/python -m pytest -p no:cacheprovider "$@" \
    --benchmark-json "$out/$name.json" > "$out/$name.log" 2>&1
  tail -1 "$out/$name.log"
}
for i in 1 2; do  # (kept when OUT has them already: the machine's quiet state is gone by then)
  [ -f "$out/quiet-b$i.json" ] && continue
  bench "quiet-a$i" X=1 -- bench/test_throughput.py "${cell[@]}" "${plain[@]}"
  bench "quiet-b$i" "$change" -- bench/test_throughput.py "${cell[@]}" "${plain[@]}"
done
# shellcheck disable=SC2086
setsid python3 "$neighbour" $noise --duration 14400 &
neighbour_pid=$!
trap 'kill -- -$neighbour_pid 2>/dev/null' EXIT
for seed in $(seq 1 "$runs"); do
  bench "aa-$seed" X=1 -- bench/test_ab.py "${cell[@]}" "${alternate[@]}" --ab same --seed "$seed"
done
for seed in 1 2 3; do
  bench "ab-$seed" X=1 -- bench/test_ab.py "${cell[@]}" "${alternate[@]}" --ab "$change" --seed "$seed"
done
for i in 1 2; do
  bench "noisy-a$i" X=1 -- bench/test_throughput.py "${cell[@]}" "${plain[@]}"
  bench "noisy-b$i" "$change" -- bench/test_throughput.py "${cell[@]}" "${plain[@]}"
done
kill -- -$neighbour_pid 2>/dev/null
for pair in "noisy-a1 noisy-a2" "noisy-a1 noisy-b1" "noisy-a2 noisy-b2" "quiet-a1 quiet-b1"; do
  set -- $pair
  .venv/bin/resnet-bench compare "$out/$1.json" "$out/$2.json" --fail-on images_per_sec:-5% \
    > "$out/compare-$1-$2.txt" 2>&1
  echo "compare $1 $2: exit $?"
done
.venv/bin/python scripts/ab_summary.py "$out" > "$out/README.md"
tail -30 "$out/README.md"

#!/usr/bin/env bash
# The regression-gate demonstration on this machine (about 5 minutes): three plain runs of
# a small sweep, then one with TensorFlow limited to one thread, a dashboard over them and
# each run compared with the previous one.
#   bash scripts/regression-demo.sh [OUT_DIR]      (default results/<machine>/<date>-history)
set -uo pipefail
cd "$(dirname "$0")/.."
slug=$(.venv/bin/resnet-bench machine --write results | tail -1 | sed 's#.*results/\([^/]*\)/machine.json#\1#')
out=${1:-results/$slug/$(date +%Y-%m-%d)-history}
mkdir -p "$out"
args=(-p no:cacheprovider bench/test_throughput.py --versions v1,v1.5,v2 --modes inference
  --batch-sizes 8 --image-size 128 --precisions float32 --rounds 10 --min-time 10)
for name in run1-plain run2-plain run3-plain; do
  .venv/bin/python -m pytest "${args[@]}" --benchmark-json "$out/$name.json" | grep "resnet-bench\|passed\|failed"
done
TF_NUM_INTRAOP_THREADS=1 .venv/bin/python -m pytest "${args[@]}" --benchmark-json "$out/run4-one-thread.json" \
  | grep "resnet-bench\|passed\|failed"
.venv/bin/resnet-bench dashboard "$out" --out "$out/dashboard"
prev=""
for run in run1-plain run2-plain run3-plain run4-one-thread; do
  if [ -n "$prev" ]; then
    echo "## $prev -> $run"
    .venv/bin/resnet-bench compare "$out/$prev.json" "$out/$run.json" \
      --fail-on images_per_sec_best:-5% --fail-on images_per_sec:-5%
    echo "exit $?"
  fi
  prev=$run
done | tee "$out/compare.txt"

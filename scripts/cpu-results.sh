#!/usr/bin/env bash
# Every committed CPU measurement of this project, in one go, into results/<machine>/<date>-<part>/
# (about 2-3 hours on the project's 2-core machine; keep the machine otherwise idle):
#   bash scripts/cpu-results.sh [PART ...]      PARTs: quick loadgen runtimes pipelines history faults
# Each part writes its JSON, journal and a log; reports are rebuilt by scripts/reports.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
# results/<machine>/machine.json names the machine (written if missing; see resnet-bench machine).
slug=$(.venv/bin/resnet-bench machine --write results | tail -1 | sed 's#.*results/\([^/]*\)/machine.json#\1#')
base=${OUT:-results/$slug/$(date +%Y-%m-%d)}
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(quick loadgen runtimes pipelines history faults)
bench() { .venv/bin/python -m pytest -p no:cacheprovider "$@"; }
for part in "${parts[@]}"; do
  start=$(date +%s)
  out=$base-$part
  [ -n "${OUT:-}" ] && out=$OUT
  mkdir -p "$out"
  echo "== $part, $(date +%H:%M:%S)"
  case $part in
  quick)  # the quick profile twice, back to back, and the gate between them
    bench bench --benchmark-json "$out/quick-a.json" > "$out/quick-a.log" 2>&1
    bench bench --benchmark-json "$out/quick-b.json" > "$out/quick-b.log" 2>&1
    .venv/bin/resnet-bench compare "$out/quick-a.json" "$out/quick-b.json" --fail-on images_per_sec:-5% \
      --fail-on images_per_sec_best:-5% > "$out/compare-quick-a-b.txt" 2>&1
    ;;
  loadgen)  # the four scenarios for our three versions, float32 and bf16 (a bound a CPU can meet)
    bench bench/test_loadgen.py --scenarios single-stream,multi-stream,offline,server \
      --versions v1,v1.5,v2 --precisions float32,mixed_bfloat16 --loadgen-duration 5 \
      --latency-bound 250 --benchmark-json "$out/loadgen.json" > "$out/loadgen.log" 2>&1
    ;;
  runtimes)  # Keras, ONNX Runtime and OpenVINO; torchvision eager at batch 32 beside them
    bench bench/test_throughput.py --versions v1,v1.5,v2 --modes inference --batch-sizes 1,8,32 \
      --precisions float32,mixed_bfloat16 --runtimes keras,onnxruntime,openvino --repeat 1 --paired off \
      --benchmark-json "$out/runtimes.json" > "$out/runtimes.log" 2>&1
    KERAS_BACKEND=torch bench bench/test_throughput.py --versions torchvision-resnet50 --modes inference \
      --batch-sizes 32 --precisions float32,mixed_bfloat16 --repeat 1 --paired off \
      --benchmark-json "$out/peer-torchvision.json" > "$out/peer-torchvision.log" 2>&1
    ;;
  pipelines)  # the pipelines alone at 1 and 2 workers, and v1.5 training from JPEG files
    bench bench/test_pipeline.py bench/test_throughput.py --pipelines tfdata,pil --stages decode,train,eval \
      --workers 1,2 --data-images 512 --versions v1.5 --modes training --batch-sizes 32 \
      --precisions float32,mixed_bfloat16 --data synthetic,jpeg --repeat 1 --paired off \
      --benchmark-json "$out/pipelines.json" > "$out/pipelines.log" 2>&1
    ;;
  history)  # 14 runs of a small sweep; TensorFlow limited to one thread from run 8 on
    for i in $(seq -w 1 14); do
      env=()
      [ "$i" -ge 08 ] && env=(TF_NUM_INTRAOP_THREADS=1)
      env "${env[@]}" .venv/bin/python -m pytest -p no:cacheprovider bench/test_throughput.py \
        --versions v1,v1.5,v2 --modes inference --batch-sizes 8 --image-size 128 --precisions float32 \
        --repeat 1 --paired off --min-time 5 --benchmark-json "$out/run$i.json" > /dev/null 2>&1
      echo "history run $i done"
    done
    .venv/bin/resnet-bench history "$out" --metric images_per_sec_best \
      --fail-on images_per_sec_best:-5% > "$out/history.txt" 2>&1
    .venv/bin/resnet-bench dashboard "$out" --out "$out/dashboard" > /dev/null 2>&1
    ;;
  faults)
    .venv/bin/python scripts/fault_injection.py --trials 20 --seed 2026 --out results/fault-injection \
      > "$out/faults.log" 2>&1
    ;;
  *) echo "unknown part $part; parts: quick loadgen runtimes pipelines history faults"; exit 2 ;;
  esac
  echo "   $part took $(( $(date +%s) - start )) s; write its $out/NOTES.md (what, why, the command)"
done

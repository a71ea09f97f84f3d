#!/usr/bin/env bash
# Run on the lent GPU machine, in one call, from the repository root, with .whl carried
# (scripts/gpu-wheels.sh). Writes pytest-benchmark JSON, journals, one log per part and a
# machine record to $OUT. Every part is bounded in time, the goal cases first, so the call
# returns within the device budget (15 minutes a session, the machine's start included).
#   device tool: command "bash scripts/gpu-run.sh", carry [".whl"], timeout_s 540
#   DRY_RUN=1: the same parts where there is no GPU (scripts/gpu-dry-run.sh): every GPU
#   case must come back skipped with "no GPU", and nothing may fail to import.
set -uo pipefail
OUT=${OUT:-out}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
start=$(date +%s)
$PY -m pip install -q --no-index --no-deps --no-compile --target .site .whl/*.whl > "$OUT/install.log" 2>&1 \
  || { echo "installing the carried wheels failed:"; tail -5 "$OUT/install.log"; }
export PYTHONPATH=$PWD/.site:$PWD
export TF_CPP_MIN_LOG_LEVEL=2
# The machine record: what the GPU is, its clocks and power limit, and the software.
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap,clocks.max.sm,clocks.max.mem,power.limit \
  --format=csv > "$OUT/gpu.csv" 2>&1 || echo "nvidia-smi: not found (no GPU here)" > "$OUT/gpu.csv"
$PY - > "$OUT/software.txt" 2>&1 <<'PYEOF'
import importlib.metadata as m, platform
print("python", platform.python_version())
for name in ("jax", "jaxlib", "torch", "torchvision", "keras", "numpy", "pytest-benchmark"):
    try:
        print(name, m.version(name))
    except m.PackageNotFoundError:
        print(name, "not installed")
PYEOF
# part NAME SECONDS BACKEND ARGS...: one bounded pytest run; its log stays in $OUT.
part() {
  local name=$1 limit=$2 backend=$3
  shift 3
  KERAS_BACKEND=$backend timeout "$limit" $PY -m pytest -p no:cacheprovider "$@" \
    --benchmark-json "$OUT/gpu-$name.json" > "$OUT/$name.log" 2>&1
  local code=$?
  echo "part $name: exit $code after $(( $(date +%s) - start )) s" | tee -a "$OUT/parts.txt"
  grep "resnet-bench\]" "$OUT/$name.log" | tail -4
}
common=(--devices gpu:0 --batch-sizes 256 --training-batch-sizes 256 --case-timeout 120 --repeat 1
  --rounds 20 --warmup-rounds 3 --paired off)
# Budget (timeout_s 540, parts 500 s). 1. The goal cases: our v1.5 on JAX, mixed_bfloat16,
# batch 256, inference and training (about 45 s each).
part jax-v15-bf16 110 jax bench/test_throughput.py "${common[@]}" --versions v1.5 --precisions mixed_bfloat16
# 2. The peer in the same call: torchvision's resnet50, eager and torch.compile (jit on).
part torch-peer-bf16 250 torch bench/test_throughput.py "${common[@]}" --versions torchvision-resnet50 \
  --precisions mixed_bfloat16 --jit off,on --case-timeout 150
# 3. With what time is left: the three versions paired (v1.5/v1 and v2/v1 with intervals), then
# v1 and v2 inference on their own (a part cut short keeps its journal).
part jax-paired-bf16 140 jax bench/test_paired.py bench/test_throughput.py "${common[@]}" \
  --versions v1,v1.5,v2 --modes inference --precisions mixed_bfloat16 --paired inference:256 \
  --paired-rounds 10 -k "not v1.5-"
ls -la "$OUT"

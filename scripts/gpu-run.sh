#!/usr/bin/env bash
# Run on the lent GPU machine, in one call, from the repository root, with .whl
# carried (see scripts/gpu-wheels.sh). Writes pytest-benchmark JSON and journals to
# $OUT. Each backend's part is bounded in time so the call returns within its limit.
#   device tool: command "bash scripts/gpu-run.sh", carry [".whl"], timeout_s 540
set -uo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --target .site .whl/*.whl
export PYTHONPATH=$PWD/.site:$PWD
export TF_CPP_MIN_LOG_LEVEL=2
nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv > "$OUT/gpu.csv" 2>&1
common=(-p no:cacheprovider bench/test_throughput.py --versions v1,v1.5,v2 --devices gpu:0
  --batch-sizes 256 --case-timeout 120 --rounds 20 --warmup-rounds 3)
# Budget (device tool timeout_s 540): 1 + 2 + 3 <= 500 s. Goal cases first.
# 1. The goal cases: our v1.5 on JAX, mixed_bfloat16, batch 256, both modes (about 45 s each).
KERAS_BACKEND=jax timeout 110 python3 -m pytest "${common[@]}" --versions v1.5 --precisions mixed_bfloat16 \
  --benchmark-json "$OUT/gpu-jax-v15-bf16.json" 2>&1 | tail -20
# 2. The peer, in the same call: torchvision's resnet50 eager and under torch.compile (jit on).
KERAS_BACKEND=torch timeout 250 python3 -m pytest "${common[@]}" --versions torchvision-resnet50 \
  --precisions mixed_bfloat16 --jit off,on --case-timeout 150 \
  --benchmark-json "$OUT/gpu-torch-peer-bf16.json" 2>&1 | tail -20
# 3. With what time is left: v1 and v2 in bfloat16 (a part cut short keeps its journal).
KERAS_BACKEND=jax timeout 140 python3 -m pytest "${common[@]}" --versions v1,v2 \
  --precisions mixed_bfloat16 --benchmark-json "$OUT/gpu-jax-v1-v2-bf16.json" 2>&1 | tail -20
ls -la "$OUT"

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
# 1. JAX, mixed_bfloat16, batch 256: the goal cases (about 40 s each: start, compile, 23 steps).
KERAS_BACKEND=jax timeout 270 python3 -m pytest "${common[@]}" --precisions mixed_bfloat16 \
  --benchmark-json "$OUT/gpu-jax-bf16.json" 2>&1 | tail -40
# 2. The peer, side by side: torchvision's resnet50 eager and under torch.compile (jit on),
#    with our v1.5 on Keras's torch backend (its jit-on cases are skipped with the reason).
KERAS_BACKEND=torch timeout 180 python3 -m pytest "${common[@]}" --versions torchvision-resnet50,v1.5 \
  --precisions mixed_bfloat16 --jit off,on --case-timeout 150 \
  --benchmark-json "$OUT/gpu-torch-bf16.json" 2>&1 | tail -30
# 3. JAX, float32, batch 256, with what time is left.
KERAS_BACKEND=jax timeout 70 python3 -m pytest "${common[@]}" --versions v1.5 --precisions float32 \
  --benchmark-json "$OUT/gpu-jax-fp32.json" 2>&1 | tail -20
ls -la "$OUT"

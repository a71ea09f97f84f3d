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
common=(-p no:cacheprovider bench/test_throughput.py bench/test_model_size.py
  --versions v1,v1.5,v2 --devices gpu:0 --precisions mixed_bfloat16,float32
  --case-timeout 240 --rounds 20 --warmup-rounds 3)
# JAX: quick profile's versions and modes at GPU batch sizes, bf16 first (the goals).
KERAS_BACKEND=jax timeout 420 python3 -m pytest "${common[@]}" --batch-sizes 256,64 \
  --benchmark-json "$OUT/gpu-jax.json" 2>&1 | tail -60
# PyTorch backend, if time is left: the bf16 batch-256 cases only.
KERAS_BACKEND=torch timeout 90 python3 -m pytest "${common[@]}" --batch-sizes 256 \
  --precisions mixed_bfloat16 --benchmark-json "$OUT/gpu-torch.json" 2>&1 | tail -20
ls -la "$OUT"

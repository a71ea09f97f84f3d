#!/usr/bin/env bash
# Create .venv (if missing) and install resnet-bench with its test tools.
#   bash scripts/setup.sh              # TensorFlow backend, LoadGen
#   bash scripts/setup.sh --backends   # also JAX and PyTorch (CPU), ONNX Runtime, OpenVINO, and
#                                      # MongoDB's change-point library to check ours, as CI uses
#   RESNET_BENCH_SETUP=skip bash scripts/setup.sh   # an image set up beforehand: only check .venv
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${RESNET_BENCH_SETUP:-}" = skip ]; then
  .venv/bin/python -c "import tensorflow, keras, resnet; print('resnet-bench ready (setup skipped): tensorflow', tensorflow.__version__, 'keras', keras.__version__)" 2>/dev/null \
    || { echo "setup.sh: RESNET_BENCH_SETUP=skip, but .venv cannot import tensorflow, keras and resnet" >&2; exit 2; }
  exit 0
fi
PY=${PYTHON:-python3}
extras="test"
if [ "${1:-}" = "--backends" ]; then
  extras="test,backends,runtimes"
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q -e ".[$extras]" 2>&1 | grep -v "^WARNING: Location" || true
if [ "${1:-}" = "--backends" ]; then
  # Installed --no-deps, each for its reason (the one place that lists them):
  # - tf2onnx (Keras's ONNX export): its declared pins (numpy<2, old protobuf) would break
  #   TensorFlow 2.21; the code path we use runs on what is installed (tests/test_runtimes.py).
  # - signal-processing-algorithms: only tests import it, to check that resnet's own E-Divisive
  #   finds its change points (tests/test_parallel.py); it pins numpy<2.
  # - torchvision (the peer): PyPI's wheel asks for its CUDA torch; beside the CPU torch it
  #   loads once scripts/torchvision_cpu.py has emptied its meta-kernel registrations.
  .venv/bin/python -m pip install -q --no-deps tf2onnx==1.17.0 signal-processing-algorithms==2.1.6 \
    more-itertools structlog torchvision==0.28.0 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python scripts/torchvision_cpu.py
fi
.venv/bin/python -c "import tensorflow, keras, resnet; print('resnet-bench ready: tensorflow', tensorflow.__version__, 'keras', keras.__version__)" 2>/dev/null

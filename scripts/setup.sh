#!/usr/bin/env bash
# Create .venv (if missing) and install resnet-bench with its test tools.
#   bash scripts/setup.sh              # TensorFlow backend
#   bash scripts/setup.sh --backends   # also JAX and PyTorch (CPU), as CI uses
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras="test"
if [ "${1:-}" = "--backends" ]; then
  extras="test,backends"
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q -e ".[$extras]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import tensorflow, keras, resnet; print('resnet-bench ready: tensorflow', tensorflow.__version__, 'keras', keras.__version__)" 2>/dev/null

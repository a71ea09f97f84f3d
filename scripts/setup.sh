#!/usr/bin/env bash
# Create .venv (if missing) and install resnet-bench with its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e ".[test]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import tensorflow, keras, resnet; print('resnet-bench ready: tensorflow', tensorflow.__version__, 'keras', keras.__version__)" 2>/dev/null

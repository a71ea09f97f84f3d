#!/usr/bin/env bash
# Prove scripts/gpu-run.sh before a GPU is lent: run it here, in an environment that holds
# only what the GPU machine has (NumPy, JAX, PyTorch; no TensorFlow, pandas, Keras or
# pytest) plus the carried wheels installed exactly as gpu-run.sh installs them, on a copy
# of the tree the device tool would send. With no GPU here, every case must come back
# skipped with "no GPU", and no part may fail to import anything.
#   bash scripts/gpu-dry-run.sh            (about 3 minutes; CI runs it)
# The GPU machine runs Python 3.12; PyTorch's CPU build lies on this machine for Python 3.11
# only (PyPI's is a CUDA build of several GB), so the dry run uses Python 3.11 and the same
# package list downloaded for 3.11 (scripts/gpu-wheels.sh with PY_VERSION=3.11).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.venv-gpu-dry
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q numpy jax torch==2.13.0 2>&1 | grep -v "^WARNING: Location" || true
fi
rm -rf .whl-dry
log=$(mktemp)
PY_VERSION=3.11 DEST=.whl-dry bash scripts/gpu-wheels.sh > "$log" 2>&1 || { cat "$log"; exit 1; }
work=$(mktemp -d)
# The tree the device tool sends: tracked and untracked-but-not-ignored files, and the carried wheels.
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$work/"
cp -r .whl-dry "$work/.whl"
out=$work/out
(cd "$work" && OUT=$out PYTHON="$venv/bin/python" DRY_RUN=1 bash scripts/gpu-run.sh) | tail -20
.venv/bin/python scripts/check_gpu_dry_run.py "$out"
rm -rf "$work"

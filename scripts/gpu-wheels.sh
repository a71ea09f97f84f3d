#!/usr/bin/env bash
# Download, on this machine, the wheels the lent GPU machine lacks (it has Python 3.12,
# JAX, PyTorch, torchvision, CuPy and NumPy, but no Keras, pytest-benchmark or their
# dependencies; nvidia-ml-py gives the energy counter) into .whl/, which git ignores and
# the device tool carries (`carry: [".whl"]`).
#   bash scripts/gpu-wheels.sh                         # for the GPU machine (Python 3.12)
#   PY_VERSION=3.11 DEST=.whl-dry bash scripts/gpu-wheels.sh   # the same list for a dry run here
set -euo pipefail
cd "$(dirname "$0")/.."
PY_VERSION=${PY_VERSION:-3.12}
DEST=${DEST:-.whl}
# The one list of what the GPU machine lacks (scripts/gpu-dry-run.sh proves it complete).
PACKAGES=(keras==3.15.1 namex optree absl-py rich markdown-it-py mdurl pygments h5py ml-dtypes
  pytest pluggy iniconfig packaging pytest-benchmark py-cpuinfo psutil nvidia-ml-py)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PY_VERSION" --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d "$DEST" "${PACKAGES[@]}"
du -sh "$DEST"

#!/usr/bin/env bash
# Download, on this machine, the wheels the lent GPU machine lacks (it has JAX,
# PyTorch and Python 3.12 but no Keras, pytest-benchmark or pandas; nvidia-ml-py gives the
# energy counter): into .whl/,
# which git ignores and the device tool carries (`carry: [".whl"]`).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl \
  keras==3.15.1 namex optree pytest pluggy iniconfig packaging pytest-benchmark py-cpuinfo psutil \
  nvidia-ml-py
du -sh .whl

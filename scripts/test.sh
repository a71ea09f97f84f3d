#!/usr/bin/env bash
# The test command: lint, unit and integration tests, then the smoke benchmark
# profile (every code path of `pytest bench`, small images) on every installed
# Keras backend, and a report of the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest -p no:cacheprovider tests
echo "== fault injection (3 seeded trials; results/fault-injection/ holds a 24-trial run)"
.venv/bin/python scripts/fault_injection.py --trials 3 --seed "${FAULT_SEED:-11}"
out=$(mktemp -d)
for backend in tensorflow jax torch; do
  if .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$backend') is None)"; then
    echo "== smoke profile, KERAS_BACKEND=$backend"
    KERAS_BACKEND=$backend .venv/bin/python -m pytest -p no:cacheprovider bench --profile smoke \
      --benchmark-json "$out/smoke-$backend.json"
  else
    echo "== smoke profile, KERAS_BACKEND=$backend: skipped ($backend is not installed)"
  fi
done
.venv/bin/resnet-bench report "$out"/smoke-*.json --out "$out/report"

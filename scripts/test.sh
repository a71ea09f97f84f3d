#!/usr/bin/env bash
# The test command: lint, unit and integration tests, a few fault-injection trials, the
# GPU script's dry run, then the smoke benchmark profile (every code path of `pytest
# bench`, small images) on every installed Keras backend, and a report of the runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
start=$(date +%s)
step() { echo "== $1 ($(( $(date +%s) - start )) s so far)"; }
.venv/bin/ruff check .
.venv/bin/ruff format --check .
step "tests"
# Two processes: the tests spend much of their time waiting on worker processes and exports.
.venv/bin/python -m pytest -p no:cacheprovider -n 2 tests --durations=15
step "fault injection (2 seeded trials; results/fault-injection/ holds a 20-trial run)"
.venv/bin/python scripts/fault_injection.py --trials 2 --seed "${FAULT_SEED:-11}"
step "fault injection of the writing commands (3 seeded trials; results/fault-injection/writers/ holds 21)"
.venv/bin/python scripts/fault_injection.py --writers --trials 3 --seed "${FAULT_SEED:-11}"
step "GPU script, dry run in an environment like the GPU machine's"
bash scripts/gpu-dry-run.sh
out=$(mktemp -d)
for backend in tensorflow jax torch; do
  if .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$backend') is None)"; then
    step "smoke profile, KERAS_BACKEND=$backend"
    # Windows and paired groups are the engine's, the same on every backend: the TensorFlow
    # run covers them; the others run one window per case (their LoadGen case included).
    extra=()
    [ "$backend" = tensorflow ] || extra=(--repeat 1 --paired off)
    KERAS_BACKEND=$backend .venv/bin/python -m pytest -p no:cacheprovider bench --profile smoke "${extra[@]}" \
      --benchmark-json "$out/smoke-$backend.json"
  else
    step "smoke profile, KERAS_BACKEND=$backend: skipped ($backend is not installed)"
  fi
done
.venv/bin/resnet-bench report "$out"/smoke-*.json --out "$out/report"
if [ -f "$out/smoke-tensorflow.json" ]; then
  step "the smoke run has the shape it had before the engine moved (tests/data/smoke-shape.json)"
  RESNET_BENCH_SMOKE_JSON="$out/smoke-tensorflow.json" .venv/bin/python -m pytest -p no:cacheprovider -q \
    tests/test_structure.py -k shape
fi
step "done"

#!/usr/bin/env bash
# The test command: lint, unit and integration tests, a few fault-injection trials, the
# GPU script's dry run, then the smoke benchmark profile (every code path of `pytest
# bench`, small images) on every installed Keras backend, and a report of the runs.
# CI's budget is 30 minutes for all of .ci/run on a 2-core machine: what can run side by
# side (downloads beside work, two small smoke runs) does.
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
# The GPU script's dry run is mostly package downloads: it runs beside the fault injection and
# the TensorFlow smoke run, its output shown when it ends.
out=$(mktemp -d)
step "GPU script, dry run in an environment like the GPU machine's (in the background)"
bash scripts/gpu-dry-run.sh > "$out/gpu-dry-run.log" 2>&1 &
gpu_pid=$!
step "fault injection (1 seeded trial; results/fault-injection/ holds a 20-trial run)"
.venv/bin/python scripts/fault_injection.py --trials 1 --seed "${FAULT_SEED:-11}"
step "fault injection of the writing commands (2 seeded trials; results/fault-injection/writers/ holds 21)"
.venv/bin/python scripts/fault_injection.py --writers --trials 2 --seed "${FAULT_SEED:-11}"
installed() { .venv/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$1') is None)"; }
# Windows and paired groups are the engine's, the same on every backend: the TensorFlow run
# covers them; the others run one window per case (their LoadGen case included), side by side
# (each is mostly process starts and compilation; their figures are not compared).
if installed tensorflow; then
  step "smoke profile, KERAS_BACKEND=tensorflow"
  KERAS_BACKEND=tensorflow .venv/bin/python -m pytest -p no:cacheprovider bench --bench-profile smoke \
    --benchmark-json "$out/smoke-tensorflow.json"
else
  step "smoke profile, KERAS_BACKEND=tensorflow: skipped (tensorflow is not installed)"
fi
step "GPU script, dry run: waiting for it"
if wait "$gpu_pid"; then cat "$out/gpu-dry-run.log"; else cat "$out/gpu-dry-run.log"; echo "GPU dry run failed"; exit 1; fi
pids=()
names=()
for backend in jax torch; do
  if installed "$backend"; then
    step "smoke profile, KERAS_BACKEND=$backend (beside the other backend's)"
    KERAS_BACKEND=$backend .venv/bin/python -m pytest -p no:cacheprovider bench --bench-profile smoke --repeat 1 \
      --paired off --benchmark-json "$out/smoke-$backend.json" > "$out/smoke-$backend.log" 2>&1 &
    pids+=($!)
    names+=("$backend")
  else
    step "smoke profile, KERAS_BACKEND=$backend: skipped ($backend is not installed)"
  fi
done
failed=()
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || failed+=("${names[$i]}")
  echo "-- smoke profile, KERAS_BACKEND=${names[$i]}:"
  cat "$out/smoke-${names[$i]}.log"
done
if [ "${#failed[@]}" -gt 0 ]; then echo "smoke profile failed on: ${failed[*]}"; exit 1; fi
.venv/bin/resnet-bench report "$out"/smoke-*.json --out "$out/report"
if [ -f "$out/smoke-tensorflow.json" ]; then
  step "the smoke run has the shape it had before the engine moved (tests/data/smoke-shape.json)"
  RESNET_BENCH_SMOKE_JSON="$out/smoke-tensorflow.json" .venv/bin/python -m pytest -p no:cacheprovider -q \
    tests/test_structure.py -k shape
fi
step "done"

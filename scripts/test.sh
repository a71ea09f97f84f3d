#!/usr/bin/env bash
# The test command: lint, unit and integration tests, then the smoke benchmark
# profile (every code path of `pytest bench`, small images) with its report.
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest -p no:cacheprovider tests
out=$(mktemp -d)
.venv/bin/python -m pytest -p no:cacheprovider bench --profile smoke --benchmark-json "$out/smoke.json"

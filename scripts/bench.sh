#!/usr/bin/env bash
# The main job: set up, run the benchmark (quick profile unless arguments say
# otherwise) into results/<machine>-<date>.json, then write its report.
#   bash scripts/bench.sh                      # quick profile, 23-24 min on 2 cores
#   bash scripts/bench.sh --profile smoke      # any `pytest bench` options
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
bash scripts/setup.sh
slug=$(.venv/bin/python -c "from resnet.engine.machine import machine_slug; print(machine_slug())")
# Date and time in the name: a second run the same day never overwrites the first.
name="results/${slug}-$(date +%Y-%m-%d-%H%M)"
mkdir -p results
start=$(date +%s)
status=0
.venv/bin/python -m pytest -p no:cacheprovider bench --benchmark-json "$name.json" "$@" || status=$?
echo "benchmark run took $(( $(date +%s) - start )) s; results in $name.json"
.venv/bin/resnet-bench report "$name.json" --out "$name-report"
exit $status

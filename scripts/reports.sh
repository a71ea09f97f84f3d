#!/usr/bin/env bash
# Rebuild every report, compare, dashboard and machine table that the results' NOTES.md
# files name (their front matter), and the index results/README.md, from the raw runs
# committed in results/. Only the pages and figures the notes link are committed (.gitignore).
#   bash scripts/reports.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2 MPLBACKEND=Agg
.venv/bin/python scripts/reports.py results

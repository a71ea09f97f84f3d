#!/usr/bin/env bash
# Rebuild every report, machines table and dashboard that README.md and results/README.md
# link, from the raw runs committed in results/ (JSON and journals). Only the pages and
# figures those documents link are committed (see .gitignore); the rest is rebuilt here.
#   bash scripts/reports.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rb=".venv/bin/resnet-bench"
r=results
out=$r/reports
xeon=$r/intel-xeon-x2-2026-11-26
epyc=$r/amd-epyc-x2-2026-11-28
today=$r/intel-xeon-x2-no-bf16-2026-11-28  # the Intel Xeon of 2026-11-28: no AMX or AVX-512 BF16 exposed
next=$r/intel-xeon-x2-no-bf16-2026-11-29   # the same CPU model, 2026-11-29: quick runs A and B back to back
new=$r/intel-xeon-x2-no-bf16-2026-11-29-new-quick  # later that day: training paired at 25 s, one window for paired cases
width=$r/intel-xeon-x2-no-bf16-2026-11-29-paired-width  # then with --paired-width 3 (the quick profile since), twice

# compare between two quick runs of one machine (exit 1 means a regression: still a report).
gate() { $rb compare "$1" "$2" --fail-on images_per_sec:-5% --fail-on images_per_sec_best:-5% > "$3" || [ $? -eq 1 ]; }
gate "$today/quick-a.json" "$today/quick-b.json" "$today/compare-quick-a-b.txt"
gate "$next/quick-a.json" "$next/quick-b.json" "$next/compare-quick-a-b.txt"
gate "$new/quick-a.json" "$new/quick-b.json" "$new/compare-quick-a-b.txt"
gate "$width/quick-a.json" "$width/quick-b.json" "$width/compare-quick-a-b.txt"

$rb report "$xeon.json" "$xeon-goals.json" --out "$out/intel-xeon-x2-2026-11-26" \
  --title "ResNet-50 on an Intel Xeon (2 cores), quick profile, 2026-11-26"
$rb report "$epyc/amd-epyc-x2-2026-11-28-1610.json" --out "$out/amd-epyc-x2-2026-11-28" \
  --title "ResNet-50 on an AMD EPYC (2 cores), quick profile, 2026-11-28"
$rb report "$xeon-peer-tensorflow.json" "$xeon-peer-jax.json" "$xeon-peer-torch.json" \
  --out "$out/intel-xeon-x2-2026-11-26-peer" --title "Our v1.5 on three backends against torchvision's resnet50"
$rb report "$xeon-scaling.json" --out "$out/intel-xeon-x2-2026-11-26-scaling" \
  --title "Data-parallel scaling, TensorFlow MirroredStrategy (logical CPU devices)"
$rb report "$xeon-scaling-jax.json" --out "$out/intel-xeon-x2-2026-11-26-scaling-jax" \
  --title "Data-parallel scaling, JAX DataParallel (host devices)"
# The quick profile with intervals (windows, paired groups), two runs back to back.
$rb report "$today/quick-a.json" --out "$out/intel-xeon-x2-no-bf16-2026-11-28-quick-a" \
  --title "ResNet-50 on an Intel Xeon without BF16 (2 cores), quick profile with intervals, run A"
$rb report "$today/quick-b.json" --out "$out/intel-xeon-x2-no-bf16-2026-11-28-quick-b" \
  --title "ResNet-50 on an Intel Xeon without BF16 (2 cores), quick profile with intervals, run B"
$rb report "$next/quick-a.json" --out "$out/intel-xeon-x2-no-bf16-2026-11-29-quick-a" \
  --title "ResNet-50 on an Intel Xeon without BF16 (2 cores), quick profile, 2026-11-29, run A"
$rb report "$next/quick-b.json" --out "$out/intel-xeon-x2-no-bf16-2026-11-29-quick-b" \
  --title "ResNet-50 on an Intel Xeon without BF16 (2 cores), quick profile, 2026-11-29, run B"
$rb report "$width/quick-a.json" --out "$out/intel-xeon-x2-no-bf16-2026-11-29-paired-width-a" \
  --title "ResNet-50 on an Intel Xeon without BF16 (2 cores), quick profile with --paired-width, run A"
$rb report "$width/quick-b.json" --out "$out/intel-xeon-x2-no-bf16-2026-11-29-paired-width-b" \
  --title "ResNet-50 on an Intel Xeon without BF16 (2 cores), quick profile with --paired-width, run B"
$rb report "$today/loadgen.json" --out "$out/intel-xeon-x2-no-bf16-2026-11-28-loadgen" \
  --title "MLPerf LoadGen scenarios on an Intel Xeon (2 cores): LoadGen scenarios, not MLPerf submissions"
$rb report "$today/runtimes.json" "$today/peer-torchvision.json" --out "$out/intel-xeon-x2-no-bf16-2026-11-28-runtimes" \
  --title "Keras, ONNX Runtime and OpenVINO against torchvision eager, Intel Xeon (2 cores)"
$rb report "$today/pipelines.json" --out "$out/intel-xeon-x2-no-bf16-2026-11-28-pipelines" \
  --title "Input pipelines and training from JPEG files, Intel Xeon (2 cores)"
# The cross-machine table: the quick profile on three CPU configurations.
$rb machines "$xeon.json" "$epyc/amd-epyc-x2-2026-11-28-1610.json" "$today/quick-a.json" "$today/loadgen.json" "$today/runtimes.json" \
  "$today/pipelines.json" --reference "Intel Xeon x2" --out $r/machines
# Two cores against one of the same Intel Xeon (taskset -c 0).
$rb machines $r/threads-x1-x2/intel-xeon-x1.json $r/threads-x1-x2/intel-xeon-x2.json \
  --reference "Intel Xeon x1" --out $r/threads-x1-x2/machines
for h in history-cpu history-cpu-reruns history-cpu-short; do
  $rb dashboard $r/$h --out $r/$h/dashboard
done
$rb dashboard "$today/history" --out "$today/history/dashboard" --fail-on images_per_sec_best:-5%

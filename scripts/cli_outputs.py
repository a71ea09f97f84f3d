"""Every command's output on the committed runs, written to one folder, so a change that
must not alter behaviour can be checked byte for byte against the code before it:

    .venv/bin/python scripts/cli_outputs.py OUT        # OUT must not exist
    git stash; .venv/bin/python scripts/cli_outputs.py /tmp/before; git stash pop
    .venv/bin/python scripts/cli_outputs.py /tmp/after; diff -r /tmp/before /tmp/after

It copies results/ into OUT/results and rebuilds there what every NOTES.md names (reports,
compares, dashboards, machine tables) and the index, as scripts/reports.py does; then runs
each other command (history, export, store, the --db readers, make-data, options, versions,
machine, and bad input of each kind) in its own process from OUT, keeping its exit code,
standard output and standard error in OUT/commands/NN-name.txt. Paths are relative to OUT,
so two snapshots taken at one OUT path compare byte for byte; the store's 'added' times
and make-data's timings are the only values masked.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
Z5 = "results/amd-epyc-zen-5-x2-avx-512-bf16"
ER = "results/intel-xeon-emerald-rapids-x2-no-bf16"
AMX = "results/intel-xeon-x2-amx"
QUICK_A, QUICK_B = f"{ER}/2026-11-29-quick/quick-a.json", f"{ER}/2026-11-29-quick/quick-b.json"
JOURNAL = f"{ER}/2026-11-29-quick/quick-a.journal.jsonl"
HISTORY = f"{AMX}/2026-11-26-history"
Z5_QUICK, Z5_RUNTIMES = f"{Z5}/2026-12-02-quick/quick.json", f"{Z5}/2026-12-02-runtimes/runtimes.json"
AMX_SLUG = "intel-xeon-x2-amx"
DB = "sqlite:///store/runs.sqlite"

#: (name, arguments of resnet-bench). Inputs are the committed runs (copied into OUT/results).
# fmt: off
COMMANDS: list[tuple[str, list[str]]] = [
    ("versions", ["versions"]),
    ("options", ["options"]),
    ("options-out", ["options", "--out", "out/options.md"]),
    ("machine-write", ["machine", "--write", "out/machines", "--name", "Test machine"]),
    ("machine-write-again", ["machine", "--write", "out/machines", "--name", "Test machine"]),
    ("report-journal", ["report", JOURNAL, Z5_RUNTIMES, "--out", "out/rep"]),
    ("report-label", ["report", QUICK_A, "--label", "Some label", "--title", "T", "--out", "out/rep2"]),
    ("report-missing", ["report", QUICK_A, "no-such.json", "--out", "out/rep3"]),
    ("report-no-input", ["report", "--out", "out/rep4"]),
    ("compare", ["compare", QUICK_A, QUICK_B, "--out", "out/cmp.csv", "--markdown", "out/cmp.md"]),
    ("compare-gated", ["compare", QUICK_A, QUICK_B, "--fail-on", "images_per_sec:-1%"]),
    ("compare-machines", ["compare", QUICK_A, f"{Z5}/2026-12-02-quick/quick.json"]),
    (
        "compare-allowed",
        ["compare", QUICK_A, f"{Z5}/2026-12-02-quick/quick.json", "--allow-machine-mismatch"],
    ),
    ("compare-bad-threshold", ["compare", QUICK_A, QUICK_B, "--fail-on", "speed:-5"]),
    (
        "machines",
        [
            "machines",
            QUICK_A,
            f"{Z5}/2026-12-02-quick/quick.json",
            f"{Z5}/2026-12-02-runtimes/runtimes.json",
            "--reference",
            "AMD EPYC Zen 5 x2 (AVX-512 BF16)",
            "--out",
            "out/mach",
        ],
    ),
    ("machines-bad-reference", ["machines", QUICK_A, "--reference", "nope", "--out", "out/mach2"]),
    (
        "history",
        [
            "history",
            HISTORY,
            "--metric",
            "images_per_sec_best",
            "--out",
            "out/hist.csv",
            "--markdown",
            "out/hist.md",
        ],
    ),
    ("history-gate", ["history", HISTORY, "--fail-on-new", "images_per_sec_best:-5%"]),
    ("history-bad-metric", ["history", HISTORY, "--metric", "nope"]),
    ("history-not-a-folder", ["history", "no-such-folder"]),
    ("dashboard", ["dashboard", HISTORY, "--out", "out/dash", "--commit-url", "https://x.org/c/{commit}"]),
    ("dashboard-bad-url", ["dashboard", HISTORY, "--out", "out/dash2", "--commit-url", "x"]),
    *[
        (f"export-{fmt}", ["export", QUICK_A, "--format", fmt])
        for fmt in ("bmf", "github-action-benchmark", "github-action-benchmark-smaller", "csv", "openmetrics")
    ],
    ("export-out", ["export", QUICK_A, "--format", "csv", "--out", "out/export.csv"]),
    ("export-out-again", ["export", QUICK_B, "--format", "csv", "--out", "out/export.csv"]),
    ("export-not-ours", ["export", QUICK_A, "--format", "bmf", "--out", "out/export.csv"]),
    ("index", ["index", "results", "--out", "out/index.md"]),
    ("index-not-a-folder", ["index", "nope"]),
    ("make-data", ["make-data", "out/data", "--images", "6", "--shards", "2"]),
    ("make-data-bad", ["make-data", "out/data2", "--images", "0"]),
    ("store-add", ["store", "add", "--db", DB, f"{ER}/2026-11-29-quick", HISTORY, f"{Z5}/2026-12-02-quick"]),
    ("store-add-again", ["store", "add", "--db", DB, HISTORY]),
    ("store-list", ["store", "list", "--db", DB]),
    ("store-list-json", ["store", "list", "--db", DB, "--json"]),
    ("store-list-machine", ["store", "list", "--db", DB, "--machine", "intel-xeon-x2-amx", "--last", "2"]),
    ("report-db", ["report", "--db", DB, "--machine", "intel-xeon-x2-amx", "--out", "out/rep-db"]),
    ("compare-db", ["compare", "--db", DB, "--machine", "intel-xeon-x2-amx", "latest~1", "latest"]),
    ("compare-db-bad-ref", ["compare", "--db", DB, "zzz", "latest"]),
    (
        "history-db",
        ["history", "--db", DB, "--metric", "images_per_sec_best", "--machine", "intel-xeon-x2-amx"],
    ),
    ("dashboard-db", ["dashboard", "--db", DB, "--out", "out/dash-db"]),
    ("export-db", ["export", "--db", DB, "--last", "1", "--format", "bmf"]),
    ("machines-db", ["machines", "--db", DB, "--out", "out/mach-db"]),
    ("store-remove", ["store", "remove", "--db", DB, "latest"]),
    ("store-missing", ["store", "list", "--db", "sqlite:///store/none.sqlite"]),
    ("store-bad-url", ["report", "--db", "mysql://x/y", "--out", "out/rep5"]),
    ("bad-jobs", ["versions"]),
]
# fmt: on
#: Environment changes of some commands.
ENV = {"bad-jobs": {"RESNET_BENCH_JOBS": "0"}}
#: SVG files written the same way every time: matplotlib's date from SOURCE_DATE_EPOCH, its
#: clip-path ids from a fixed salt (a matplotlibrc in OUT/mpl).
STEADY = {"SOURCE_DATE_EPOCH": "0", "MATPLOTLIBRC": "mpl"}
MASKS = [
    (re.compile(r'"added": "[^"]*"'), '"added": "(masked)"'),
    (re.compile(r"\d+ images in out/data: .*"), "(make-data's figures masked)"),
    (re.compile(r"^[IWE]\d{4} .*\n", re.M), ""),  # TensorFlow's log lines (times, process ids)
]


def run(out: Path, n: int, name: str, argv: list[str]) -> None:
    env = {**os.environ, **STEADY, "COLUMNS": "200", **ENV.get(name, {})}
    env.pop("RESNET_BENCH_DB", None)
    proc = subprocess.run(
        [sys.executable, "-m", "resnet.cli", *argv], cwd=out, env=env, capture_output=True, text=True
    )
    text = f"$ resnet-bench {' '.join(argv)}\nexit {proc.returncode}\n--- stdout\n{proc.stdout}--- stderr\n"
    text += proc.stderr
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    (out / "commands" / f"{n:02d}-{name}.txt").write_text(text)
    print(f"[{n}/{len(COMMANDS)}] {name}: exit {proc.returncode}", flush=True)


def _mask_manifests(out: Path) -> None:
    """The output manifests without their time of writing, and the TFRecord shards that
    make-data writes (TensorFlow's bytes differ from run to run) left out."""
    shutil.rmtree(out / "out" / "data" / "tfrecord", ignore_errors=True)
    for path in out.rglob(".resnet-bench-manifest.json"):
        data = json.loads(path.read_text())
        data["written"] = "(masked)"
        for key in ("files", "sha256"):
            if isinstance(data.get(key), dict):
                data[key] = {k: v for k, v in data[key].items() if not k.startswith("tfrecord/")}
        path.write_text(json.dumps(data, indent=1, sort_keys=True))


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: cli_outputs.py OUT (a folder that does not exist yet)", file=sys.stderr)
        return 2
    out = Path(sys.argv[1]).absolute()
    if out.exists():
        print(f"{out}: exists; give a new folder", file=sys.stderr)
        return 2
    shutil.copytree(ROOT / "results", out / "results")
    for folder in ("commands", "out", "store", "mpl"):
        (out / folder).mkdir()
    (out / "mpl" / "matplotlibrc").write_text("svg.hashsalt: cli-outputs\n")
    os.chdir(out)
    os.environ.update(STEADY)
    spec = importlib.util.spec_from_file_location("reports", ROOT / "scripts" / "reports.py")
    reports = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reports)  # scripts/reports.py: builds what every NOTES.md names
    build = reports.build
    from resnet.analysis.index import run_folders, write_index

    problems = [p for folder in run_folders(Path("results")) for p in build(folder)]
    write_index(Path("results"))
    for n, (name, argv) in enumerate(COMMANDS, 1):
        run(out, n, name, argv)
    _mask_manifests(out)
    (out / "commands" / "00-builds.json").write_text(json.dumps(problems))
    print(f"written: {out} ({len(problems)} build(s) failed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Rebuild everything the results' NOTES.md files say is built from their runs: reports,
compares, dashboards and machine tables (the front matter of each NOTES.md; see
resnet/analysis/index.py), then the index, results/README.md.

    .venv/bin/python scripts/reports.py [results]       (scripts/reports.sh runs it)
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

from resnet.analysis.index import read_notes, run_folders, write_index
from resnet.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]


def build(folder: Path) -> list[str]:
    """Build what one folder's notes name; returns the problems (empty: all built)."""
    problems = []
    for item in read_notes(folder).builds:
        inputs = [str(folder / f) for f in item.inputs]
        out = str(folder / item.output)
        if item.kind == "report":
            argv = ["report", *inputs, "--out", out, "--title", item.extra or folder.name]
        elif item.kind == "machines":
            argv = ["machines", *inputs, "--out", out, *(["--reference", item.extra] if item.extra else [])]
        elif item.kind == "dashboard":
            argv = ["dashboard", str(folder / item.inputs[0]), "--out", out]
        else:  # compare BASE NEW, its output kept as text
            argv = [
                "compare",
                *inputs,
                "--fail-on",
                "images_per_sec:-5%",
                "--fail-on",
                "images_per_sec_best:-5%",
            ]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = cli(argv)
        if item.kind == "compare":
            (folder / item.output).write_text(printed.getvalue())
            ok = code in (0, 1)  # 1: a regression, still a compare
        else:
            ok = code == 0
        print(
            f"{'built' if ok else 'FAILED'} {folder}/{item.output} (exit {code})",
            flush=True,
        )
        if not ok:
            problems.append(f"{folder}/{item.output}: exit {code}")
    return problems


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "results"
    problems = [p for folder in run_folders(root) for p in build(folder)]
    print(f"index: {write_index(root)}")
    for problem in problems:
        print(f"failed: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

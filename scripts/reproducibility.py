"""How well two back-to-back runs of one machine agree, cell by cell, as a user reads them:

    .venv/bin/python scripts/reproducibility.py A.json B.json [--out FILE.md] [--rederive]

For every headline cell (each case's images/s as the throughput table shows it: a paired
group's figure where one stepped the model, else the case's own; resnet.analysis.tables.
headline_cells) it prints run A's figure, its 95% interval and where a rerun is expected to
land, run B's figure, whether B lies inside each of A's intervals, and the difference. The
summary: the share of cells each interval covers, the median and largest absolute difference
(all cells, and by source; and of each cell's best step, the figure `compare` gates on), and the
machine-speed probe's range over each run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import pandas as pd

from resnet.analysis.pages import markdown_table
from resnet.analysis.tables import headline_cells
from resnet.runs import load


def probe_range(df: pd.DataFrame) -> str:
    """The lowest and highest machine-speed reading of a run (GFLOP/s), per probe dtype."""
    readings: dict[str, list[float]] = {}
    dtypes = df["machine_speed_dtype"] if "machine_speed_dtype" in df else [None] * len(df)
    for series, dtype in zip(df["machine_speed_series"], dtypes, strict=True):
        if isinstance(series, list):
            readings.setdefault(dtype if isinstance(dtype, str) else "float32", []).extend(
                p[1] for p in series
            )
    parts = [
        f"{d} {min(v):.0f}-{max(v):.0f} GFLOP/s ({max(v) / min(v):.1f}x)" for d, v in sorted(readings.items())
    ]
    return "; ".join(parts) or "no readings"


def compare(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The cell-by-cell table and the summary lines."""
    ha, hb = (headline_cells(x).set_index("case_id") for x in (a, b))
    table = ha.loc[ha.index.intersection(hb.index)].drop(columns=["machine", "run"])
    table["b"] = hb.loc[table.index, "images_per_sec"]
    table["diff_pct"] = 100 * (table["b"] / table["images_per_sec"] - 1)
    table["in_ci"] = (table["b"] >= table["ci_low"]) & (table["b"] <= table["ci_high"])
    if "rerun_low" in table:
        table["in_rerun"] = (table["b"] >= table["rerun_low"]) & (table["b"] <= table["rerun_high"])
    lines = [
        f"cells: {len(table)} ({', '.join(f'{n} {s}' for s, n in table['source'].value_counts().items())})"
    ]
    for name, column in (("95% interval of the figure", "in_ci"), ("rerun interval", "in_rerun")):
        if column in table:
            inside = table[column]
            lines.append(
                f"B inside A's {name}: {int(inside.sum())} of {len(table)} ({100 * inside.mean():.0f}%)"
            )
    diffs = table["diff_pct"].abs()
    lines.append(f"|difference|: median {diffs.median():.1f}%, largest {diffs.max():.1f}%")
    for source, group in table.groupby("source"):
        lines.append(f"|difference| of {source} cells: median {group['diff_pct'].abs().median():.1f}%")
    if "best" in ha and "best" in hb:
        # The fastest step behind each figure (what `compare` gates on): on a machine that is
        # only ever slowed, the least disturbed step moves least between runs.
        both = pd.DataFrame({"a": ha["best"], "b": hb["best"]}).reindex(table.index).dropna()
        if not both.empty:
            moved = (100 * (both["b"] / both["a"] - 1)).abs()
            sources = table.loc[moved.index, "source"]
            by_source = ", ".join(f"{s} {group.median():.1f}%" for s, group in moved.groupby(sources))
            lines.append(
                f"|difference| of the same {len(both)} cells' best step: median {moved.median():.1f}%, "
                f"largest {moved.max():.1f}% (median by source: {by_source})"
            )
    if "adjusted" in ha and "adjusted" in hb:
        both = pd.DataFrame({"a": ha["adjusted"], "b": hb["adjusted"]}).dropna()
        if not both.empty:
            moved = (100 * (both["b"] / both["a"] - 1)).abs()
            lines.append(
                f"|difference| of the same {len(both)} cells at the run's median machine speed: median "
                f"{moved.median():.1f}%, largest {moved.max():.1f}%"
            )
    lines.append(f"machine-speed probe: A {probe_range(a)}; B {probe_range(b)}")
    return table, lines


def rederived(path: str, folder: str) -> str:
    """A copy of the run at ``path`` (in ``folder``) with its run-end fields derived again by
    this checkout's code (resnet.engine.finish: the rerun spread, the widened intervals) from
    the rows as measured, in both places the sweep writes them; returns the copy's path."""
    from resnet.engine.finish import RUN_FIELDS, finished_rows

    with open(path) as f:
        data = json.load(f)
    cases = data["resnet_bench"]["cases"] = finished_rows(data["resnet_bench"]["cases"])
    by_id = {row["case_id"]: row for row in cases}
    for bench in data.get("benchmarks") or []:
        extra = bench.get("extra_info") or {}
        if extra.get("case_id") in by_id:
            extra.update({k: by_id[extra["case_id"]][k] for k in RUN_FIELDS if k in by_id[extra["case_id"]]})
    out = os.path.join(folder, os.path.basename(path))
    with open(out, "w") as f:
        json.dump(data, f)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--out", default=None, help="also write the summary and table as Markdown")
    parser.add_argument(
        "--rederive",
        action="store_true",
        help="derive each run's run-end fields again with this checkout's code before comparing",
    )
    args = parser.parse_args()
    if args.rederive and os.path.basename(args.a) == os.path.basename(args.b):
        parser.error("--rederive needs runs with different file names")
    with tempfile.TemporaryDirectory() as folder:
        a, b = (rederived(p, folder) if args.rederive else p for p in (args.a, args.b))
        table, lines = compare(load(a), load(b))
    shown = table.round(2).sort_index()
    with pd.option_context("display.width", 220, "display.max_rows", 500, "display.max_columns", 20):
        print(shown.to_string())
    for line in lines:
        print(line)
    if args.out:
        with open(args.out, "w") as f:
            f.write("".join(f"- {line}\n" for line in lines) + "\n" + markdown_table(shown) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A static HTML dashboard over a directory of runs: a time series per case, the
regressions between consecutive runs marked, latest against previous summarised."""

from __future__ import annotations

import html
import itertools
from pathlib import Path

import pandas as pd

from resnet.compare import Threshold, compare
from resnet.report import embed_figure
from resnet.results import LoadError, load


def find_runs(directory: str | Path) -> list[Path]:
    """Every results file under ``directory``: JSON files (including pytest-benchmark's
    ``--benchmark-autosave`` layout, ``.benchmarks/<machine>/NNNN_*.json``) and journals
    whose run left no JSON."""
    root = Path(directory)
    files = sorted(root.rglob("*.json"))
    have = {f.with_suffix("").name for f in files}
    journals = [
        j for j in sorted(root.rglob("*.journal.jsonl")) if j.name[: -len(".journal.jsonl")] not in have
    ]
    return [*files, *journals]


def history(directory: str | Path, errors: list[LoadError]) -> pd.DataFrame:
    """All cases of all runs, one run per source file, ordered by date."""
    df = load(find_runs(directory), errors=errors)
    if df.empty:
        return df
    df = df[df["kind"] == "case"].copy()
    df["run"] = df["datetime"].fillna("") + " " + df["source"].map(lambda s: Path(s).name)
    return df.sort_values("run")


def regressions(df: pd.DataFrame, threshold: Threshold) -> pd.DataFrame:
    """Each run against the one before it on the same machine: the regressed cases."""
    found = []
    for machine, group in df.groupby("machine"):
        runs = list(dict.fromkeys(group["run"]))
        for prev, cur in itertools.pairwise(runs):
            table = compare(group[group["run"] == prev], group[group["run"] == cur], [threshold])
            if table.empty:
                continue
            table = table[table["verdict"] == "regression"].assign(machine=machine, run=cur, previous=prev)
            found.append(table)
    return pd.concat(found) if found else pd.DataFrame(columns=["machine", "run", "case_id"])


def write_dashboard(directory: str | Path, out: str | Path, threshold: Threshold) -> tuple[Path, int, list]:
    """Write ``index.html`` (self-contained) to ``out``; returns it, the regression count and errors."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    errors: list[LoadError] = []
    df = history(directory, errors)
    if df.empty:
        raise LoadError(directory, "no readable runs in this directory")
    regs = regressions(df, threshold)
    metric = threshold.metric if threshold.metric in df.columns else "images_per_sec"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = list(dict.fromkeys(df["run"]))
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>resnet-bench dashboard</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px}.regression{background:#fdd}</style></head><body>",
        "<h1>resnet-bench dashboard</h1>",
        f"<p>{len(runs)} runs, {df['case_id'].nunique()} cases, machines: "
        f"{html.escape(', '.join(sorted(map(str, df['machine'].unique()))))}. "
        f"Regression: {html.escape(threshold.metric)} changed by more than {threshold.limit:+g}% "
        "against the previous run and outside the runs' spread.</p>",
    ]
    # Latest against previous, per machine.
    summary = []
    for machine, group in df.groupby("machine"):
        mruns = list(dict.fromkeys(group["run"]))
        latest = group[group["run"] == mruns[-1]].set_index("case_id")
        prev = group[group["run"] == mruns[-2]].set_index("case_id") if len(mruns) > 1 else None
        for case_id, row in latest.iterrows():
            before = prev[metric].get(case_id) if prev is not None else None
            flagged = (
                (regs["machine"] == machine) & (regs["run"] == mruns[-1]) & (regs["case_id"] == case_id)
            ).any()
            summary.append(
                {
                    "machine": machine,
                    "case": case_id,
                    f"previous {metric}": None
                    if before is None or pd.isna(before)
                    else round(float(before), 2),
                    f"latest {metric}": row["status"]
                    if row["status"] != "ok"
                    else round(float(row[metric]), 2),
                    "regression": "REGRESSION" if flagged else "",
                }
            )
    parts.append("<h2>Latest run against the previous one</h2>")
    parts.append(pd.DataFrame(summary).to_html(index=False, escape=True))
    if not regs.empty:
        parts.append("<h2>Regressions</h2>")
        cols = ["machine", "run", "previous", "case_id", "base", "new", "change_pct", "noise_pct"]
        parts.append(regs[cols].to_html(index=False, escape=True, classes="regression"))
    parts.append("<h2>History per case</h2>")
    for (machine, case_id), group in df.groupby(["machine", "case_id"]):
        ok = group[group["status"] == "ok"]
        fig, ax = plt.subplots(figsize=(6.5, 2.6))
        x = [runs.index(r) for r in ok["run"]]
        ax.plot(x, ok["images_per_sec"], marker="o", label="images/s (median step)")
        if "images_per_sec_best" in ok and ok["images_per_sec_best"].notna().any():
            ax.plot(x, ok["images_per_sec_best"], marker=".", linestyle="--", label="images/s (best step)")
        bad = regs[(regs["machine"] == machine) & (regs["case_id"] == case_id)]
        for i, r in enumerate(dict.fromkeys(bad["run"])):
            y = ok[ok["run"] == r][metric]
            ax.plot(
                [runs.index(r)], y, "rx", markersize=12, markeredgewidth=3, label=None if i else "regression"
            )
        ax.legend(fontsize=7)
        ax.set_xticks(range(len(runs)), [str(i + 1) for i in range(len(runs))])
        ax.set_xlabel("run (oldest first)")
        ax.set_ylabel("images per second")
        ax.set_title(f"{case_id} | {machine}", fontsize=9)
        ax.grid(True, alpha=0.3)
        fig.tight_layout()
        data = embed_figure(fig, dpi=90)
        parts.append(f"<img alt='{html.escape(case_id)}' src='data:image/png;base64,{data}'>")
    parts.append("<h2>Runs</h2><ol>")
    for run in runs:
        commit = df[df["run"] == run]["commit"].dropna()
        sha = f" (commit {html.escape(str(commit.iloc[0])[:10])})" if not commit.empty else ""
        parts.append(f"<li>{html.escape(run)}{sha}</li>")
    parts.append("</ol></body></html>")
    path = out / "index.html"
    path.write_text("\n".join(parts))
    return path, len(regs), errors

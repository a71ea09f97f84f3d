"""A static HTML dashboard over a directory of runs: a time series per case, the
regressions between consecutive runs marked, latest against previous summarised."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from resnet.analysis.compare import Threshold, compare_consecutive
from resnet.analysis.pages import table_data, write_page
from resnet.errors import InputError
from resnet.outputs import staged_folder


def regressions(df: pd.DataFrame, threshold: Threshold) -> pd.DataFrame:
    """Each run against the one before it on the same machine: the regressed cases."""
    found = []
    for machine, group in df.groupby("machine"):
        parts = dict(list(group.groupby("run", sort=False)))
        names = list(parts)
        for i, table in enumerate(compare_consecutive(list(parts.values()), [threshold])):
            if table is None or table.empty:  # the first run; a peak probe after a quick run
                continue
            table = table[table["verdict"] == "regression"]
            found.append(table.assign(machine=machine, run=names[i], previous=names[i - 1]))
    return pd.concat(found) if found else pd.DataFrame(columns=["machine", "run", "case_id"])


def _change_summary(changes: pd.DataFrame) -> pd.DataFrame:
    """Change points newest first, one line per run and direction, with the cases it touched."""
    if changes.empty:
        return changes
    out = []
    for (run, commit, status), group in changes.groupby(["run", "commit", "status"], sort=False):
        out.append(
            {
                "run": run,
                "commit": commit,
                "status": status,
                "cases": ", ".join(f"{r['case_id']} ({r['change_pct']:+.1f}%)" for _, r in group.iterrows()),
                "median change %": round(float(group["change_pct"].median()), 1),
            }
        )
    return pd.DataFrame(out).sort_values("run", ascending=False)


#: The regressions table's columns as the page names them.
LABELS = {
    "run": "run",
    "previous": "previous run",
    "case_id": "case",
    "base": "before",
    "new": "after",
    "change_pct": "change %",
    "interval_pct": "interval %",
    "rule": "rule",
}


def write_dashboard(
    df: pd.DataFrame,
    out: str | Path,
    threshold: Threshold,
    inputs: list[str] | None = None,
    commit_url: str | None = None,
) -> tuple[Path, int]:
    """Write ``index.html`` (self-contained, interactive, offline) to ``out`` over a history
    frame (:func:`resnet.runs.as_history`: of a folder's runs or a store's); returns the page
    and the regression count. ``inputs``: what it was read from (never replaced by it).
    ``commit_url``: a template with ``{commit}``, making each commit a link."""
    from resnet.analysis.explorer import explorer_data, explorer_js, page_json, plotly_js

    regs = regressions(df, threshold)
    metric = threshold.metric if threshold.metric in df.columns else "images_per_sec"
    from resnet.analysis.history import change_points

    changes, found = change_points(df, metric, threshold.limit)
    notes = [f"Too short for change points: {x}." for x in found["too_short"][:5]]
    notes += [f"Outlier run, not a change: {x}." for x in found["outliers"]]
    runs = list(dict.fromkeys(df["run"]))
    # Latest against previous, per machine.
    summary, flags = [], []
    for machine, group in df.groupby("machine"):
        mruns = list(dict.fromkeys(group["run"]))
        latest = group[group["run"] == mruns[-1]].set_index("case_id")
        prev = group[group["run"] == mruns[-2]].set_index("case_id") if len(mruns) > 1 else None
        for case_id, row in latest.iterrows():
            before = prev[metric].get(case_id) if prev is not None else None
            flagged = (
                (regs["machine"] == machine) & (regs["run"] == mruns[-1]) & (regs["case_id"] == case_id)
            ).any()
            if flagged:
                flags.append(len(summary))
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
    run_list = []
    for run in runs:
        commit = df[df["run"] == run]["commit"].dropna()
        run_list.append({"name": run, "commit": str(commit.iloc[0])[:10] if not commit.empty else None})
    reg_cols = ["machine", "run", "previous", "case_id", "base", "new", "change_pct", "interval_pct", "rule"]
    target = Path(out)
    with staged_folder(target, "dashboard", inputs or []) as tmp:
        write_page(
            tmp / "index.html",
            "dashboard.html",
            title="resnet-bench dashboard",
            runs=run_list,
            case_count=df["case_id"].nunique(),
            machines=", ".join(sorted(map(str, df["machine"].unique()))),
            metric=threshold.metric,
            limit=f"{threshold.limit:+g}%",
            notes=notes,
            changes=table_data(_change_summary(changes)),
            summary=table_data(pd.DataFrame(summary)),
            summary_flags=flags,
            regressions=table_data(
                regs[reg_cols].rename(columns=LABELS) if not regs.empty else pd.DataFrame()
            ),
            commit_url=commit_url,
            data_json=page_json(explorer_data(df, changes, regs, commit_url, metric)),
            plotly_js=plotly_js().replace("</script", "<\\/script"),
            explorer_js=explorer_js().replace("</script", "<\\/script"),
        )
    return target / "index.html", len(regs)


def check_commit_url(template: str | None) -> str | None:
    """``--commit-url``, checked: an http(s) URL with ``{commit}`` in it (None: no links)."""
    if template is None:
        return None
    if "{commit}" not in template or not template.startswith(("https://", "http://")):
        raise InputError(
            f"--commit-url {template!r}: give an http(s) URL with {{commit}} in it, "
            "e.g. https://github.com/OWNER/REPO/commit/{commit}"
        )
    return template

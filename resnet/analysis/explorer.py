"""The dashboard's interactive history: every case's series as compact JSON for the page's
script (``templates/explorer.js``) and Plotly, inlined, so the page works offline.

Plotly (plotly.js, bundled by the ``plotly`` package) was chosen over Bokeh for the whole tool:
one self-contained bundle inlined as it is, charts built in the browser from our own JSON (no
Python-side figure per case, so a thousand runs cost data, not figures), hover, zoom, legend
toggles and error bars built in. Every label, id and commit from a file goes into the page as
JSON data read with ``JSON.parse`` and is put into the page as text, never as markup.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from resnet.schema import FIELDS, finite

#: The figures a reader can switch between, with their interval columns where they have one.
EXPLORER_METRICS: dict[str, tuple[str | None, str | None]] = {
    "images_per_sec": ("images_per_sec_ci_low", "images_per_sec_ci_high"),
    "images_per_sec_best": (None, None),
    "latency_ms_p50": ("latency_ms_p50_ci_low", "latency_ms_p50_ci_high"),
    "latency_ms_p90": (None, None),
    "latency_ms_p99": (None, None),
    "peak_host_rss_mb": (None, None),
    "peak_device_mem_mb": (None, None),
    "utilization": (None, None),
    "joules_per_image": (None, None),
    # paired, cross-process and A/B ratios (rows of kind paired and ab), over runs
    "ratio": ("ratio_ci_low", "ratio_ci_high"),
}
#: Rows whose figure is a ratio measured side by side, shown as series of their own.
RATIO_KINDS = ("paired", "ab")
#: The axes a reader can filter on (those with more than one value in the runs are shown).
FILTER_AXES = (
    "machine",
    "backend",
    "version",
    "mode",
    "batch_size",
    "precision",
    "device",
    "runtime",
    "scenario",
)
#: Flags of a point, as the page shows them.
FLAGS = ("drifted", "unstable")


def _num(value: Any) -> float | None:
    """A figure rounded to 5 significant digits (None when empty): the page's size is its data."""
    number = finite(value)
    return None if number is None else float(f"{number:.5g}")


def _text(value: Any) -> str | None:
    """A value as the page shows it (a whole number read back as a float shows as one)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def group_of(row: pd.Series) -> str:
    """The chart a case goes on: what it shares with the cases it is set beside (every
    version, runtime and machine of one mode, batch, precision and device)."""
    parts = [row.get("mode"), f"bs{_text(row.get('batch_size'))}", row.get("precision"), row.get("device")]
    if row.get("kind") in RATIO_KINDS:  # ratios on charts of their own, by what they compare
        parts = [f"{row.get('comparison')} ratios", row.get("mode"), f"bs{_text(row.get('batch_size'))}",
                 row.get("device")]  # fmt: skip
    if isinstance(row.get("scenario"), str):
        parts.append(f"lg-{row['scenario']}")
    return "-".join(str(p) for p in parts if p is not None)


def explorer_data(
    df: pd.DataFrame,
    changes: pd.DataFrame,
    regressions: pd.DataFrame,
    commit_url: str | None,
    metric: str | None = None,
) -> dict[str, Any]:
    """The page's data: runs (date, commit, machine speed), series (one per machine, backend
    and case: the runs it has, each metric's values and intervals, steps, flags), the filter
    axes, and the change points and regressions to draw.  ``metric``: the one the change
    points and regressions were found on; the page opens on it and draws the marks only on it."""
    measured = df[df["kind"] == "case"]
    ratios = df[df["kind"].isin(RATIO_KINDS)] if "ratio" in df else df.iloc[0:0]
    ratios = ratios[pd.to_numeric(ratios["ratio"], errors="coerce").notna()] if not ratios.empty else ratios
    cases = pd.concat([measured, ratios]) if not ratios.empty else measured
    run_names = list(dict.fromkeys(cases["run"]))
    run_index = {name: i for i, name in enumerate(run_names)}
    speeds = (
        pd.to_numeric(measured["machine_speed_gflops"], errors="coerce")
        .groupby(measured["run"], sort=False)
        .median()
        if "machine_speed_gflops" in measured
        else pd.Series(dtype=float)
    )
    firsts = cases.groupby("run", sort=False)[["datetime", "commit", "machine"]].first()
    runs = [
        {
            "name": _text(name),
            "date": _text(firsts.at[name, "datetime"]),
            "commit": _text(firsts.at[name, "commit"]),
            "machine": _text(firsts.at[name, "machine"]),
            "speed": _num(speeds.get(name)),
        }
        for name in run_names
    ]
    metrics = [
        m for m in EXPLORER_METRICS if m in cases and pd.to_numeric(cases[m], errors="coerce").notna().any()
    ]
    series, where = [], {}
    for (machine, backend, case_id), group in cases.groupby(["machine", "backend", "case_id"], sort=True):
        group = group.sort_values("run", kind="stable")
        first = group.iloc[0]
        entry: dict[str, Any] = {
            "machine": _text(machine),
            "backend": _text(backend),
            "case": _text(case_id),
            "group": group_of(first),
            "axes": {a: _text(first.get(a)) for a in FILTER_AXES if a not in ("machine", "backend")},
            "runs": [run_index[r] for r in group["run"]],
            "status": [_text(s) for s in group["status"]],
            "n": [None if pd.isna(v) else int(v) for v in group["rounds"]] if "rounds" in group else [],
            "flags": _flags(group),
            "values": {},
            "low": {},
            "high": {},
        }
        for name in metrics:
            low, high = EXPLORER_METRICS[name]
            entry["values"][name] = [_num(v) for v in group[name]]
            if low and low in group and group[low].notna().any():
                entry["low"][name] = [_num(v) for v in group[low]]
                entry["high"][name] = [_num(v) for v in group[high]]
        where[(machine, case_id)] = len(series)
        series.append(entry)
    return {
        "runs": runs,
        "series": series,
        "metrics": [
            {"name": m, "unit": FIELDS[m].unit, "better": FIELDS[m].better, "doc": FIELDS[m].doc}
            for m in metrics
        ],
        "axes": _axes(series),
        "metric": metric if metric in metrics else (metrics[0] if metrics else None),
        "marks_metric": metric,
        "changes": _marks(changes, where, run_index, status=True),
        "regressions": _marks(regressions, where, run_index, status=False),
        "commit_url": commit_url,
    }


def _flags(group: pd.DataFrame) -> list[str]:
    """Each point's flags (``drifted,unstable``), as the page shows them."""
    columns = [[v is True for v in group[f]] if f in group else [False] * len(group) for f in FLAGS]
    return [",".join(f for f, on in zip(FLAGS, row, strict=True) if on) for row in zip(*columns, strict=True)]


def _axes(series: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for axis in FILTER_AXES:
        if axis in ("machine", "backend"):
            values = [s[axis] for s in series]
        else:
            values = [s["axes"].get(axis) for s in series]
        known = sorted({v for v in values if v is not None}, key=_natural)
        out[axis] = known
    return out


def _natural(text: str) -> tuple:
    return (0, float(text), "") if text.replace(".", "", 1).isdigit() else (1, 0.0, text)


def _marks(table: pd.DataFrame, where: dict, run_index: dict, status: bool) -> list[dict[str, Any]]:
    """Change points or regressions as (series, run) marks, newest first."""
    out = []
    if table is None or table.empty:
        return out
    for _, row in table.iterrows():
        key = (row.get("machine"), row.get("case_id"))
        if key not in where or row.get("run") not in run_index:
            continue
        mark = {"series": where[key], "run": run_index[row["run"]], "change_pct": _num(row.get("change_pct"))}
        if status:
            mark["status"] = _text(row.get("status"))
        out.append(mark)
    return sorted(out, key=lambda m: -m["run"])


def page_json(data: dict[str, Any]) -> str:
    """``data`` as JSON safe inside a ``<script type="application/json">`` element: no ``<``,
    ``>`` or ``&`` in it (a label cannot close the element or start markup)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def plotly_js() -> str:
    """plotly.js, as the plotly package bundles it, to inline into the page."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def explorer_js() -> str:
    """The page's own script (templates/explorer.js)."""
    return (Path(__file__).parent / "templates" / "explorer.js").read_text(encoding="utf-8")

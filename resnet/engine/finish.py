"""What a run can say only when it has ended, from all its rows: each row's machine speed
relative to the run's and whether it drifted (as the loader derives them, so the raw JSON
says it too), where a rerun of each case is expected to land, and each case's figure at the
run's median machine speed. The sweep writes these into its JSON; the journal keeps the rows
as they were measured."""

from __future__ import annotations

import math
import statistics
from typing import Any

from resnet.stats import (
    DRIFT_LIMIT,
    machine_speeds,
    pooled_half_width,
    rerun_half_width,
    window_variance,
)

#: Row fields the sweep fills when it ends, from every row of the run.
RUN_FIELDS = (
    "machine_speed_rel", "drifted", "rerun_spread_pct", "images_per_sec_rerun_low",
    "images_per_sec_rerun_high", "images_per_sec_speed_adjusted", "ci_widened", "images_per_sec_ci_low",
    "images_per_sec_ci_high", "latency_ms_p50_ci_low", "latency_ms_p50_ci_high",
)  # fmt: skip


def finished_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's rows with what only the whole run can say (copies; the journal keeps the
    rows as measured): each row's machine speed over the run's median reading for its device,
    threads and probe dtype, and whether it drifted past DRIFT_LIMIT (as the loader derives
    them); for each case, how far a rerun may land (95%, from the run's window-to-window
    spread pooled over its cases with Student's t, where it has MIN_DF degrees of freedom) and its figure at
    the run's median machine speed (the median of its windows' figures, each over its own
    probe readings). A case measured in windows gets a 95% interval at least as wide as the
    pooled spread gives for its number of windows (:func:`widen_interval`)."""
    out = [dict(row) for row in rows]
    series = [r.get("machine_speed_series") or None for r in rows]
    groups = [
        (r.get("device"), r.get("threads") or 0, r.get("machine_speed_dtype") or "float32") for r in out
    ]
    for row, rel in zip(out, machine_speeds(series, groups), strict=True):
        if rel is not None:
            row.update(machine_speed_rel=rel, drifted=abs(rel - 1) > DRIFT_LIMIT)
    cases = [r for r in out if r.get("kind") == "case" and r.get("status") == "ok" and r.get("samples_s")]
    variance, df = window_variance([r["samples_s"] for r in cases])
    windows: dict[str, list[float]] = {}  # each window's images/s at the run's median speed
    for row in out:
        if row.get("kind") == "window" and row.get("machine_speed_rel") and row.get("images_per_sec"):
            windows.setdefault(row["case_id"].split("@w")[0], []).append(
                row["images_per_sec"] / row["machine_speed_rel"]
            )
    for row in cases:
        if row["case_id"] in windows:
            row["images_per_sec_speed_adjusted"] = statistics.median(windows[row["case_id"]])
        elif row.get("machine_speed_rel") and row.get("images_per_sec"):
            row["images_per_sec_speed_adjusted"] = row["images_per_sec"] / row["machine_speed_rel"]
        half = rerun_half_width(variance, df, len(row["samples_s"]))
        if half is not None and row.get("images_per_sec"):
            row.update(
                rerun_spread_pct=100 * math.expm1(half),
                images_per_sec_rerun_low=row["images_per_sec"] * math.exp(-half),
                images_per_sec_rerun_high=row["images_per_sec"] * math.exp(half),
            )
        widen_interval(row, variance, df)
    return out


def widen_interval(row: dict[str, Any], variance: float, df: int) -> None:
    """Widen a windowed case's 95% interval of its figure (images/s and median latency) to at
    least the run's pooled window-to-window spread over its windows (Student's t with the
    pool's df): a case's own two or three windows may happen to agree while the machine moves
    more than that from window to window (its bootstrap interval then narrower than the
    machine allows). ``ci_widened`` says whether it did; cases of one window, and runs too
    short to pool (< MIN_DF), are left as measured."""
    windows = len(row.get("samples_s") or [])
    half = pooled_half_width(variance, df, windows) if windows >= 2 else None
    if half is None or not row.get("images_per_sec"):
        return
    low, high = row["images_per_sec"] * math.exp(-half), row["images_per_sec"] * math.exp(half)
    ci_low, ci_high = row.get("images_per_sec_ci_low"), row.get("images_per_sec_ci_high")
    row["ci_widened"] = ci_low is None or ci_high is None or low < ci_low or high > ci_high
    if not row["ci_widened"]:
        return
    p50 = row.get("latency_ms_p50")
    bounds = [("images_per_sec_ci_low", low, min), ("images_per_sec_ci_high", high, max)]
    if p50:
        bounds += [
            ("latency_ms_p50_ci_low", p50 * math.exp(-half), min),
            ("latency_ms_p50_ci_high", p50 * math.exp(half), max),
        ]
    for name, value, pick in bounds:
        row[name] = value if row.get(name) is None else pick(value, row[name])


def closing_line(rows: list[dict[str, Any]]) -> str | None:
    """What the run's end changed, for the progress (whose lines showed each interval as
    measured): the run's window-to-window spread, how many windowed cases' intervals it
    widened, and how far a rerun may land for each window count; None where the run has too
    few windows to pool (< MIN_DF df). ``rows``: :func:`finished_rows`'s."""
    cases = [r for r in rows if r.get("kind") == "case" and r.get("status") == "ok" and r.get("samples_s")]
    variance, df = window_variance([r["samples_s"] for r in cases])
    counts = sorted({len(r["samples_s"]) for r in cases}, reverse=True)
    reruns = [(n, rerun_half_width(variance, df, n)) for n in counts]
    if not cases or any(half is None for _, half in reruns):
        return None
    windowed = [r for r in cases if len(r["samples_s"]) >= 2]
    widened = sum(bool(r.get("ci_widened")) for r in windowed)
    each = ", ".join(f"+-{100 * math.expm1(half):.1f}% with {n} window{'s' * (n > 1)}" for n, half in reruns)
    return (
        f"run's end: windows moved by {100 * math.expm1(math.sqrt(variance)):.1f}% (1 sd, pooled, {df} df); "
        f"{widened} of {len(windowed)} windowed cases' intervals widened to it (in the JSON, not the "
        f"lines above); a rerun may land within {each} (95%)"
    )

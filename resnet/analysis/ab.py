"""Reading an A/B run (rows of kind ``ab``, resnet.engine.kinds.ab): each case's B over A
with its interval, the run-wide B over A with its interval, and the gate: a threshold on
images/s (``-5%``: B may be at most 5% slower) that a case or the run-wide figure crosses
with an interval that excludes no change is a regression, as ``compare`` rules.

What ``pytest bench --ab ... --fail-on`` prints at the end of its run and what
``resnet-bench ab RUN`` prints of a saved one."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from resnet.analysis.compare import CompareError, Threshold, parse_threshold
from resnet.analysis.pages import markdown_cell, markdown_table
from resnet.analysis.summary import append
from resnet.stats import LEVEL

#: The metric an A/B run measures (B's images/s over A's).
AB_METRIC = "images_per_sec"
#: The z of a 95% interval, to read a case's standard error off its interval.
_Z = 1.959964


def parse_ab_threshold(text: str) -> Threshold:
    """``-5%`` or ``images_per_sec:-5%``: how much slower B may be than A."""
    raw = str(text).strip()
    if ":" not in raw:
        raw = f"{AB_METRIC}:{raw}"
    threshold = parse_threshold(raw)
    if threshold.metric != AB_METRIC:
        raise CompareError(
            f"--fail-on {text!r}: an A/B run measures images_per_sec (B over A); write -N% "
            "or images_per_sec:-N%"
        )
    return threshold


def ab_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The A/B rows of a frame (every status)."""
    if "kind" not in df:
        return df.iloc[0:0]
    return df[df["kind"] == "ab"]


def _pct(ratio: float) -> float:
    return 100 * (ratio - 1)


def case_table(df: pd.DataFrame, threshold: Threshold | None = None) -> pd.DataFrame:
    """One line per A/B case: A's and B's images/s, B/A with its interval, rounds, verdict
    (a case that did not finish: its status and reason)."""
    out = []
    for _, row in ab_rows(df).iterrows():
        entry = {
            "case_id": row["case_id"],
            "A images/s": _round(row.get("denominator_images_per_sec")),
            "B images/s": _round(row.get("numerator_images_per_sec")),
        }
        if row["status"] != "ok" or not _finite(row.get("ratio")):
            entry.update(change_pct=math.nan, interval_pct="", rounds=row.get("pairs"))
            entry["verdict"] = f"{row['status']}: {row.get('reason') or 'no ratio'}"
            out.append(entry)
            continue
        low, high = row.get("ratio_ci_low"), row.get("ratio_ci_high")
        real = _finite(low) and _finite(high) and (low > 1 or high < 1)
        change = _pct(float(row["ratio"]))
        entry.update(
            change_pct=round(change, 2),
            interval_pct=f"[{_pct(low):+.2f}, {_pct(high):+.2f}]" if _finite(low) else "[n/a]",
            rounds=int(row.get("pairs") or 0),
            verdict=threshold.verdict(change, real)
            if threshold
            else ("differs" if real else "no difference"),
        )
        out.append(entry)
    return pd.DataFrame(out)


def run_wide(df: pd.DataFrame, threshold: Threshold | None = None) -> dict | None:
    """The run's B over A over its finished cases: the geometric mean of their ratios, with
    its 95% interval.  The cases are the run's own (not a sample of cases), and each case's
    ratio carries its own sampling error, independent of the others' (the machine's state
    cancels within each round): the mean's standard error is the root of the sum of their
    squared standard errors (read off their intervals) over their number."""
    rows = ab_rows(df)
    rows = rows[(rows["status"] == "ok") & rows["ratio"].map(_finite)] if not rows.empty else rows
    if rows.empty:
        return None
    logs = np.log(rows["ratio"].astype(float).to_numpy())
    if len(rows) == 1:
        ratio, low, high = (float(rows.iloc[0][k]) for k in ("ratio", "ratio_ci_low", "ratio_ci_high"))
    else:
        lows = np.log(rows["ratio_ci_low"].astype(float).to_numpy())
        highs = np.log(rows["ratio_ci_high"].astype(float).to_numpy())
        se = math.sqrt(float(np.sum(((highs - lows) / (2 * _Z)) ** 2))) / len(rows)
        centre = float(np.mean(logs))
        ratio, low, high = math.exp(centre), math.exp(centre - _Z * se), math.exp(centre + _Z * se)
    real = math.isfinite(low) and math.isfinite(high) and (low > 1 or high < 1)
    change = _pct(ratio)
    return {
        "cases": len(rows),
        "ratio": ratio,
        "low": low,
        "high": high,
        "change_pct": change,
        "verdict": threshold.verdict(change, real) if threshold else ("differs" if real else "no difference"),
    }


def wide_line(wide: dict) -> str:
    """``run-wide B/A over 6 cases: 0.962 [0.951, 0.973] (-3.80%): regression``."""
    interval = f"[{wide['low']:.3f}, {wide['high']:.3f}]" if math.isfinite(wide["low"]) else "[n/a]"
    return (
        f"run-wide B/A images/s over {wide['cases']} case{'s' * (wide['cases'] != 1)}: {wide['ratio']:.3f} "
        f"{interval} ({wide['change_pct']:+.2f}%, {LEVEL:.0%} interval): "
        + ("REGRESSION" if wide["verdict"] == "regression" else wide["verdict"])
    )


def failed(table: pd.DataFrame, wide: dict | None) -> bool:
    """The gate's verdict: a case or the run-wide figure regressed."""
    return bool(
        (not table.empty and (table["verdict"] == "regression").any())
        or (wide and wide["verdict"] == "regression")
    )


def stacks_line(df: pd.DataFrame) -> list[str]:
    """What stacks A and B were (from the rows)."""
    rows = ab_rows(df)
    out = []
    for label, column in (("A", "stack_a"), ("B", "stack_b")):
        values = rows[column].dropna().unique() if column in rows else []
        if len(values):
            out.append(f"stack {label}: {values[0]}")
    return out


def ab_markdown(table: pd.DataFrame, wide: dict | None, failed_: bool, stacks: list[str], source: str) -> str:
    """The job summary of an A/B run: the verdict, the run-wide line, the stacks, the cases."""
    verdict = "REGRESSION: the gate fails" if failed_ else "no regression: the gate passes"
    lines = [f"### resnet-bench A/B: {verdict}", "", f"`{markdown_cell(source)}`", ""]
    if wide:
        lines.append(f"- **{markdown_cell(wide_line(wide))}**")
    lines += [f"- {markdown_cell(s)}" for s in stacks]
    if not table.empty:
        lines += ["", markdown_table(table.set_index("case_id")), ""]
    return "\n".join(lines) + "\n"


def _finite(value: object) -> bool:
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _round(value: object) -> float:
    return round(float(value), 2) if _finite(value) else math.nan


__all__ = [
    "CompareError",
    "ab_markdown",
    "append",
    "case_table",
    "failed",
    "parse_ab_threshold",
    "run_wide",
    "wide_line",
]

"""Regression gate: pair the cases of two runs and flag the changes that cross a
threshold and stand outside the runs' own spread."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from resnet.schema import METRICS, TIMED

#: Cases pair by their id (which names every axis, replicas included) and backend.
KEY = ["case_id", "backend"]
DEFAULT_THRESHOLDS = ("images_per_sec_best:-5%", "peak_host_rss_mb:+10%", "peak_device_mem_mb:+10%")


class CompareError(ValueError):
    """Bad input to a comparison: one line naming the problem."""


@dataclass(frozen=True)
class Threshold:
    """``metric`` may change by ``limit`` percent in the bad direction at most."""

    metric: str
    limit: float  # signed percent: -5 means "fail below -5%", +10 "fail above +10%"

    def crossed(self, change_pct: float) -> bool:
        """Whether a change (percent) goes past the limit in its direction."""
        return change_pct < self.limit if self.limit < 0 else change_pct > self.limit


def parse_threshold(text: str) -> Threshold:
    """``images_per_sec:-5%`` -> Threshold; raises CompareError when malformed."""
    m = re.fullmatch(r"\s*([a-z0-9_]+)\s*:\s*([+-])\s*(\d+(?:\.\d+)?)\s*%?\s*", text)
    if not m:
        raise CompareError(
            f"--fail-on {text!r} is malformed; write METRIC:+N% or METRIC:-N%, e.g. images_per_sec:-5%"
        )
    metric, sign, value = m.groups()
    if metric not in METRICS:
        raise CompareError(f"--fail-on: unknown metric {metric!r}; valid: {', '.join(METRICS)}")
    limit = float(value) * (1 if sign == "+" else -1)
    higher = METRICS[metric] == "higher"
    if (limit > 0) == higher:
        raise CompareError(
            f"--fail-on {text!r}: {METRICS[metric]} {metric} is better, so its regression threshold "
            f"is {'-' if higher else '+'}N%"
        )
    return Threshold(metric, limit)


def _spread_pct(row: pd.Series) -> float:
    """The run's own relative spread of step times, in percent (IQR over median)."""
    median = row.get("step_median_s")
    iqr = row.get("step_iqr_s")
    if median is None or iqr is None or not median or pd.isna(median) or pd.isna(iqr):
        return 0.0
    return 100 * float(iqr) / float(median)


def compare(
    base: pd.DataFrame,
    new: pd.DataFrame,
    thresholds: list[Threshold],
    allow_machine_mismatch: bool = False,
) -> pd.DataFrame:
    """One row per paired case and threshold metric: base, new, change, noise, verdict."""
    base = base[base["kind"] == "case"]
    new = new[new["kind"] == "case"]
    bm, nm = set(base["machine"].dropna()), set(new["machine"].dropna())
    if bm != nm and not allow_machine_mismatch:
        raise CompareError(
            f"the runs are from different machines ({', '.join(sorted(bm))} vs {', '.join(sorted(nm))}); "
            "pass --allow-machine-mismatch to compare them anyway"
        )
    key = KEY if allow_machine_mismatch else ["machine", *KEY]

    def keyed(df: pd.DataFrame) -> pd.DataFrame:
        return df.drop_duplicates(key, keep="last").set_index(key, drop=False)

    b, n = keyed(base), keyed(new)
    common = b.index.intersection(n.index)
    if len(common) == 0:
        raise CompareError("the runs have no cases in common (same version, mode, batch, precision, device)")
    rows = []
    for idx in common:
        rb, rn = b.loc[idx], n.loc[idx]
        case_id = rn.get("case_id")
        if rb["status"] != "ok" or rn["status"] != "ok":
            verdict = "regression" if rb["status"] == "ok" else "ok"
            rows.append(
                {
                    "case_id": case_id,
                    "metric": "status",
                    "base": rb["status"],
                    "new": rn["status"],
                    "change_pct": math.nan,
                    "noise_pct": math.nan,
                    "threshold_pct": math.nan,
                    "verdict": verdict if rb["status"] != rn["status"] else "ok",
                }
            )
            continue
        for t in thresholds:
            vb, vn = rb.get(t.metric), rn.get(t.metric)
            if vb is None or vn is None or pd.isna(vb) or pd.isna(vn) or not vb:
                continue
            change = 100 * (float(vn) - float(vb)) / abs(float(vb))
            noise = math.hypot(_spread_pct(rb), _spread_pct(rn)) if t.metric in TIMED else 0.0
            if t.crossed(change):
                verdict = "regression" if abs(change) > noise else "within noise"
            elif (change > 0) == (METRICS[t.metric] == "higher") and abs(change) > max(noise, abs(t.limit)):
                verdict = "improvement"
            else:
                verdict = "ok"
            rows.append(
                {
                    "case_id": case_id,
                    "metric": t.metric,
                    "base": round(float(vb), 3),
                    "new": round(float(vn), 3),
                    "change_pct": round(change, 2),
                    "noise_pct": round(noise, 2),
                    "threshold_pct": t.limit,
                    "verdict": verdict,
                }
            )
    return pd.DataFrame(rows)

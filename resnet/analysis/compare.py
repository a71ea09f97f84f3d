"""Regression gate: pair the cases of two runs and flag the changes that cross a
threshold and stand outside the runs' own noise.

Where both runs kept their raw step times, "changed or within noise" is decided by a
95% interval of the ratio of the two runs' median steps, and a change is real when the
interval excludes 1.  Where both runs measured their cases in several windows (at least
MIN_DF degrees of freedom each), the interval is the run-to-run one: each run's
window-to-window variance, pooled over its cases, is what a rerun's median moves by
(Welch's t on the log scale; resnet.stats.run_ratio_interval), because one case's own two
windows cannot tell how much the machine drifts.  Otherwise it is the bootstrap interval
(windows, then steps, resampled in each run).  The threshold
of ``--fail-on`` is the size that matters: a regression is a real change beyond it.
Figures taken from the median step (images/s, p50 latency, utilization, TFLOP/s) are
tested this way; the best step and the tail percentiles, which a bootstrap describes
badly, and files without samples fall back to the older rule (the runs' step-time IQR
over median as the noise band), and the table says which rule each line used.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from resnet.errors import InputError
from resnet.runs import identity_conflicts
from resnet.schema import METRICS, TIMED, finite
from resnet.stats import (
    LEVEL,
    MIN_DF,
    ratio_of_medians_interval,
    run_ratio_interval,
    run_wide_change,
    seed_for,
    window_variance,
)

#: Metrics that follow the median step: a bootstrap of the median describes their noise.
MEDIAN_BASED = {"images_per_sec", "latency_ms_p50", "utilization", "achieved_tflops"}
BOOTSTRAP_RULE = f"bootstrap {LEVEL:.0%} interval of the ratio of median steps"
RUN_RULE = f"run-to-run {LEVEL:.0%} interval (window spread pooled over each run's cases)"
SAMPLE_RULES = (RUN_RULE, BOOTSTRAP_RULE)
BAND_RULE = "step-time IQR band"

#: Cases pair by their id (which names every axis, replicas included) and backend.
KEY = ["case_id", "backend"]
DEFAULT_THRESHOLDS = ("images_per_sec_best:-5%", "peak_host_rss_mb:+10%", "peak_device_mem_mb:+10%")


class CompareError(InputError):
    """Bad input to a comparison: one line naming the problem."""


@dataclass(frozen=True)
class Threshold:
    """``metric`` may change by ``limit`` percent in the bad direction at most."""

    metric: str
    limit: float  # signed percent: -5 means "fail below -5%", +10 "fail above +10%"

    def crossed(self, change_pct: float) -> bool:
        """Whether a change (percent) goes past the limit in its direction."""
        return change_pct < self.limit if self.limit < 0 else change_pct > self.limit

    def verdict(self, change_pct: float, real: bool) -> str:
        """regression (a real change past the limit), within noise (past it, not real),
        improvement (real and as large the good way), or ok."""
        if self.crossed(change_pct):
            return "regression" if real else "within noise"
        better = (change_pct > 0) == (METRICS[self.metric] == "higher")
        return "improvement" if better and real and abs(change_pct) > abs(self.limit) else "ok"


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


def _entry(
    case_id: str, metric: str, base: object, new: object, verdict: str, rule: str = "", **figures: float
) -> dict:
    row = {"case_id": case_id, "metric": metric, "base": base, "new": new}
    row.update({k: figures.get(k, math.nan) for k in ("change_pct", "interval_pct", "threshold_pct")})
    row["verdict"] = verdict
    row["rule"] = rule
    row["differs"] = figures.get("differs")
    return row


def agreement(table: pd.DataFrame) -> tuple[int, int]:
    """How many lines tested on their samples differ beyond their interval, of how many:
    for two runs of one unchanged machine, the share of cells that disagree."""
    sampled = table["rule"].astype(str).str.startswith(SAMPLE_RULES) if "rule" in table else None
    tested = table[sampled] if sampled is not None else table.iloc[0:0]
    return sum(bool(x) for x in tested["differs"]), len(tested)


def machine_speeds(base: pd.DataFrame, new: pd.DataFrame) -> tuple[float | None, float | None]:
    """Each run's machine speed: the median of its cases' drift-probe readings (GFLOP/s
    of the fixed matrix product), None for a run without them.  A change of about the
    probe's size in every case is the machine, not the code."""

    def speed(df: pd.DataFrame) -> float | None:
        if "machine_speed_gflops" not in df:
            return None
        values = pd.to_numeric(df.loc[df["kind"] == "case", "machine_speed_gflops"], errors="coerce").dropna()
        return float(values.median()) if len(values) else None

    return speed(base), speed(new)


def _samples(row: pd.Series | dict) -> list | None:
    return _samples_of(row.get("samples_s"))


def _samples_of(value: object) -> list | None:
    """A case's step samples (one list per window), or None where it kept none."""
    if isinstance(value, list) and value and all(isinstance(w, list) and w for w in value):
        return value
    return None


def run_window_variance(df: pd.DataFrame) -> tuple[float, int]:
    """A run's window-to-window variance of log median step, pooled over its cases that
    kept their windows' samples, with its degrees of freedom (stats.window_variance)."""
    rows = df[df["kind"] == "case"] if "kind" in df else df
    if "samples_s" not in rows:
        return window_variance([])
    cases = [s for s in map(_samples_of, rows["samples_s"]) if s is not None]
    return window_variance(cases)


def _sample_change(
    rb: pd.Series, rn: pd.Series, metric: str, spread: tuple | None, level: float = LEVEL
) -> tuple[float, float, float, str] | None:
    """The metric's change (percent) with its interval and rule, from the runs' step
    samples: the run-to-run interval where both runs' window spread is known (``spread``),
    else the bootstrap one; None where a run kept none."""
    sb, sn = _samples(rb), _samples(rn)
    if sb is None or sn is None or metric not in MEDIAN_BASED:
        return None
    if spread is not None:
        ratio, lo, hi = run_ratio_interval(sb, sn, *spread, level=level)  # new/base step
        rule = RUN_RULE
    else:
        ratio, lo, hi = ratio_of_medians_interval(sb, sn, level=level, seed=seed_for(str(rn["case_id"])))
        rule = BOOTSTRAP_RULE
    if METRICS[metric] == "higher":  # a figure per second: the inverse of the step's ratio
        ratio, lo, hi = 1 / ratio, 1 / hi, 1 / lo
    return 100 * (ratio - 1), 100 * (lo - 1), 100 * (hi - 1), rule


def compare(
    base: pd.DataFrame,
    new: pd.DataFrame,
    thresholds: list[Threshold],
    allow_machine_mismatch: bool = False,
    allow_missing: bool = False,
) -> pd.DataFrame:
    """One row per paired case and threshold metric: base, new, change, noise, verdict.

    A case of ``base`` that ``new`` lacks, a case that stopped finishing, and a gated
    metric that ``new`` did not measure (or measured as NaN) are regressions: a gate
    must not pass because a run measured less. ``allow_missing`` lets a deliberate
    subset pass (missing cases are listed as "missing (allowed)")."""
    key = KEY if allow_machine_mismatch else ["machine", *KEY]
    b, n = _side(base, key, thresholds), _side(new, key, thresholds)
    if b.machines != n.machines and not allow_machine_mismatch:
        raise CompareError(
            f"the runs are from different machines ({', '.join(sorted(b.machines))} vs "
            f"{', '.join(sorted(n.machines))}); pass --allow-machine-mismatch to compare them anyway"
        )
    if not allow_machine_mismatch:
        conflicts = identity_conflicts(pd.concat([base[base["kind"] == "case"], new[new["kind"] == "case"]]))
        if conflicts:
            raise CompareError(f"{conflicts[0]}; or pass --allow-machine-mismatch to compare them anyway")
    return _compare_sides(b, n, thresholds, allow_missing)


def compare_consecutive(runs: list[pd.DataFrame], thresholds: list[Threshold]) -> list[pd.DataFrame | None]:
    """Each run of one machine's history (oldest first) compared with the one before it, as
    :func:`compare` compares them (None for the first run and for a pair it refuses: other
    machines, no case in common).  Each run is read once, not twice, and the machine facts
    of the whole history are checked once: a thousand runs take seconds, not a minute."""
    if not runs:
        return []
    whole = pd.concat([r[r["kind"] == "case"] for r in runs])
    if identity_conflicts(whole):  # some pair is refused: find which, pair by pair
        out: list[pd.DataFrame | None] = [None]
        for prev, cur in itertools.pairwise(runs):
            try:
                out.append(compare(prev, cur, thresholds))
            except CompareError:
                out.append(None)
        return out
    from resnet.parallel import jobs, parallel_map, split

    # Pairs in contiguous slices, one per process: a slice reads the run before its first.
    pairs = list(range(1, len(runs)))
    slices = split(pairs, jobs()) if pairs else []
    work = [(runs[s[0] - 1 : s[-1] + 1], thresholds) for s in slices]
    tables = parallel_map(
        _consecutive, work, worth=len(runs) >= PARALLEL_RUNS, what="comparing consecutive runs"
    )
    return [None, *(t for part in tables for t in part)]


#: The fewest runs whose consecutive comparisons are worth spreading over processes.
PARALLEL_RUNS = 200


def _consecutive(work: tuple[list[pd.DataFrame], list[Threshold]]) -> list[pd.DataFrame | None]:
    """Each run of ``runs`` after the first compared with the one before it (see
    :func:`compare_consecutive`); a job of its own, so module-level."""
    runs, thresholds = work
    sides = [_side(r, ["machine", *KEY], thresholds) for r in runs]
    out: list[pd.DataFrame | None] = []
    for b, n in itertools.pairwise(sides):
        try:
            if b.machines != n.machines:
                raise CompareError("the runs are from different machines")
            out.append(_compare_sides(b, n, thresholds, False))
        except CompareError:
            out.append(None)
    return out


@dataclass
class _Side:
    """One run as a comparison reads it: its case rows (fields as plain dicts, by key, the
    last of a repeated key kept), its machines and its pooled window spread."""

    rows: dict
    machines: set
    spread: tuple[float, int]


def _side(df: pd.DataFrame, key: list[str], thresholds: list[Threshold]) -> _Side:
    df = df[df["kind"] == "case"]
    read = ["case_id", "status", "samples_s", "step_median_s", "step_iqr_s", *(t.metric for t in thresholds)]
    present = list(dict.fromkeys(c for c in [*key, *read] if c in df))
    columns = [df[c].tolist() for c in present]
    records = [dict(zip(present, row, strict=True)) for row in zip(*columns, strict=True)]
    rows: dict = {}
    for record in reversed(records):  # the last of a repeated case, in its place
        rows.setdefault(tuple(record.get(k) for k in key), record)
    rows = dict(reversed(rows.items()))
    return _Side(rows, set(df["machine"].dropna()), run_window_variance(df))


def _sorted(keys: list) -> list:
    try:
        return sorted(keys)
    except TypeError:  # a key holding None beside text: as they came
        return keys


def _compare_sides(b: _Side, n: _Side, thresholds: list[Threshold], allow_missing: bool) -> pd.DataFrame:
    brow, nrow = b.rows, n.rows
    spread = (b.spread, n.spread) if min(b.spread[1], n.spread[1]) >= MIN_DF else None
    common = [k for k in brow if k in nrow]
    if len(common) == 0:
        raise CompareError("the runs have no cases in common (same version, mode, batch, precision, device)")
    # A gate over N cells at 95% each would flag about one in twenty unchanged cells: each
    # cell's verdict uses the familywise (Bonferroni) level, so that an unchanged run passes
    # 95% of the time however many cells it has; ``differs`` keeps the per-cell 95% answer.
    tested = max(1, sum(1 for idx in common if brow[idx]["status"] == "ok" and nrow[idx]["status"] == "ok"))
    familywise = 1 - (1 - LEVEL) / tested
    rows = []
    for idx in _sorted([k for k in brow if k not in nrow]):
        rb = brow[idx]
        if rb["status"] == "ok":
            verdict = "missing (allowed)" if allow_missing else "regression"
            rows.append(_entry(rb["case_id"], "missing", "ok", "not in new run", verdict))
    for idx in common:
        rb, rn = brow[idx], nrow[idx]
        case_id = rn["case_id"]
        if rb["status"] != "ok" or rn["status"] != "ok":
            verdict = "regression" if rb["status"] == "ok" else "ok"
            rows.append(_entry(case_id, "status", rb["status"], rn["status"], verdict))
            continue
        sampled = _samples(rb) is not None and _samples(rn) is not None
        for t in thresholds:
            vb, vn = finite(rb.get(t.metric)), finite(rn.get(t.metric))
            if vb is None or not vb:
                continue  # not measured in the baseline: nothing to hold the new run to
            if vn is None:
                rows.append(_entry(case_id, t.metric, round(vb, 3), "not measured", "regression"))
                continue
            change = 100 * (vn - vb) / abs(vb)
            cell = _sample_change(rb, rn, t.metric, spread) if t.metric in TIMED else None
            family = _sample_change(rb, rn, t.metric, spread, familywise) if cell is not None else None
            if cell is not None and family is not None:
                differs = cell[1] > 0 or cell[2] < 0  # the per-cell 95% interval excludes zero
                _, lo, hi, rule = family
                real = lo > 0 or hi < 0
                rule = f"{rule}, familywise over {tested} cells"
                interval = f"[{lo:+.2f}, {hi:+.2f}]"
            else:
                noise = math.hypot(_spread_pct(rb), _spread_pct(rn)) if t.metric in TIMED else 0.0
                real = differs = abs(change) > noise
                why = "not a median" if sampled else "no samples"
                rule = f"{BAND_RULE} ({why})" if t.metric in TIMED else "exact"
                interval = f"+-{noise:.2f}"
            verdict = t.verdict(change, real)
            entry = _entry(case_id, t.metric, round(vb, 3), round(vn, 3), verdict, rule, differs=differs)
            entry.update(change_pct=round(change, 2), interval_pct=interval, threshold_pct=t.limit)
            rows.append(entry)
    return pd.DataFrame(rows)


RUN_WIDE_RULE = f"run-wide: geometric mean of the cells' ratios, {LEVEL:.0%} t interval over the cells"


def _cell_sd(rb: pd.Series, rn: pd.Series, metric: str, spread: tuple | None) -> float:
    """One cell's standard error of its log ratio: from its samples' interval where it has
    them, else from the runs' step-time IQR band; 0 for a figure that is not timed."""
    if metric not in TIMED:
        return 0.0
    tested = _sample_change(rb, rn, metric, spread)
    if tested is not None:
        _, lo, hi, _ = tested
        if lo > -100 and math.isfinite(hi):
            return (math.log1p(hi / 100) - math.log1p(lo / 100)) / (2 * 1.959964)
    return math.hypot(_spread_pct(rb), _spread_pct(rn)) / 100


def _probe_log_ratios(b: pd.DataFrame, n: pd.DataFrame) -> np.ndarray | None:
    """Each matched case's log(new / base) machine speed by its own drift-probe readings
    (taken around its windows); None unless every case of both runs has one."""
    pb = pd.to_numeric(b.get("machine_speed_gflops"), errors="coerce")
    pn = pd.to_numeric(n.get("machine_speed_gflops"), errors="coerce")
    if pb is None or pn is None or not ((pb > 0) & (pn > 0)).all():
        return None
    return np.log(pn.to_numpy(dtype=float) / pb.to_numpy(dtype=float))


def run_wide(
    base: pd.DataFrame, new: pd.DataFrame, thresholds: list[Threshold], allow_machine_mismatch: bool = False
) -> pd.DataFrame:
    """One line per gated metric over every cell both runs measured: the typical change
    (geometric mean of the cells' ratios) with its 95% interval, the machine's own speed
    change by the drift probe, and a verdict by the same rule as a cell's.  A figure that
    follows the machine's speed (images/s, latency, utilization) is taken less the probe's
    change where both runs have readings, so a machine that ran faster is named as such and
    not read as a software change; 24 of 24 cells moving 5% the same way while the probe
    stayed put is a real change even where each cell alone is within its noise."""
    base, new = base[base["kind"] == "case"], new[new["kind"] == "case"]
    key = KEY if allow_machine_mismatch else ["machine", *KEY]
    b = base[base["status"] == "ok"].drop_duplicates(key, keep="last").set_index(key, drop=False)
    n = new[new["status"] == "ok"].drop_duplicates(key, keep="last").set_index(key, drop=False)
    common = b.index.intersection(n.index)
    spreads = (run_window_variance(base), run_window_variance(new))
    spread = spreads if min(spreads[0][1], spreads[1][1]) >= MIN_DF else None
    rows = []
    for t in thresholds:
        if t.metric not in b or t.metric not in n:
            continue
        vb = pd.to_numeric(b.loc[common, t.metric], errors="coerce")
        vn = pd.to_numeric(n.loc[common, t.metric], errors="coerce")
        ok = ((vb > 0) & (vn > 0)).to_numpy()
        if ok.sum() < 2:
            continue
        logs = np.log(vn[ok].to_numpy(dtype=float) / vb[ok].to_numpy(dtype=float))
        probe = _probe_log_ratios(b.loc[common][ok], n.loc[common][ok]) if t.metric in TIMED else None
        sign = 1.0 if METRICS[t.metric] == "higher" else -1.0  # images/s up, latency down on a faster machine
        raw, _, _ = run_wide_change(logs.tolist())
        machine = (sign * probe).tolist() if probe is not None else None
        kept = [i for i, keep in zip(common, ok, strict=True) if keep]
        noise = [_cell_sd(b.loc[i], n.loc[i], t.metric, spread) for i in kept]
        ratio, low, high = run_wide_change(logs.tolist(), machine, noise)
        change, lo, hi = (100 * (x - 1) for x in (ratio, low, high))
        verdict = t.verdict(change, lo > 0 or hi < 0)
        rows.append(
            {
                "metric": t.metric,
                "cells": int(ok.sum()),
                "raw_change_pct": round(100 * (raw - 1), 2),
                "machine_change_pct": round(100 * math.expm1(float(np.mean(probe))), 2)
                if probe is not None
                else math.nan,
                "change_pct": round(change, 2),
                "interval_pct": f"[{lo:+.2f}, {hi:+.2f}]",
                "threshold_pct": t.limit,
                "verdict": verdict,
                "rule": RUN_WIDE_RULE + (" at no machine-speed change (probe)" if probe is not None else ""),
            }
        )
    return pd.DataFrame(rows)


#: A drift-probe change between two runs (percent) that compare points out.
MACHINE_MOVED_PCT = 5.0
#: How the CSV file of ``compare --out`` begins: an existing file is replaced only when its
#: first line does.
CSV_HEADER = "case_id,metric,base,new,"


def failed(table: pd.DataFrame, wide: pd.DataFrame) -> bool:
    """The gate's verdict: a cell or a run-wide line regressed."""
    return bool(
        (table["verdict"] == "regression").any()
        or (not wide.empty and (wide["verdict"] == "regression").any())
    )


def run_wide_line(line: pd.Series) -> str:
    """``run-wide images_per_sec over 24 cells: -5.00% [-5.00, -5.00]: REGRESSION``."""
    verdict = "REGRESSION" if line["verdict"] == "regression" else line["verdict"]
    machine = ""
    if not pd.isna(line["machine_change_pct"]):
        moved = line["machine_change_pct"]
        machine = f"; raw {line['raw_change_pct']:+.2f}%, while the machine itself moved {moved:+.2f}%"
    head = f"run-wide {line['metric']} over {line['cells']} cells: {line['change_pct']:+.2f}%"
    return f"{head} {line['interval_pct']}{machine}: {verdict}"


def notes(table: pd.DataFrame, base: pd.DataFrame, new: pd.DataFrame) -> list[str]:
    """What to read beside a comparison: how many tested cells differ beyond their interval,
    each run's window-to-window spread (what a rerun moves by), and the machine's own speed
    in each run, with a warning when it moved by MACHINE_MOVED_PCT or more."""
    from resnet.stats import relative_sd

    out: list[str] = []
    differ, tested = agreement(table)
    if tested:
        out.append(
            f"{differ} of {tested} comparisons tested on their step samples differ beyond their 95% interval "
            f"({100 * differ / tested:.0f}%)"
        )
    (vb, db), (vn, dn) = run_window_variance(base), run_window_variance(new)
    if db and dn:
        out.append(
            "window-to-window spread of a case's median step (1 sd, pooled over the cases; what a "
            f"rerun moves by): base {relative_sd(vb):.1f}% ({db} df), new {relative_sd(vn):.1f}% ({dn} df)"
        )
    speed_base, speed_new = machine_speeds(base, new)
    if speed_base and speed_new:
        moved = 100 * (speed_new / speed_base - 1)
        out.append(
            f"machine speed (drift probe, median over the cases): base {speed_base:.0f} GFLOP/s, "
            f"new {speed_new:.0f} ({moved:+.0f}%)"
        )
        if abs(moved) >= MACHINE_MOVED_PCT:
            out.append(
                f"note: the machine itself ran {abs(moved):.0f}% {'faster' if moved > 0 else 'slower'} in "
                "the new run; the intervals above hold for one machine state, so a change in a cell "
                "may be the machine's, not the model's (the run-wide line is read at no machine-speed "
                "change): rerun both on one quiet machine to tell"
            )
    return out

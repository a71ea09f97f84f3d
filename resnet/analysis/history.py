"""Change points over a history of runs: where a change began, how big it is, how sure.

Each case's history (per machine and backend, runs ordered by their time) goes through
E-Divisive with means, the change-point detection MongoDB uses (the method of "Change Point
Detection in Software Performance Testing", ICPE 2020, whose library is
``signal-processing-algorithms``): a permutation test decides whether splitting the series
somewhere makes its two parts differ more than chance would.  The statistic and the search
are written here in NumPy (the library pins numpy<2 and so cannot be installed beside
TensorFlow); the tests check the points are the library's own where it is installed.  On
top of it, the rules a CI needs:

- a change is confirmed once it persists: a change point that would cut off a single
  run in the middle of the history is that run being an outlier, and is listed as such;
- the newest run alone can still start a change: when it differs from its segment by more
  than the threshold and by more than 3 robust standard deviations of that segment, it
  is reported as a new change, unconfirmed (one run);
- each change records the run and commit where it began, the medians before and after
  (with 95% intervals from the runs' own step samples where they kept them, else over
  the runs' figures) and the p-value of the permutation test that found it (the test
  E-Divisive decided on).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from resnet.stats import median_interval

#: The fewest runs a history needs before change points mean anything.
MIN_RUNS = 5
PVALUE = 0.05
PERMUTATIONS = 200


def _distances(series: np.ndarray) -> np.ndarray:
    """The matrix of absolute differences between every two values of the series."""
    return np.abs(series[:, None] - series[None, :])


def _t_stats(distances: np.ndarray) -> np.ndarray:
    """E-Divisive's test statistic for every split ``tau`` of a series (first part
    ``[0, tau)``, second ``[tau, n)``), from its distance matrix: with ``x`` and ``y`` the
    sums of distances within each part (each pair once) and ``xy`` between them,
    ``tau*m/n * (2*xy/(tau*m) - 2*x/tau**2 - 2*y/m**2)``, 0 where a part is empty."""
    n = len(distances)
    upper = np.triu(distances, 1)
    # x(tau): pairs i < j < tau; before(tau): pairs i < tau, i < j (any j): x + xy.
    x = np.concatenate(([0.0], np.cumsum(upper.sum(axis=0))))[:n]
    before = np.concatenate(([0.0], np.cumsum(upper.sum(axis=1))))[:n]
    xy = before - x
    y = upper.sum() - before
    tau = np.arange(n, dtype=np.float64)
    m = n - tau
    with np.errstate(divide="ignore", invalid="ignore"):
        e = 2 * xy / (tau * m) - 2 * x / tau**2 - 2 * y / m**2
    return np.where(tau > 0, tau * m / n * e, 0.0)


def e_divisive(values: np.ndarray) -> list[int]:
    """The change points of a series by E-Divisive with means, as the library's
    ``e_divisive(values, PVALUE, PERMUTATIONS)`` finds them (its statistic, its search, the
    same draws from NumPy's global generator), with two savings: the permutation test that
    ends the search stops as soon as enough permutations beat the candidate that it cannot
    be significant, where the library runs all of them.  The decision is the one the full
    test makes, and it is the last test of the search, so the points are the library's; a
    series without a change (most of a long history) costs a fifth of the permutations on
    average; and each permutation's distances are computed, not gathered (see _next_point)."""
    return [point for point, _ in e_divisive_tested(values)]


def e_divisive_tested(values: np.ndarray) -> list[tuple[int, float]]:
    """:func:`e_divisive`'s points in the order found, each with the p-value of the
    permutation test that made it a change point (exceedances over permutations + 1)."""
    series = np.asarray(values, dtype=np.float64).ravel()
    if not len(series):
        raise ValueError("a change-point search needs at least one value")
    distances = _distances(series)
    found: list[tuple[int, float]] = []
    memo: dict[tuple[int, int], tuple[int, float]] = {}
    while tested := _next_point(series, distances, [p for p, _ in found], memo):
        if tested[0] == 0:  # the library's loop: a point at 0 ends it
            break
        found.append(tested)
    return found


def _next_point(
    series: np.ndarray,
    distances: np.ndarray,
    points: list[int],
    memo: dict[tuple[int, int], tuple[int, float]],
) -> tuple[int, float] | None:
    """The next significant change point within the segments the points bound, with its
    p-value, or None.
    A permutation's distance matrix is computed from the permuted series, which gives the
    library's gathered matrix exactly, in under half its time."""
    windows = list(itertools.pairwise([0, *sorted(points), len(distances)]))
    candidates = []
    for a, b in windows:
        if (a, b) not in memo:
            stats = _t_stats(distances[a:b, a:b])
            best = int(np.argmax(stats))
            memo[(a, b)] = (best + a, stats[best])
        candidates.append(memo[(a, b)])
    point, statistic = max(candidates, key=lambda c: c[1])
    better = 0
    for _ in range(PERMUTATIONS):
        top = -math.inf
        for a, b in windows:
            rows = np.arange(b - a) + a
            np.random.shuffle(rows)
            top = max(top, float(np.max(_t_stats(_distances(series[rows])))))
        if top >= statistic:
            better += 1
            if better / (PERMUTATIONS + 1) > PVALUE:  # the full test's rule, already decided
                return None
    return point, better / (PERMUTATIONS + 1)


@dataclass
class Change:
    """One change point of one case."""

    machine: str
    backend: str
    case_id: str
    metric: str
    index: int  # the first run after the change (0-based, in the case's history)
    run: str
    commit: str | None
    before: float
    after: float
    before_ci: tuple[float, float]
    after_ci: tuple[float, float]
    pvalue: float | None
    confirmed: bool
    runs_after: int

    @property
    def change_pct(self) -> float:
        return 100 * (self.after - self.before) / self.before

    def as_row(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "commit": (self.commit or "")[:10],
            "machine": self.machine,
            "backend": self.backend,
            "case_id": self.case_id,
            "metric": self.metric,
            "before": round(self.before, 3),
            "after": round(self.after, 3),
            "change_pct": round(self.change_pct, 2),
            "before_95": f"[{self.before_ci[0]:.3f}, {self.before_ci[1]:.3f}]",
            "after_95": f"[{self.after_ci[0]:.3f}, {self.after_ci[1]:.3f}]",
            "pvalue": None if self.pvalue is None else round(self.pvalue, 3),
            "status": "confirmed" if self.confirmed else "new, unconfirmed (latest run only)",
            "runs_after": self.runs_after,
        }


def _segment_interval(
    values: list[float], samples: list[Any], images: int | None, seed: int
) -> tuple[float, float]:
    """95% interval of a segment's median figure: from the runs' step samples where every
    run kept them (windows = runs), else from the runs' figures themselves."""
    if images and samples and all(isinstance(s, list) and s for s in samples):
        windows = [[t for w in s for t in w] for s in samples]
        _, lo, hi = median_interval(windows, seed=seed)
        return images / hi, images / lo
    if len(values) < 2:
        return math.nan, math.nan
    _, lo, hi = median_interval([values], seed=seed)
    return lo, hi


def _robust_sigma(values: np.ndarray) -> float:
    mad = float(np.median(np.abs(values - np.median(values))))
    return 1.4826 * mad


def case_changes(
    history: pd.DataFrame,
    metric: str,
    threshold_pct: float | None = None,
    seed: int = 0,
    samples: Callable[[pd.DataFrame], pd.Series] | None = None,
    found: Found | None = None,
) -> tuple[list[Change], list[int]]:
    """The change points of one case's history (rows ordered oldest first) and the
    indices of runs that are outliers rather than changes (``samples``: see change_points;
    ``found``: what :func:`analyse` gave for this history, where it ran elsewhere)."""
    done = _finished(history, metric)
    values = done[metric].astype(float).to_numpy()
    if len(values) < MIN_RUNS:
        return [], []
    if found is None:
        found = analyse((values, seed, threshold_pct))
    if samples is not None and metric == "images_per_sec" and found.splits:
        done = done.assign(samples_s=samples(done))  # read only for a case that changed
    changes = [
        _change(done, values, metric, point, points, seed, found.pvalues[point], point in found.confirmed)
        for point, points in found.splits
    ]
    return changes, found.outliers


@dataclass
class Found:
    """What a series' figures alone tell (a job of its own, run in any process): the
    confirmed change points, the outlier runs, the splits to report (each point with the
    points bounding its segments, the newest run's last where it starts a change) and each
    confirmed point's p-value (its search test's)."""

    confirmed: list[int]
    outliers: list[int]
    splits: list[tuple[int, list[int]]]
    pvalues: dict[int, float | None]


def analyse(job: tuple[np.ndarray, int, float | None]) -> Found:
    """A series' change points, outliers and p-values from its figures, its seed and the
    threshold that the newest run alone must cross."""
    values, seed, threshold_pct = job
    np.random.seed(seed)  # the library's permutation test draws from NumPy's global generator
    tested = dict(e_divisive_tested(values))
    points = sorted(tested)
    bounds = [0, *points, len(values)]
    outliers = [a for a, b in itertools.pairwise(bounds) if b - a == 1 and 0 < a and b < len(values)]
    confirmed = [p for p in points if not any(o in (p, p - 1) for o in outliers) and p < len(values) - 1]
    # The newest run alone: a change if it leaves its segment's noise by more than the threshold.
    last = len(values) - 1
    start = max([0, *confirmed])
    segment = values[start:last]
    newest = False
    if len(segment) >= 3 and last not in confirmed:
        median, sigma = float(np.median(segment)), _robust_sigma(segment)
        change = 100 * (values[last] - median) / median
        big = threshold_pct is None or abs(change) >= abs(threshold_pct)
        newest = big and abs(values[last] - median) > 3 * max(sigma, 1e-12)
    splits = [(p, confirmed) for p in confirmed] + ([(last, [*confirmed, last])] if newest else [])
    # A confirmed point's p-value is the one its search test gave; the newest run alone is
    # one run after its split, which no permutation test can judge.
    pvalues: dict[int, float | None] = {point: tested.get(point) for point in confirmed}
    if newest:
        pvalues[last] = None
    return Found(confirmed, outliers, splits, pvalues)


def _segments(values: np.ndarray, point: int, points: list[int]) -> tuple[np.ndarray, np.ndarray, int, int]:
    """The runs before and after ``point`` up to the neighbouring points, and their bounds."""
    bounds = [0, *sorted(points), len(values)]
    i = bounds.index(point)
    a, b = bounds[i - 1], bounds[i + 1]
    return values[a:point], values[point:b], a, b


def _finished(history: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The runs of a case's history that finished with the metric, oldest first."""
    return history[history["status"] == "ok"].dropna(subset=[metric]).reset_index(drop=True)


#: The work (sum of each series' length squared) worth searching in several processes:
#: a few series of a thousand runs, not a CI history of fifty.
PARALLEL_WORK = 2_000_000


def _change(
    done: pd.DataFrame,
    values: np.ndarray,
    metric: str,
    point: int,
    points: list[int],
    seed: int,
    pvalue: float | None,
    confirmed: bool,
) -> Change:
    before, after, a, b = _segments(values, point, points)
    # Step samples describe the median step: they give the interval of images_per_sec only;
    # any other figure (the best step, a tail) gets its interval from the runs' own figures.
    images = done["global_batch"].iloc[point] if metric == "images_per_sec" else None
    samples = done["samples_s"] if "samples_s" in done else pd.Series([None] * len(done))
    before_ci = _segment_interval(list(before), list(samples.iloc[a:point]), images, seed)
    after_ci = _segment_interval(list(after), list(samples.iloc[point:b]), images, seed + 1)
    row = done.iloc[point]
    return Change(
        machine=str(row["machine"]),
        backend=str(row["backend"]),
        case_id=str(row["case_id"]),
        metric=metric,
        index=point,
        run=str(row["run"]),
        commit=row.get("commit") if isinstance(row.get("commit"), str) else None,
        before=float(np.median(before)),
        after=float(np.median(after)),
        before_ci=before_ci,
        after_ci=after_ci,
        pvalue=pvalue,
        confirmed=confirmed,
        runs_after=len(after),
    )


def change_points(
    df: pd.DataFrame,
    metric: str,
    threshold_pct: float | None = None,
    samples: Callable[[pd.DataFrame], pd.Series] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Every case's change points over a history frame (``loading.load_history``), newest
    first, and notes: which cases were too short, which runs were outliers.

    ``samples``: for a frame read without its step samples (a store's), a function giving a
    case's ``samples_s`` (indexed as its rows); called only for a case with a change point,
    whose intervals are then computed from them as from the files (the detection reads the
    figures only)."""
    from resnet.parallel import parallel_map

    rows, notes = [], {"too_short": [], "outliers": []}
    cases = []
    for (machine, _backend, case_id), group in df.groupby(["machine", "backend", "case_id"], sort=True):
        group = group.sort_values("run", kind="stable")
        done = _finished(group, metric)
        if len(done) < MIN_RUNS:
            notes["too_short"].append(
                f"{case_id} on {machine} ({len(done)} runs; change points need {MIN_RUNS})"
            )
            continue
        cases.append((machine, case_id, group, done))
    jobs = [(done[metric].astype(float).to_numpy(), 0, threshold_pct) for *_, done in cases]
    worth = sum(len(v) ** 2 for v, *_ in jobs) >= PARALLEL_WORK
    found = parallel_map(analyse, jobs, worth=worth, what="change-point search, series")
    for (machine, case_id, group, done), result in zip(cases, found, strict=True):
        changes, outliers = case_changes(group, metric, threshold_pct, samples=samples, found=result)
        rows += [c.as_row() for c in changes]
        runs = done["run"].reset_index(drop=True)
        notes["outliers"] += [f"{case_id} on {machine}: run {runs.iloc[i]}" for i in outliers]
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values(["run", "case_id"], ascending=[False, True]).reset_index(drop=True)
    return table, notes


#: How the CSV file of ``history --out`` begins: an existing file is replaced only when its
#: first line does.
CSV_HEADER = "run,commit,machine,"


def new_changes(df: pd.DataFrame, table: pd.DataFrame, threshold: Any) -> list[str]:
    """The gate on a history: what went wrong at each machine's latest run: cases it lost or
    that failed there (lost_or_failed), and changes that begin there and cross ``threshold``
    (a :class:`resnet.analysis.compare.Threshold`; None: no gate): a case's change point, or
    the run-wide verdict of the latest run against the one before it (the compare gate's
    rule: a small change of every case that no case alone shows)."""
    from resnet.analysis.compare import run_wide

    if threshold is None:
        return []
    latest = df.sort_values("run").groupby("machine")["run"].last().to_dict()
    out = lost_or_failed(df)
    for _, row in table.iterrows():
        if row["run"] == latest.get(row["machine"]) and threshold.crossed(row["change_pct"]):
            out.append(f"{row['case_id']} on {row['machine']}: {row['change_pct']:+.1f}% ({row['status']})")
    for machine, group in df.groupby("machine"):
        runs = list(dict.fromkeys(group.sort_values("run", kind="stable")["run"]))
        if len(runs) < 2:
            continue
        wide = run_wide(group[group["run"] == runs[-2]], group[group["run"] == runs[-1]], [threshold])
        for _, line in wide[wide["verdict"] == "regression"].iterrows() if not wide.empty else []:
            out.append(
                f"run-wide {line['metric']} on {machine}: {line['change_pct']:+.2f}% {line['interval_pct']} "
                f"over {line['cells']} cases against the run before"
            )
    return out


def lost_or_failed(df: pd.DataFrame) -> list[str]:
    """Per machine, the cases its run before the latest finished that the latest run lacks
    or did not finish (error, timeout, out of memory, invalid): the gate fails on them as
    ``compare`` does, so a run that broke cannot pass for one without change points."""
    out = []
    for machine, group in df.groupby("machine"):
        runs = list(dict.fromkeys(group.sort_values("run", kind="stable")["run"]))
        if len(runs) < 2:
            continue
        before, latest = group[group["run"] == runs[-2]], group[group["run"] == runs[-1]]
        finished = set(before.loc[before["status"] == "ok", "case_id"])
        status = dict(zip(latest["case_id"], latest["status"], strict=True))
        lost = sorted(finished - set(status))
        failed = sorted(c for c in finished & set(status) if status[c] != "ok")
        if lost:
            out.append(
                f"the latest run on {machine} lacks {len(lost)} of the {len(finished)} cases the run "
                f"before finished: {_some(lost)}"
            )
        if failed:
            shown = _some([f"{c} ({status[c]})" for c in failed])
            out.append(f"{len(failed)} case(s) did not finish in the latest run on {machine}: {shown}")
    return out


def _some(items: list[str], most: int = 5) -> str:
    """The first ``most`` items, and how many more."""
    return ", ".join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")

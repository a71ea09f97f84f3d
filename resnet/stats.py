"""How sure a figure is: intervals, stability and paired ratios from raw step times.

The statistics a careful performance engineer can defend with the samples a
benchmark has (a few windows of a few to a few hundred steps each, on a machine
whose speed may drift between windows):

- A figure's 95% interval comes from a two-level bootstrap: resample the windows,
  then the steps within each resampled window, and take the median of the pool.  Drift
  between windows therefore widens the interval, as it should; with one window it is
  the ordinary bootstrap of the median.  Percentile intervals, seeded, so a report
  rebuilt from the same samples shows the same interval.
- A paired ratio (two models stepped alternately in one process) is the Hodges-Lehmann
  estimate over the per-round log-ratios (the median of their pairwise averages) with
  the Wilcoxon signed-rank 95% interval: exact for independent rounds whose log-ratios
  are symmetric about their centre, robust to a round a busy spell hit, and narrower
  than the sign test's interval for the same rounds.
- A paired model's own figure is its images over the block's time (the mean step, as a
  window's figure is images over the window's time: a rate's average is total work over
  total time), with a batch-means interval: the mean's spread from the means of a few
  consecutive segments of the rounds. A median step would jump between the machine's
  two states where about half the steps meet a neighbour; the mean moves with the share.
- A percentile is supported by a sample when its distribution-free 95% interval
  exists on both sides: at least 36 steps for p90 and 368 for p99 (MLPerf asks far
  more of a submission: it is not what these figures are).
- Whether a rerun would agree is another question than how precisely one run measured
  a figure: a machine's speed moves between windows and between runs by more than the
  steps of one window show, and one case's two or three windows cannot say by how much
  (the range of two values covers their centre half the time).  The drift is a property
  of the machine and the run, so ``compare`` pools it over every case of a run: the
  within-case variance of the log window medians, with one degree of freedom per extra
  window per case, and tests the ratio of two runs' medians with Welch's t interval.
- A case's stability is told from its windows' own steps, even at 3 steps a window: a
  one-way analysis of variance of the log step times across windows (the F test, 1% level)
  says whether the windows differ beyond what the steps within them explain. ``unstable``:
  significant and more than 5% apart, or more than 25% apart whatever the test (no figure
  whose windows are that far apart reproduces); ``stable``: not significant, and the steps
  were steady enough that a 10% difference would have been caught; ``unknown``: one window,
  or steps too noisy (or too few) to tell. Never "stable" by default.
- The machine's speed is read by a probe (a fixed matrix product in the case's compute
  dtype) around and between the timed steps; each case's readings over its run's median
  reading (per device, threads and probe dtype) is ``machine_speed_rel``, and a case is
  ``drifted`` when that is more than 10% off.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np

LEVEL = 0.95
RESAMPLES = 2000
#: Windows that differ by less than this (relative spread of their medians) are stable
#: whatever a test says: a 2% wobble is not worth a flag.
UNSTABLE_SPREAD = 0.05
UNSTABLE_P = 0.01
#: The fewest degrees of freedom (extra windows over all cases) a run's pooled window
#: variance needs before it is trusted (compare's run-to-run interval, the rerun spread,
#: the adaptive windows' precision).
MIN_DF = 5
#: Windows this far apart are unstable whatever the test says.
GROSS_SPREAD = 0.25
#: A case is called stable only where its steps would have shown windows this far apart.
TELLABLE_SPREAD = 0.10
#: The drift monitor flags a case measured while the machine ran this far off its run's
#: median speed.
DRIFT_LIMIT = 0.10


def seed_for(text: str) -> int:
    """A stable seed from a name (a case id), so intervals are reproducible."""
    return zlib.crc32(text.encode())


def _clean(windows: Sequence[Sequence[float]]) -> list[np.ndarray]:
    return [np.asarray(w, dtype=float) for w in windows if len(w)]


def bootstrap_medians(
    windows: Sequence[Sequence[float]], resamples: int = RESAMPLES, seed: int = 0
) -> np.ndarray:
    """Medians of ``resamples`` two-level bootstrap pools: windows drawn with
    replacement, then steps drawn with replacement within each drawn window."""
    ws = _clean(windows)
    if not ws:
        raise ValueError("no samples")
    rng = np.random.default_rng(seed)
    size = max(len(w) for w in ws)
    # Each window's steps resampled ``resamples`` times, NaN-padded to one length.
    steps = np.full((len(ws), resamples, size), np.nan)
    for i, w in enumerate(ws):
        steps[i, :, : len(w)] = w[rng.integers(0, len(w), (resamples, len(w)))]
    picks = rng.integers(0, len(ws), (resamples, len(ws)))  # which windows each pool draws
    pools = steps[picks, np.arange(resamples)[:, None]].reshape(resamples, -1)
    return np.nanmedian(pools, axis=1)


def median_interval(
    windows: Sequence[Sequence[float]], level: float = LEVEL, seed: int = 0
) -> tuple[float, float, float]:
    """The median of all steps and its ``level`` interval (two-level bootstrap)."""
    ws = _clean(windows)
    median = float(np.median(np.concatenate(ws)))
    if sum(len(w) for w in ws) < 2:
        return median, math.nan, math.nan
    meds = bootstrap_medians(ws, seed=seed)
    tail = (1 - level) / 2
    return median, float(np.quantile(meds, tail)), float(np.quantile(meds, 1 - tail))


def order_statistic_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """The distribution-free ``level`` interval for the median of ``values``: the
    order statistics x(k) and x(n+1-k) with k the largest rank whose binomial tails
    keep the coverage at least ``level``.  NaN where n is too small (n < 6 at 95%)."""
    from scipy.stats import binom

    xs = np.sort(np.asarray(values, dtype=float))
    n = len(xs)
    # P(x(k) <= median <= x(n+1-k)) = 1 - 2 P(Binomial(n, 1/2) <= k - 1)
    k = 0
    for rank in range(1, n // 2 + 1):
        if 1 - 2 * binom.cdf(rank - 1, n, 0.5) >= level:
            k = rank
    if k == 0:
        return math.nan, math.nan
    return float(xs[k - 1]), float(xs[n - k])


def segment_means(values: Sequence[float], segments: int) -> list[float]:
    """The means of ``segments`` consecutive, nearly equal parts of a series in time order."""
    return [float(np.mean(c)) for c in np.array_split(np.asarray(values, dtype=float), segments)]


def batch_means_interval(
    values: Sequence[float], batches: int = 4, level: float = LEVEL
) -> tuple[float, float, float]:
    """The mean of a series in time order (a model's step times over a paired block) and its
    ``level`` interval by batch means: the series cut into ``batches`` consecutive segments,
    whose means are nearly independent where single steps are not (a busy spell slows
    several in a row), and Student's t over their log means with ``batches - 1`` df. Returns
    (mean, low, high); NaN bounds where there are fewer than two values a segment."""
    xs = np.asarray(values, dtype=float)
    mean = float(np.mean(xs)) if len(xs) else math.nan
    if batches < 2 or len(xs) < 2 * batches:
        return mean, math.nan, math.nan
    from scipy.stats import t

    logs = np.log(segment_means(xs, batches))
    half = float(t.ppf((1 + level) / 2, batches - 1)) * float(np.std(logs, ddof=1)) / math.sqrt(batches)
    return mean, mean * math.exp(-half), mean * math.exp(half)


def percentile_min_samples(q: float, level: float = LEVEL) -> int:
    """The fewest samples for which the q-th percentile (0-100) has a distribution-free
    ``level`` interval on both sides (all samples below it must be improbable)."""
    p = q / 100
    tail = (1 - level) / 2
    return math.ceil(math.log(tail) / math.log(p))


def windows_disagree(windows: Sequence[Sequence[float]]) -> tuple[bool, float | None, float | None]:
    """(unstable, p-value, spread): :func:`stability` as the older boolean."""
    verdict, p, spread = stability(windows)
    return verdict == "unstable", p, spread


def stability(windows: Sequence[Sequence[float]]) -> tuple[str, float | None, float | None]:
    """("stable" | "unstable" | "unknown", p-value, spread) of a case's windows of step times:
    the F test of a one-way analysis of variance of the log step times across windows (what
    the steps within each window explain), spread = (max - min of window medians) / pooled
    median. See the module's notes for the rule."""
    ws = _clean(windows)
    if len(ws) < 2:
        return "unknown", None, None
    medians = [float(np.median(w)) for w in ws]
    pooled = float(np.median(np.concatenate(ws)))
    spread = (max(medians) - min(medians)) / pooled
    logs = [np.log(w) for w in ws]
    df_within = sum(len(x) - 1 for x in logs)
    within = sum(float(np.sum((x - x.mean()) ** 2)) for x in logs) / df_within if df_within else math.nan
    p = _anova_p(logs, within, df_within)
    if spread > GROSS_SPREAD or (p is not None and p < UNSTABLE_P and spread > UNSTABLE_SPREAD):
        return "unstable", p, spread
    if p is None:
        return "unknown", p, spread
    from scipy.stats import t

    smallest = sorted(len(x) for x in logs)[:2]
    detectable = float(t.ppf(1 - UNSTABLE_P / 2, df_within)) * math.sqrt(
        within * sum(1 / n for n in smallest)
    )
    return ("stable" if math.expm1(detectable) <= TELLABLE_SPREAD else "unknown"), p, spread


def _anova_p(logs: list[np.ndarray], within: float, df_within: int) -> float | None:
    """The F test's p-value across windows (None where the steps within cannot say: fewer
    than one degree of freedom within windows)."""
    if not df_within or not math.isfinite(within):
        return None
    grand = float(np.mean(np.concatenate(logs)))
    between = sum(len(x) * (float(x.mean()) - grand) ** 2 for x in logs) / (len(logs) - 1)
    if within == 0:
        return 0.0 if between > 0 else 1.0
    from scipy.stats import f

    return float(f.sf(between / within, len(logs) - 1, df_within))


def machine_speeds(
    series: Sequence[Sequence[Sequence[float]] | None], groups: Sequence[object]
) -> list[float | None]:
    """Each row's probe readings (``[time, GFLOP/s]`` pairs) as the median of its readings
    over the median of every reading of its group (device, threads, probe dtype) in the run:
    1.0 is the run's typical speed; None for a row without readings."""
    pooled: dict[object, list[float]] = {}
    for readings, group in zip(series, groups, strict=True):
        if readings:
            pooled.setdefault(group, []).extend(float(r[1]) for r in readings)
    medians = {g: float(np.median(v)) for g, v in pooled.items()}
    return [
        float(np.median([float(r[1]) for r in readings])) / medians[group] if readings else None
        for readings, group in zip(series, groups, strict=True)
    ]


def _signed_rank_counts(n: int) -> np.ndarray:
    """How many subsets of {1..n} sum to each total: the Wilcoxon signed-rank statistic's
    exact null distribution (times 2^n)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    return counts


def hodges_lehmann_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float, float]:
    """The Hodges-Lehmann estimate of the centre of ``values`` (the median of all their
    pairwise averages) and the Wilcoxon signed-rank ``level`` interval for it; NaN bounds
    where n is too small for the level (n < 6 at 95%)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    i, j = np.triu_indices(n)
    walsh = np.sort((x[i] + x[j]) / 2)
    estimate = float(np.median(walsh))
    cdf = np.cumsum(_signed_rank_counts(n)) / 2.0**n
    below = np.nonzero(cdf <= (1 - level) / 2)[0]
    if not len(below):
        return estimate, math.nan, math.nan
    c = int(below[-1])  # P(T <= c) <= alpha/2: the interval is W(c+1) .. W(M-c)
    return estimate, float(walsh[c]), float(walsh[len(walsh) - 1 - c])


def paired_ratio(
    numerator_s: Sequence[float], denominator_s: Sequence[float], level: float = LEVEL
) -> tuple[float, float, float]:
    """images/s of the numerator over the denominator's, from step times measured in
    alternating rounds: per round, log(denominator time / numerator time); their
    Hodges-Lehmann centre and Wilcoxon interval, back as ratios."""
    a = np.asarray(numerator_s, dtype=float)
    b = np.asarray(denominator_s, dtype=float)
    if len(a) != len(b) or not len(a):
        raise ValueError("paired step times must come in equal, non-empty rounds")
    centre, low, high = hodges_lehmann_interval(np.log(b / a), level)
    return math.exp(centre), math.exp(low), math.exp(high)


def paired_median_ratio(
    numerator_s: Sequence[float], denominator_s: Sequence[float], level: float = LEVEL
) -> tuple[float, float, float]:
    """images/s of the numerator over the denominator's, from step times measured in
    alternating rounds: the median of the per-round log(denominator time / numerator time)
    with its distribution-free (sign test) ``level`` interval, back as ratios.

    For rounds of models in different processes, stepped one after the other: a neighbour
    that starts or stops between the two steps of a round slows one side only, and on a
    shared machine that is a third of the rounds or more. Such rounds make the per-round
    ratios heavy-tailed; the median's interval is set by the middle rounds alone, where the
    Hodges-Lehmann interval (:func:`paired_ratio`) widens with every pair of them (measured
    on this project's noisy-neighbour runs: results/*/2026-12-06-ab/)."""
    a = np.asarray(numerator_s, dtype=float)
    b = np.asarray(denominator_s, dtype=float)
    if len(a) != len(b) or not len(a):
        raise ValueError("paired step times must come in equal, non-empty rounds")
    logs = np.log(b / a)
    low, high = order_statistic_interval(logs, level)
    return math.exp(float(np.median(logs))), math.exp(low), math.exp(high)


def window_variance(cases: Sequence[Sequence[Sequence[float]]]) -> tuple[float, int]:
    """(variance, degrees of freedom) of the log median of one window about its case's
    mean, pooled over ``cases`` (each a list of windows of step times): how much the
    machine's speed moves from window to window in this run.  Cases with one window add
    nothing; (nan, 0) when no case has two."""
    squares, df = 0.0, 0
    for windows in cases:
        clean = _clean(windows)
        if len(clean) < 2:
            continue  # one window: nothing to pool
        logs = np.log([np.median(w) for w in clean])
        squares += float(np.sum((logs - logs.mean()) ** 2))
        df += len(logs) - 1
    return (squares / df, df) if df else (math.nan, 0)


def pooled_half_width(variance: float, df: int, windows: int, level: float = LEVEL) -> float | None:
    """The half-width (log scale) of the ``level`` interval of a figure taken over ``windows``
    windows, from the run's pooled window-to-window ``variance`` (:func:`window_variance`)
    with ``df`` degrees of freedom (Student's t); None where the run has too few (< MIN_DF)
    to say."""
    if df < MIN_DF or not math.isfinite(variance) or windows < 1:
        return None
    from scipy.stats import t

    return float(t.ppf((1 + level) / 2, df)) * math.sqrt(variance / windows)


def rerun_half_width(variance: float, df: int, windows: int, level: float = LEVEL) -> float | None:
    """The half-width (log scale) of the ``level`` prediction interval of a rerun's figure
    taken over as many windows as this one's (``windows``): the two figures differ by the
    run's pooled window-to-window ``variance`` times 2 / ``windows``, scaled by Student's t
    with the pool's ``df`` (its variance is estimated too: with a dozen df it reads half the
    true spread often enough to matter); None where the run has too few (< MIN_DF) to say."""
    half = pooled_half_width(variance, df, windows, level)
    return None if half is None else half * math.sqrt(2)


def relative_sd(variance: float, z: float = 1.0) -> float:
    """A log-scale variance as a relative change in percent: ``z`` standard deviations
    up (1: one sd; 1.96: a 95% bound)."""
    return 100 * (math.exp(z * math.sqrt(variance)) - 1)


def run_ratio_interval(
    base: Sequence[Sequence[float]],
    new: Sequence[Sequence[float]],
    base_var: tuple[float, int],
    new_var: tuple[float, int],
    level: float = LEVEL,
) -> tuple[float, float, float]:
    """new's median step over base's, with the ``level`` interval a rerun would fall in:
    each run's median varies by its window variance (:func:`window_variance`) over its
    number of windows; Welch's t interval on the log scale, back as ratios."""
    from scipy.stats import t

    bw, nw = _clean(base), _clean(new)
    ratio = float(np.median(np.concatenate(nw)) / np.median(np.concatenate(bw)))
    a, b = base_var[0] / len(bw), new_var[0] / len(nw)
    df = (a + b) ** 2 / (a**2 / base_var[1] + b**2 / new_var[1]) if a + b > 0 else math.inf
    half = float(t.ppf(1 - (1 - level) / 2, df)) * math.sqrt(a + b)
    return ratio, ratio * math.exp(-half), ratio * math.exp(half)


def ratio_of_medians_interval(
    base: Sequence[Sequence[float]], new: Sequence[Sequence[float]], level: float = LEVEL, seed: int = 0
) -> tuple[float, float, float]:
    """new's median step over base's, with the ``level`` interval from bootstrapping
    both runs independently (each with its windows), for ``compare``."""
    bw, nw = _clean(base), _clean(new)
    ratio = float(np.median(np.concatenate(nw)) / np.median(np.concatenate(bw)))
    rb = bootstrap_medians(bw, seed=seed)
    rn = bootstrap_medians(nw, seed=seed + 1)
    ratios = rn / rb
    tail = (1 - level) / 2
    return ratio, float(np.quantile(ratios, tail)), float(np.quantile(ratios, 1 - tail))


def run_wide_change(
    log_ratios: Sequence[float],
    machine: Sequence[float] | None = None,
    cell_sd: Sequence[float] | None = None,
    level: float = LEVEL,
) -> tuple[float, float, float]:
    """The typical change of a whole run at an unchanged machine speed: (ratio, low, high),
    the geometric mean of its cells' ratios (new over base) with a ``level`` interval.

    One machine state is shared by every cell of a run, so the cells' changes are not
    independent draws: a machine that ran 10% faster moves all of them. ``machine`` gives
    each cell's own machine-speed change (log, by the drift probe readings around its
    windows); the cells' log ratios are regressed on it, ``d = mu + beta * m``, and the
    change is ``mu``, the intercept at no machine change, with its t interval (N - 2 degrees
    of freedom; the interval widens with how far the machine moved, as it should). Figures
    respond to the probe by their own ``beta``, not necessarily 1. Without probe readings,
    or with a machine change the same in every cell (it cannot be told from the code's),
    the change is the plain mean with its t interval over the cells (N - 1 degrees of
    freedom), the shared state taken out where every cell saw the same machine change.
    ``cell_sd`` (each cell's own standard error of its log ratio, from its samples) bounds
    the spread from below: cells that agree more closely than their own noise allows (made
    alike, or too few to show their spread) are not taken as more precise than that."""
    from scipy import stats as st

    d = np.asarray(log_ratios, dtype=float)
    m = None if machine is None else np.asarray(machine, dtype=float)
    keep = np.isfinite(d) if m is None else np.isfinite(d) & np.isfinite(m)
    floor = 0.0
    if cell_sd is not None:
        sd = np.asarray(cell_sd, dtype=float)[keep]
        floor = float(np.mean(np.where(np.isfinite(sd), sd, 0.0) ** 2)) if len(sd) else 0.0
    d = d[keep]
    n = len(d)
    if n < 2:
        return (math.exp(float(d[0])) if n else math.nan), math.nan, math.nan
    if m is not None:
        m = m[keep]
        spread = float(((m - m.mean()) ** 2).sum())
        if n >= 4 and spread > 1e-12:
            beta = float(((m - m.mean()) * (d - d.mean())).sum()) / spread
            mu = float(d.mean() - beta * m.mean())
            resid = d - mu - beta * m
            s2 = max(float((resid**2).sum()) / (n - 2), floor)
            se = math.sqrt(s2 * (1 / n + float(m.mean()) ** 2 / spread))
            half = float(st.t.ppf(0.5 + level / 2, n - 2)) * se
            return math.exp(mu), math.exp(mu - half), math.exp(mu + half)
        d = d - m  # the same machine change in every cell: taken out as it is
    mean = float(d.mean())
    se = math.sqrt(max(float(d.var(ddof=1)), floor) / n)
    half = float(st.t.ppf(0.5 + level / 2, n - 1)) * se
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)

"""How sure a figure is: the statistics behind every interval, flag and gate (fast,
synthetic samples, seeded)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from resnet.stats import (
    batch_means_interval,
    median_interval,
    order_statistic_interval,
    paired_ratio,
    percentile_min_samples,
    ratio_of_medians_interval,
    windows_disagree,
)

NOISE = 0.05  # 5% step-to-step noise (lognormal sigma), about what a quiet CPU shows


def _steps(seed: int, n: int = 50, speed: float = 1.0, noise: float = NOISE) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(np.log(speed), noise, n)


def test_the_interval_covers_the_median_about_95_times_in_100():
    covered = sum(lo <= 1.0 <= hi for _, lo, hi in (median_interval([_steps(s)], seed=s) for s in range(100)))
    assert 88 <= covered <= 100
    # Three windows, each with its own small drift: the interval still covers the level.
    covered = 0
    for s in range(100):
        rng = np.random.default_rng(500 + s)
        windows = [_steps(1000 * s + w, 20, rng.lognormal(0, 0.01)) for w in range(3)]
        _, lo, hi = median_interval(windows, seed=s)
        covered += lo <= 1.0 <= hi
    assert covered >= 85


def test_drift_between_windows_widens_the_interval():
    steady = [_steps(1, 20), _steps(2, 20)]
    drifting = [_steps(1, 20), _steps(2, 20, speed=1.3)]
    _, lo1, hi1 = median_interval(steady)
    _, lo2, hi2 = median_interval(drifting)
    assert hi2 - lo2 > 3 * (hi1 - lo1)


def test_order_statistic_interval():
    assert np.isnan(order_statistic_interval([1, 2, 3, 4, 5])[0])  # n < 6: no 95% interval
    lo, hi = order_statistic_interval(range(1, 11))  # n = 10: ranks 2 and 9 (97.9%)
    assert (lo, hi) == (2.0, 9.0)
    covered = sum(
        lo <= 1.0 <= hi for lo, hi in (order_statistic_interval(_steps(300 + s, 30)) for s in range(100))
    )
    assert covered >= 90


def test_the_batch_means_interval_covers_the_mean_of_a_series_with_busy_spells():
    """Step times a neighbour slows in runs of a few steps (not independently): the mean's
    interval from four segments' means still covers the long-run mean about 95 times in 100."""
    covered = 0
    for s in range(200):
        rng = np.random.default_rng(700 + s)
        busy = np.repeat(rng.random(10) < 0.2, 4)  # 40 steps, busy in spells of 4
        times = _steps(800 + s, 40) * np.where(busy, 2.0, 1.0)
        mean, lo, hi = batch_means_interval(times)
        assert lo <= mean <= hi and mean == pytest.approx(float(np.mean(times)))
        covered += lo <= NOISE_FREE_MEAN <= hi
    assert 180 <= covered <= 200
    mean, lo, hi = batch_means_interval([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])  # under 2 a segment
    assert mean == 4.0 and np.isnan(lo) and np.isnan(hi)


#: The long-run mean step of that series: 1.2 (a fifth of the steps at twice the time) times
#: a lognormal's mean, exp(sigma^2 / 2).
NOISE_FREE_MEAN = 1.2 * float(np.exp(NOISE**2 / 2))


def test_percentiles_need_enough_steps():
    assert percentile_min_samples(50) == 6
    assert percentile_min_samples(90) == 36
    assert percentile_min_samples(99) == 368


def test_a_case_whose_windows_disagree_is_unstable():
    unstable, p, spread = windows_disagree([_steps(1, 10), _steps(2, 10, speed=1.4), _steps(3, 10)])
    assert unstable and p < 0.01 and spread > 0.3
    stable, p, _ = windows_disagree([_steps(4, 10), _steps(5, 10), _steps(6, 10)])
    assert not stable
    # Significant but tiny (1%): not worth a flag.
    tiny = [_steps(7, 200, noise=0.001), _steps(8, 200, speed=1.01, noise=0.001)]
    assert windows_disagree(tiny)[0] is False
    assert windows_disagree([_steps(9, 10)]) == (False, None, None)  # one window: nothing to compare


def test_the_paired_ratio_recovers_a_known_6_percent_difference():
    """v1.5-like model 6% slower than v1, both stepped alternately on a machine whose
    speed drifts by 30% over the run: the paired ratio sees through the drift."""
    rng = np.random.default_rng(42)
    drift = np.linspace(1.0, 1.3, 30)
    v1 = drift * rng.lognormal(0, 0.02, 30)
    v15 = drift * 1.06 * rng.lognormal(0, 0.02, 30)
    ratio, lo, hi = paired_ratio(v15, v1)  # images/s of v1.5 over v1's
    assert lo <= 1 / 1.06 <= hi
    assert hi < 1.0  # the difference is real: the interval lies below 1
    assert ratio == pytest.approx(1 / 1.06, abs=0.02)
    with pytest.raises(ValueError):
        paired_ratio([1.0, 2.0], [1.0])


def test_compare_flags_a_5_percent_shift_and_passes_two_draws_of_one_distribution():
    flagged = 0
    for s in range(100):
        _, lo, _hi = ratio_of_medians_interval([_steps(2000 + s)], [_steps(3000 + s, speed=1.05)], seed=s)
        flagged += lo > 1.0
    assert flagged >= 95
    passed = 0
    for s in range(100):
        ratio, lo, _hi = ratio_of_medians_interval([_steps(4000 + s)], [_steps(5000 + s)], seed=s)
        # A regression needs a significant change beyond a 3% threshold.
        passed += not (lo > 1.0 and ratio > 1.03)
    assert passed >= 95


# -- windows, combined rows and paired groups in the engine ---------------------------
def _case(version="v1"):
    from resnet.schema import Case

    return Case(version, "inference", 8, "float32", "cpu", False, 64)


def _window(case, index, steps, started=0.0):
    from resnet.engine.kinds.case import metrics_from_times
    from resnet.schema import new_row

    row = {**new_row(case, kind="window", case_id=f"{case.id}@w{index}"), "window": index, "status": "ok"}
    row.update(metrics_from_times(case, list(steps), 4.0))
    row.update(samples_s=[list(steps)], window_started=[started], compile_s=2.0 + index, rounds=len(steps))
    row.update(peak_host_rss_mb=1000.0 + index, machine_speed_series=[[started, 250.0], [started + 1, 260.0]])
    return row


def test_windows_spread_over_the_run_in_a_seeded_order():
    from resnet.engine.plan import window_order as plan

    cases = [_case(v).replace(batch_size=b) for v in ("v1", "v1.5", "v2") for b in (1, 8)]
    windows = plan(cases, repeat=3, seed=7)
    assert len(windows) == 18
    for index in (1, 2, 3):  # every pass holds every case once
        assert sorted(w.case.id for w in windows if w.index == index) == sorted(c.id for c in cases)
    assert [w.id for w in plan(cases, 3, 7)] == [w.id for w in windows]  # reproducible
    assert [w.id for w in plan(cases, 3, 8)] != [w.id for w in windows]
    assert [w.id for w in plan(cases, 1, 7)] == [c.id for c in cases]  # one window: the cases' order
    assert windows[0].id.endswith("@w1") and plan(cases, 1, 7)[0].id == cases[0].id


def test_a_case_with_fewer_windows_runs_in_a_share_of_the_passes():
    from resnet.engine.plan import window_order as plan

    cases = [_case(v).replace(batch_size=b) for v in ("v1", "v1.5", "v2") for b in (1, 8, 32)]
    windows = plan(cases, repeat=3, seed=7, windows_of=lambda c: 1 if c.batch_size == 32 else 3)
    assert len(windows) == 6 * 3 + 3
    single = [w for w in windows if w.case.batch_size == 32]
    assert all(w.of == 1 and w.index == 1 and "@w" not in w.id for w in single)  # just the case
    # the one-window cases are taken in turn, one per pass: not all in the first pass
    at = [i for i, w in enumerate(windows) if w.case.batch_size == 32]
    full = [(i, w.index) for i, w in enumerate(windows) if w.of == 3]
    assert max(at) > max(i for i, index in full if index == 1)  # one after pass 1
    assert min(at) < min(i for i, index in full if index == 3)  # one before pass 3
    by_case: dict[str, list[int]] = {}
    for w in windows:
        by_case.setdefault(w.case.id, []).append(w.index)
    assert all(v == [1, 2, 3] for k, v in by_case.items() if "-bs32-" not in k)  # in order
    two = plan(cases, repeat=3, seed=7, windows_of=lambda c: 2 if c.batch_size == 32 else 3)
    expected = {f"{c.id}@w{i}" for c in cases[2::3] for i in (1, 2)}
    assert {w.id for w in two if w.case.batch_size == 32} == expected
    assert [w.id for w in plan(cases, 3, 7, lambda c: 3)] == [w.id for w in plan(cases, 3, 7)]


def test_a_case_combined_from_windows_that_disagree_is_unstable():
    from resnet.engine.kinds.windows import combine_windows
    from resnet.schema import row_problems

    case = _case()
    steady = combine_windows(
        case, [_window(case, 1, _steps(1, 12, 0.4)), _window(case, 2, _steps(2, 12, 0.4))]
    )
    assert steady["status"] == "ok" and steady["unstable"] is False and steady["windows"] == 2
    assert steady["rounds"] == 24 and len(steady["samples_s"]) == 2
    assert steady["images_per_sec_ci_low"] < steady["images_per_sec"] < steady["images_per_sec_ci_high"]
    assert steady["peak_host_rss_mb"] == 1002.0 and steady["compile_s"] == 3.5
    assert steady["latency_p90_supported"] is False and row_problems(steady) == []
    shaky = combine_windows(
        case, [_window(case, 1, _steps(3, 12, 0.4)), _window(case, 2, _steps(4, 12, 0.6))]
    )
    assert shaky["unstable"] is True and shaky["unstable_p"] < 0.01 and shaky["window_spread"] > 0.3
    failed = _window(case, 2, [0.4])
    failed.update(status="error", reason="worker killed by SIGKILL")
    broken = combine_windows(case, [_window(case, 1, _steps(5, 12, 0.4)), failed])
    assert broken["status"] == "error" and broken["reason"] == "window 2 of 2: worker killed by SIGKILL"


def test_a_paired_group_names_every_ratio():
    from resnet.engine.kinds.paired import PairedGroup

    group = PairedGroup("inference", 32, "cpu", False, 224, None, "tensorflow", ("v1", "v1.5", "v2"),
                        ("float32", "mixed_bfloat16"))  # fmt: skip
    assert group.id == "paired-inference-bs32-cpu"
    assert len(group.members) == 6
    comparisons = group.comparisons()
    assert ("version", "v1.5", "v1", "float32") in comparisons
    assert ("precision", "mixed_bfloat16", "float32", "v2") in comparisons
    assert len(comparisons) == 4 + 3


def test_a_fast_precision_block_gets_rounds_for_the_minimum_time_spread_with_the_slow_one():
    from resnet.engine.kinds.paired import MAX_PAIRED_ROUNDS, block_rounds, schedule

    # float32 steps of 1.3-1.4 s beside emulated bfloat16 steps of 4.8 s: 50 s each.
    warm = {"float32": [1.4, 1.3, 1.35], "mixed_bfloat16": [4.8, 5.0, 4.9]}
    blocks = block_rounds(warm, 8, 50.0)
    assert blocks == {"float32": 39, "mixed_bfloat16": 11}  # ceil(50 / 1.3), ceil(50 / 4.8)
    assert block_rounds(warm, 16, None) == {"float32": 16, "mixed_bfloat16": 16}
    assert block_rounds(warm, 8, 5.0) == {"float32": 8, "mixed_bfloat16": 8}  # rounds is a floor
    assert block_rounds({"float32": [1e-9]}, 2, 60.0) == {"float32": MAX_PAIRED_ROUNDS}
    plan = schedule(blocks)
    assert len(plan) == 39 and all("float32" in r for r in plan)
    slow = [i for i, r in enumerate(plan) if "mixed_bfloat16" in r]
    assert len(slow) == 11 and max(b - a for a, b in itertools.pairwise(slow)) <= 4  # spread out
    assert slow[-1] == 38 and slow[0] < 4  # from the start to the end of the comparison
    assert schedule({"float32": 5, "mixed_bfloat16": 5}) == [["float32", "mixed_bfloat16"]] * 5


class _FakeWorker:
    """A worker whose first step of each model (the warm-up) takes 1 s and every later
    step 0.125 s (float32) or 0.25 s (bfloat16): the plan from the warm-up is too short."""

    def __init__(self, **_):
        self.seen = set()
        self.info = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def call(self, cmd, slot=None, **_):
        if cmd != "step":
            return {}
        first = slot not in self.seen
        self.seen.add(slot)
        return {"seconds": 1.0 if first else (0.25 if "bfloat16" in slot else 0.125)}


def _paired_run(**settings):
    """A run for measure_paired: its plan's settings, a case timeout, nowhere to report."""
    from types import SimpleNamespace

    from resnet.engine.plan import Axes, RunPlan, Settings

    axes = Axes(("v1",), ("inference",), (8,), ("float32",), ("cpu",), (False,), 224, (None,))
    plan = RunPlan(axes, Settings(rounds=3, warmup_rounds=1, seed=3, **settings))
    return SimpleNamespace(plan=plan, case_timeout=60, remember_info=lambda info: None)


class _FakeBenchmark:
    def pedantic(self, fn, rounds, iterations=1):
        for _ in range(rounds):
            fn()


def test_a_block_whose_warm_up_ran_slow_gets_extra_rounds_until_it_has_its_time(monkeypatch):
    from resnet.engine.kinds import base
    from resnet.engine.kinds.paired import PairedGroup, measure_paired

    monkeypatch.setattr(base, "WorkerClient", _FakeWorker)
    group = PairedGroup("inference", 32, "cpu", False, 224, None, "tensorflow", ("v1", "v1.5", "v2"),
                        ("float32", "mixed_bfloat16"))  # fmt: skip
    run = _paired_run(paired_rounds=2, paired_min_time=(("inference", 3.0),))
    rows = {
        r["case_id"].removeprefix(group.id + "-"): r for r in measure_paired(run, group, _FakeBenchmark())
    }
    # Planned from 1 s warm-up steps: 3 rounds a block; 0.125 s and 0.25 s steps need 24 and 12.
    assert rows["float32-v1.5/v1"]["pairs"] == 24
    assert rows["mixed_bfloat16-v1.5/v1"]["pairs"] == 12
    assert rows["v1.5-mixed_bfloat16/float32"]["pairs"] == 12  # the rounds both ran in
    assert sum(rows["float32-v1.5/v1"]["samples_s"][1]) == pytest.approx(3.0)


class _NoisyWorker(_FakeWorker):
    """Steps of 0.1 s (v1.5: 6% longer) with seeded log-normal noise of ``SPREAD``."""

    SPREAD = 0.0

    def __init__(self, **_):
        super().__init__()
        self.rng = np.random.default_rng(11)

    def call(self, cmd, slot=None, **_):
        if cmd != "step":
            return {}
        base = 0.106 if slot.startswith("v1.5/") else 0.1
        return {"seconds": base * float(np.exp(self.rng.normal(0.0, self.SPREAD)))}


@pytest.mark.parametrize("spread, float32_rounds", [(0.002, 10), (0.2, 40)])
def test_a_block_goes_on_while_its_version_ratios_are_wider_than_asked(monkeypatch, spread, float32_rounds):
    """Steady steps stop at the minimum (1 s: 10 rounds of 0.1 s); noisy ones go on to
    the maximum (4 s: 40 rounds), the interval of v1.5/v1 narrowing as they do."""
    from resnet.engine.kinds import base
    from resnet.engine.kinds.paired import PairedGroup, measure_paired

    monkeypatch.setattr(_NoisyWorker, "SPREAD", spread)
    monkeypatch.setattr(base, "WorkerClient", _NoisyWorker)
    group = PairedGroup("training", 8, "cpu", False, 224, None, "tensorflow", ("v1", "v1.5"), ("float32",))
    run = _paired_run(paired_rounds=8, paired_min_time=(("training", 1.0),), paired_width=3.0,
                      paired_max_time=(("training", 4.0),))  # fmt: skip
    rows = {
        r["case_id"].removeprefix(group.id + "-"): r for r in measure_paired(run, group, _FakeBenchmark())
    }
    row = rows["float32-v1.5/v1"]
    assert row["pairs"] == pytest.approx(float32_rounds, abs=1)
    assert row["ratio_ci_low"] < 1 / 1.06 < row["ratio_ci_high"]


def test_stopping_on_the_width_keeps_the_interval_honest():
    """The rule run on synthetic rounds (true ratio 0.94, log-normal noise of 5%): after 8
    rounds, one more round at a time while wider than 3% either way, at most 60. The
    interval still covers the truth in about 95% of seeded trials, and it narrows."""
    from resnet.engine.kinds.paired import PairedGroup, narrow

    group = PairedGroup("inference", 32, "cpu", False, 224, None, "tensorflow", ("v1", "v1.5"), ("float32",))
    covered, stopped_early = 0, 0
    for trial in range(200):
        rng = np.random.default_rng(5000 + trial)
        times = {"v1/float32": {}, "v1.5/float32": {}}
        for i in itertools.count():
            drift = float(np.exp(rng.normal(0, 0.2)))  # the machine's speed this round: both alike
            times["v1/float32"][i] = drift * float(np.exp(rng.normal(0, 0.05)))
            times["v1.5/float32"][i] = drift / 0.94 * float(np.exp(rng.normal(0, 0.05)))
            if i + 1 >= 8 and (narrow(times, group, "float32", 3.0) or i + 1 >= 60):
                break
        stopped_early += i + 1 < 60
        _, lo, hi = paired_ratio(list(times["v1.5/float32"].values()), list(times["v1/float32"].values()))
        covered += lo <= 0.94 <= hi
    assert covered >= 182  # 95% nominal: at least 91% of 200
    assert stopped_early >= 100  # the rule does stop before the cap


def test_the_wilcoxon_interval_covers_the_centre_and_is_exact():
    from resnet.stats import _signed_rank_counts, hodges_lehmann_interval

    counts = _signed_rank_counts(10)
    assert counts.sum() == 2**10 and counts[0] == 1 and counts[55] == 1
    est, lo, hi = hodges_lehmann_interval(range(1, 11))
    assert est == 5.5 and (lo, hi) == (3.0, 8.0)  # W(9) and W(47) of the 55 Walsh averages
    assert np.isnan(hodges_lehmann_interval([1, 2, 3, 4, 5])[1])  # n = 5: no 95% interval
    covered = 0
    for s in range(200):
        x = np.random.default_rng(900 + s).normal(0.3, 1.0, 12)
        _, lo, hi = hodges_lehmann_interval(x)
        covered += lo <= 0.3 <= hi
    assert 180 <= covered <= 200  # 95% nominal; exact for symmetric noise

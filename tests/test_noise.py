"""Figures on a noisy machine (#36): stability told at small n, windows added until a target
precision or the time budget, the machine-speed probe in the case's dtype between steps, and
the raw JSON carrying what the loader derives; a real noisy neighbour end to end."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from resnet.engine.errors import UsageError
from resnet.engine.finish import finished_rows
from resnet.engine.kinds.case import set_utilization
from resnet.engine.kinds.windows import least_windows, precision_pct, stop_reason, windows, windows_of
from resnet.engine.options import parse_options
from resnet.engine.plan import Settings, resolve
from resnet.engine.sweep import expectation
from resnet.stats import stability
from tests.sweeps import run_bench

ROOT = Path(__file__).resolve().parents[1]
NEIGHBOUR = ROOT.parent / "shared" / "tools" / "noisy-neighbour.py"


def _steps(median: float, n: int, cv: float, seed: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(median * np.exp(rng.normal(0, cv, n)))


def test_stability_is_told_at_three_steps_a_window():
    # Steady steps (1% noise), windows 15% apart: the F test sees it with 3 steps each, where
    # Kruskal-Wallis at 1% never can (its smallest p-value for 2 x 3 steps is 0.05).
    verdict, p, spread = stability([_steps(1.0, 3, 0.01, 1), _steps(1.15, 3, 0.01, 2)])
    assert verdict == "unstable" and p < 0.01 and spread == pytest.approx(0.15, abs=0.03)
    assert stability([_steps(1.0, 3, 0.01, 3), _steps(1.0, 3, 0.01, 4)])[0] == "stable"
    # Steps too noisy to tell a 10% difference: unknown, never stable by default.
    assert stability([_steps(1.0, 3, 0.08, 5), _steps(1.03, 3, 0.08, 6)])[0] == "unknown"
    # One window, or one step a window: nothing to test against.
    assert stability([_steps(1.0, 20, 0.01, 7)])[0] == "unknown"
    assert stability([[1.0], [1.02]])[0] == "unknown"


def test_windows_far_apart_are_unstable_whatever_their_steps_say():
    noisy = [_steps(1.0, 3, 0.3, 8), _steps(1.4, 3, 0.3, 9)]
    verdict, _, spread = stability(noisy)
    assert spread > 0.25 and verdict == "unstable"
    assert stability([[1.0], [2.0]])[0] == "unstable"  # one step a window, 2x apart


def test_windows_options_fix_or_adapt_the_count():
    quick = resolve(parse_options({"devices": "cpu"})).settings
    got = (quick.windows, quick.most_windows, quick.target_precision, quick.time_budget)
    assert got == (3, 6, 3.0, 1440.0)
    fixed = resolve(parse_options({"devices": "cpu", "windows": "3"})).settings
    assert fixed.target_precision is None and fixed.most_windows == 3  # --windows N fixes the count
    both = resolve(parse_options({"devices": "cpu", "windows": "3", "target_precision": "5%"})).settings
    assert (both.windows, both.most_windows, both.target_precision) == (3, 6, 5.0)
    budget = resolve(parse_options({"devices": "cpu", "time_budget": "10"})).settings
    assert budget.time_budget == 600.0
    assert not resolve(parse_options({"devices": "cpu", "time_budget": "off"})).settings.time_budget
    with pytest.raises(UsageError, match="--max-windows 2 is below --windows 3"):
        resolve(parse_options({"devices": "cpu", "max_windows": "2"}))
    with pytest.raises(UsageError, match="--time-budget: 'soon' is not a number of minutes"):
        parse_options({"time_budget": "soon"})


def test_every_case_runs_its_least_windows_first_then_the_rest_in_shuffled_passes():
    plan = resolve(
        parse_options({"devices": "cpu", "paired": "off", "batch_sizes": "1,8", "modes": "inference"})
    )
    order = windows(plan)
    cases = {w.case for w in order}
    assert len(order) == 6 * len(cases) and {windows_of(plan, c) for c in cases} == {6}
    first = order[: 2 * len(cases)]
    assert {(w.case, w.index) for w in first} == {(c, i) for c in cases for i in (1, 2)}
    assert all(w.index <= least_windows(plan, w.case) for w in first)
    assert [w.case for w in order[: len(cases)]] != [w.case for w in order[len(cases) : 2 * len(cases)]]


def test_a_case_stops_at_its_target_precision_or_the_budget():
    settings = Settings(
        rounds=3, warmup_rounds=1, windows=2, target_precision=3.0, max_windows=6, time_budget=600
    )
    quiet, noisy = (math.log(1.01) ** 2, 20), (math.log(1.10) ** 2, 20)
    assert precision_pct(*quiet, 2) == pytest.approx(
        100 * math.expm1(2.086 * math.log(1.01) / math.sqrt(2)), 0.01
    )
    reason = stop_reason(settings, 2, quiet, elapsed=60, cost=7, still_needed=0)
    assert reason is not None and reason[0] == "precision" and "after 2 windows" in reason[1]
    assert stop_reason(settings, 2, noisy, elapsed=60, cost=7, still_needed=0) is None  # +-15%: go on
    assert stop_reason(settings, 2, (math.log(1.10) ** 2, 3), 60, 7, 0) is None  # 3 df: too few to judge
    late = stop_reason(settings, 3, noisy, elapsed=595, cost=7, still_needed=0)
    assert late is not None and late[0] == "budget" and "10 min" in late[1]
    # The windows other cases still need count against the budget.
    assert stop_reason(settings, 3, noisy, elapsed=500, cost=7, still_needed=120)[0] == "budget"
    assert stop_reason(settings, 3, noisy, elapsed=500, cost=7, still_needed=60) is None


def test_the_sweep_says_how_long_it_expects_to_take():
    plan = resolve(parse_options({"devices": "cpu"}))
    from resnet.engine.kinds.base import KINDS

    text = expectation(plan, {k.fixture: k.cases(plan) for k in KINDS.values()})
    assert text.startswith("plan: 2 paired groups, 84 case windows; expected about ")
    assert re.search(r"expected about \d+ min, up to \d+ min \(time budget 24 min\)", text)
    assert "windows per case 3 to 6, until +-3%" in text and text.endswith("not estimated: 3 builds")


def test_utilization_is_never_above_one():
    row = {"achieved_tflops": 1.44, "device_peak_tflops": 1.0, "utilization": None}
    set_utilization(row)
    assert row["utilization"] is None and row["above_peak"] is True
    row = {"achieved_tflops": 0.5, "device_peak_tflops": 1.0}
    set_utilization(row)
    assert row["utilization"] == 0.5 and row["above_peak"] is False


def _case(cid, window_medians, dtype="float32", speeds=(100.0, 100.0)):
    samples = [[m, m * 1.01, m * 0.99] for m in window_medians]
    return {
        "case_id": cid, "kind": "case", "status": "ok", "device": "cpu", "threads": 2,
        "images_per_sec": 8 / float(np.median([t for w in samples for t in w])), "samples_s": samples,
        "machine_speed_series": [[0.0, s] for s in speeds], "machine_speed_dtype": dtype,
    }  # fmt: skip


def test_a_windowed_interval_is_at_least_the_run_s_pooled_spread():
    """Two windows that happen to agree get an interval as wide as the machine's window-to-window
    spread allows; a case whose own interval is wider keeps it; one window, or a run too short
    to pool, is left as measured."""
    from resnet.stats import pooled_half_width, window_variance

    rows = [_case(f"c{i}", [0.1, 0.1 * (1.1 + 0.02 * i)]) for i in range(6)]  # windows ~10-20% apart
    rows.append(_case("agree", [0.1, 0.1]))
    rows.append(_case("wide", [0.1, 0.1]) | {"images_per_sec_ci_low": 40.0, "images_per_sec_ci_high": 160.0})
    rows.append(_case("one", [0.1]))
    for row in rows[-3:]:
        row |= {"latency_ms_p50": 100.0}
    rows[-3] |= {"images_per_sec_ci_low": 79.0, "images_per_sec_ci_high": 81.0, "latency_ms_p50_ci_low": 99.0}
    by = {r["case_id"]: r for r in finished_rows(rows)}
    variance, df = window_variance([r["samples_s"] for r in rows])
    half = pooled_half_width(variance, df, 2)
    assert df == 8 and half > 0.05
    agree = by["agree"]
    assert agree["ci_widened"] is True
    assert agree["images_per_sec_ci_low"] == pytest.approx(agree["images_per_sec"] * np.exp(-half))
    assert agree["images_per_sec_ci_high"] == pytest.approx(agree["images_per_sec"] * np.exp(half))
    assert agree["latency_ms_p50_ci_low"] == pytest.approx(100 * np.exp(-half))
    assert agree["latency_ms_p50_ci_high"] == pytest.approx(100 * np.exp(half))
    assert rows[-3]["images_per_sec_ci_low"] == 79.0  # the rows as measured stay as they were
    wide = by["wide"]
    assert wide["ci_widened"] is False and (
        wide["images_per_sec_ci_low"],
        wide["images_per_sec_ci_high"],
    ) == (40, 160)
    assert "ci_widened" not in by["one"]
    short = {r["case_id"]: r for r in finished_rows([*rows[:2], rows[-3]])}  # 3 df: too few to pool
    assert "ci_widened" not in short["agree"] and short["agree"]["images_per_sec_ci_low"] == 79.0


def test_the_run_s_end_says_what_it_widened_and_where_a_rerun_lands():
    """The progress lines show each interval as measured; the run's end says in one line
    how many windowed intervals it widened and how far a rerun may land per window count."""
    from resnet.engine.finish import closing_line
    from resnet.stats import rerun_half_width, window_variance

    wide = {"images_per_sec_ci_low": 1.0, "images_per_sec_ci_high": 1000.0}  # wider than the pool's
    rows = [_case(f"c{i}", [0.1, 0.1 * (1.1 + 0.02 * i)]) | wide for i in range(6)]
    rows += [_case("agree", [0.1, 0.1, 0.1]), _case("one", [0.1])]
    variance, df = window_variance([r["samples_s"] for r in rows])
    text = closing_line(finished_rows(rows))
    assert text.startswith(f"run's end: windows moved by {100 * np.expm1(np.sqrt(variance)):.1f}% (1 sd")
    assert f"pooled, {df} df); 1 of 7 windowed cases' intervals widened" in text
    each = [f"+-{100 * np.expm1(rerun_half_width(variance, df, n)):.1f}% with {n} window" for n in (3, 2, 1)]
    assert all(part in text for part in each) and text.endswith("(95%)")
    assert closing_line(finished_rows(rows[:3])) is None  # 3 df: too few to pool, nothing to say
    assert closing_line([]) is None


def test_the_raw_json_carries_what_the_loader_derives():
    speeds = [80.0 + 8 * i for i in range(6)]  # float32 readings: median 100
    rows = [_case(f"c{i}", [0.1, 0.1 * (1.02 + 0.01 * i)], speeds=(v, v)) for i, v in enumerate(speeds)]
    rows.append(_case("bf16", [0.05, 0.05], dtype="bfloat16", speeds=(400.0, 200.0)))
    out = finished_rows(rows)
    assert all("machine_speed_rel" not in r for r in rows)  # the rows as measured stay as they were
    by = {r["case_id"]: r for r in out}
    assert by["c0"]["machine_speed_rel"] == pytest.approx(0.8) and by["c0"]["drifted"] is True
    assert by["c3"]["machine_speed_rel"] == pytest.approx(1.04) and by["c3"]["drifted"] is False
    assert by["bf16"]["machine_speed_rel"] == pytest.approx(1.0)  # its own dtype's median, not float32's
    assert by["c0"]["images_per_sec_speed_adjusted"] == pytest.approx(by["c0"]["images_per_sec"] / 0.8)
    spread = by["c3"]["rerun_spread_pct"]
    assert spread > 0 and by["c3"]["images_per_sec_rerun_low"] < by["c3"]["images_per_sec"]
    # A rerun's figure with as many (2) windows: the pooled spread x sqrt(2 / 2), Student's t
    # with the pool's df (a normal quantile would trust a variance from 7 df as if known).
    from scipy.stats import t

    from resnet.stats import window_variance

    variance, dof = window_variance([r["samples_s"] for r in rows])
    assert dof == 7 and spread == pytest.approx(100 * np.expm1(t.ppf(0.975, dof) * np.sqrt(variance)))
    assert spread > 100 * np.expm1(1.96 * np.sqrt(variance))
    assert by["c3"]["images_per_sec_rerun_high"] == pytest.approx(
        by["c3"]["images_per_sec"] * (1 + spread / 100)
    )
    from resnet.runs import to_frame

    frame = to_frame([dict(r, run="a", source="a.json") for r in rows])
    assert list(frame["machine_speed_rel"]) == pytest.approx([r["machine_speed_rel"] for r in out])


@pytest.mark.skipif(not NEIGHBOUR.is_file(), reason=f"needs the shared noisy neighbour ({NEIGHBOUR})")
def test_under_a_real_noisy_neighbour_windows_far_apart_are_flagged(tmp_path):
    """A process that loads both cores for 2 s, then idles 2 s, again, while a small sweep
    measures three windows of each case: every case whose windows differ by more than 25% is
    flagged unstable, and the raw JSON carries each case's machine speed and drift."""
    neighbour = subprocess.Popen(
        [sys.executable, str(NEIGHBOUR), "--cores", "2", "--on", "2", "--off", "2", "--duration", "300"]
    )
    try:
        args = ["--profile", "smoke", "--versions", "v1,v1.5", "--modes", "inference", "--windows", "3"]
        args += ["--paired", "off", "--min-time", "0.3", "--benchmark-json", str(tmp_path / "run.json")]
        out = run_bench("bench/test_throughput.py", *args)
    finally:
        neighbour.kill()
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    data = json.loads((tmp_path / "run.json").read_text())
    cases = [r for r in data["resnet_bench"]["cases"] if r["kind"] == "case"]
    assert len(cases) == 2
    for row in cases:
        assert row["stability"] in ("stable", "unstable", "unknown")
        if row["window_spread"] > 0.25:
            assert row["stability"] == "unstable" and row["unstable"] is True, row["case_id"]
        assert row["machine_speed_rel"] is not None and isinstance(row["drifted"], bool)
        assert row["machine_speed_dtype"] == "float32" and len(row["machine_speed_series"]) >= 6
    for bench in data["benchmarks"]:  # pytest-benchmark's own entries carry them too
        assert bench["extra_info"]["machine_speed_rel"] is not None

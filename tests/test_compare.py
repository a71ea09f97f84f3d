"""The regression gate."""

from __future__ import annotations

import pytest

from resnet.analysis.compare import CompareError, parse_threshold
from resnet.cli import main
from tests.test_results import _row, make_run

OTHER = {"cpu_model": "Other CPU", "cpu_affinity": 8, "gpus": []}


def _run(path, ips, iqr=0.01, rss=1000.0, machine=None):
    rows = [_row(v, "inference", 8, ips=ips, peak_host_rss_mb=rss) for v in ("v1", "v1.5")]
    path = make_run(path, rows, **({"machine": machine} if machine else {}))
    import json

    data = json.loads(path.read_text())
    for b in data["benchmarks"]:
        b["stats"]["iqr"] = iqr * b["stats"]["median"]
    path.write_text(json.dumps(data))
    return path


def test_slower_run_is_a_regression(tmp_path, capsys):
    base = _run(tmp_path / "a.json", 100.0)
    new = _run(tmp_path / "b.json", 80.0)
    assert main(["compare", str(base), str(new), "--fail-on", "images_per_sec:-5%"]) == 1
    out = capsys.readouterr().out
    assert "regression" in out and "-20.0" in out


def test_plain_rerun_and_change_within_spread_pass(tmp_path, capsys):
    base = _run(tmp_path / "a.json", 100.0, iqr=0.10)
    assert main(["compare", str(base), str(_run(tmp_path / "b.json", 99.0))]) == 0
    # -7% crosses -5%, but each run's own spread is 10%: not a regression.
    noisy = _run(tmp_path / "c.json", 93.0, iqr=0.10)
    assert main(["compare", str(base), str(noisy), "--fail-on", "images_per_sec:-5%"]) == 0
    assert "within noise" in capsys.readouterr().out


def test_memory_growth_is_a_regression(tmp_path):
    base = _run(tmp_path / "a.json", 100.0, rss=1000.0)
    new = _run(tmp_path / "b.json", 100.0, rss=1200.0)
    assert main(["compare", str(base), str(new), "--fail-on", "peak_host_rss_mb:+10%"]) == 1


def test_different_machines_refused_unless_allowed(tmp_path, capsys):
    base = _run(tmp_path / "a.json", 100.0)
    new = _run(tmp_path / "b.json", 100.0, machine=OTHER)
    assert main(["compare", str(base), str(new)]) == 2
    assert "different machines" in capsys.readouterr().err
    assert main(["compare", str(base), str(new), "--allow-machine-mismatch"]) == 0


def test_a_run_copied_out_of_its_machine_folder_is_still_that_machine(tmp_path, capsys):
    from pathlib import Path

    run = (
        Path(__file__).resolve().parents[1]
        / "results/amd-epyc-zen-5-x2-avx-512-bf16/2026-12-02-quick/quick.json"
    )
    copy = tmp_path / "baseline.json"  # as a CI job downloads a baseline: no machine.json beside it
    copy.write_bytes(run.read_bytes())
    assert main(["compare", str(copy), str(run)]) == 0
    out = capsys.readouterr()
    assert "different machines" not in out.err and "comparisons" in out.out


@pytest.mark.parametrize(
    "text,message",
    [
        ("images_per_sec", "malformed"),
        ("images_per_sec:five", "malformed"),
        ("speed:-5%", "unknown metric 'speed'"),
        ("images_per_sec:+5%", "higher images_per_sec is better"),
        ("peak_host_rss_mb:-5%", "lower peak_host_rss_mb is better"),
    ],
)
def test_bad_thresholds(text, message):
    with pytest.raises(CompareError, match=message):
        parse_threshold(text)


def test_bad_input_exit_2(tmp_path, capsys):
    base = _run(tmp_path / "a.json", 100.0)
    assert main(["compare", str(base), str(base), "--fail-on", "nope:-1%"]) == 2
    other = make_run(tmp_path / "o.json", [_row("v2", "training", 64)])
    assert main(["compare", str(base), str(other)]) == 2
    assert "no cases in common" in capsys.readouterr().err
    assert main(["compare", str(base), str(tmp_path / "missing.json")]) == 2


def _with_steps(path, median_s, min_s):
    """A run of v1 and v1.5 at batch 8 whose steps have this median and minimum."""
    import json

    path = _run(path, 8 / median_s)
    data = json.loads(path.read_text())
    for b in data["benchmarks"]:
        b["stats"].update(median=median_s, min=min_s, iqr=0.02 * median_s)
    path.write_text(json.dumps(data))
    return path


def test_gate_on_the_best_step(tmp_path, capsys):
    """On a shared machine a slow spell moves the median, not the fastest step; a real
    slowdown moves both. Older files get images_per_sec_best from the fastest step."""
    from resnet.runs import load

    base = _with_steps(tmp_path / "a.json", median_s=0.150, min_s=0.117)
    assert load(base)["images_per_sec_best"].tolist() == pytest.approx([8 / 0.117] * 2)
    spell = _with_steps(tmp_path / "b.json", median_s=0.170, min_s=0.118)
    slower = _with_steps(tmp_path / "c.json", median_s=0.190, min_s=0.165)
    assert main(["compare", str(base), str(spell), "--fail-on", "images_per_sec:-5%"]) == 1
    assert main(["compare", str(base), str(spell), "--fail-on", "images_per_sec_best:-5%"]) == 0
    assert main(["compare", str(base), str(slower), "--fail-on", "images_per_sec_best:-5%"]) == 1
    assert "-29.09" in capsys.readouterr().out


def _sampled_run(path, seeds, speed=1.0, probe=None):
    """A run whose rows keep their step samples (two windows of 40 steps each), with
    the drift probe's reading when ``probe`` is given."""
    import numpy as np

    rows = []
    for version, seed in zip(("v1", "v1.5", "v2"), seeds, strict=True):
        rngs = [np.random.default_rng(seed + w) for w in (0, 1)]
        windows = [list(rng.lognormal(np.log(0.8 / speed), 0.02, 40)) for rng in rngs]
        ips = 8 / float(np.median(np.concatenate(windows)))
        rows.append(_row(version, "inference", 8, ips=ips, samples_s=windows, machine_speed_gflops=probe))
    return make_run(path, rows)


def test_compare_on_samples_states_how_many_cells_differ(tmp_path, capsys):
    base = _sampled_run(tmp_path / "a.json", (1, 11, 21))
    rerun = _sampled_run(tmp_path / "b.json", (101, 111, 121))
    assert main(["compare", str(base), str(rerun), "--fail-on", "images_per_sec:-5%"]) == 0
    out = capsys.readouterr().out
    assert "bootstrap 95% interval" in out
    assert "0 of 3 comparisons tested on their step samples differ beyond their 95% interval (0%)" in out
    slower = _sampled_run(tmp_path / "c.json", (201, 211, 221), speed=0.9)
    assert main(["compare", str(base), str(slower), "--fail-on", "images_per_sec:-5%"]) == 1
    out = capsys.readouterr().out
    assert "3 of 3 comparisons tested on their step samples differ beyond their 95% interval (100%)" in out
    assert "machine speed" not in out  # these runs kept no probe readings


def test_compare_names_the_machine_speed_of_both_runs(tmp_path, capsys):
    """A machine that ran 10% faster in the new run (drift probe) explains a speed-up of
    every case: compare prints both runs' probe speeds beside the verdicts."""
    base = _sampled_run(tmp_path / "a.json", (1, 11, 21), probe=200.0)
    faster = _sampled_run(tmp_path / "b.json", (101, 111, 121), speed=1.1, probe=220.0)
    assert main(["compare", str(base), str(faster), "--fail-on", "images_per_sec:-5%"]) == 0
    out = capsys.readouterr().out
    assert "3 improvement" in out
    assert "machine speed (drift probe, median over the cases): base 200 GFLOP/s, new 220 (+10%)" in out
    assert "note: the machine itself ran 10% faster in the new run" in out
    steady = _sampled_run(tmp_path / "c.json", (201, 211, 221), probe=206.0)  # +3%: no note
    assert main(["compare", str(base), str(steady)]) == 0
    out = capsys.readouterr().out
    assert "(+3%)" in out and "note: the machine itself" not in out


def _drifting_runs(seed, cases=12, drift=0.08, slower=1.0):
    """Two runs of ``cases`` cases, two windows of 30 steps each, on a machine whose speed
    moves by ``drift`` (log sd) from window to window; the second run ``slower``."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def run(factor):
        return [
            [list(rng.lognormal(np.log(0.5 * factor) + rng.normal(0, drift), 0.03, 30)) for _ in (1, 2)]
            for _ in range(cases)
        ]

    return run(1.0), run(slower)


def test_the_run_to_run_interval_holds_where_two_windows_cannot():
    """On a drifting machine the bootstrap of one case's two windows misses the drift
    (their range covers the centre half the time): reruns of an unchanged machine would
    differ in many cells.  The window variance pooled over each run's cases keeps them to
    about 5% (the bootstrap: about 40% here), and still finds a 40% slowdown."""
    from resnet.stats import ratio_of_medians_interval, run_ratio_interval, window_variance

    def flagged(base, new, pooled):
        vb, vn = window_variance(base), window_variance(new)
        out = 0
        for i, (b, n) in enumerate(zip(base, new, strict=True)):
            if pooled:
                _, lo, hi = run_ratio_interval(b, n, vb, vn)
            else:
                _, lo, hi = ratio_of_medians_interval(b, n, seed=i)
            out += lo > 1 or hi < 1
        return out

    same = [_drifting_runs(s) for s in range(20)]
    run_rule = sum(flagged(b, n, True) for b, n in same)
    bootstrap = sum(flagged(b, n, False) for b, n in same)
    assert run_rule <= 0.10 * 240  # 95% nominal over 20 trials x 12 cells
    assert bootstrap > 2 * run_rule
    base, slow = _drifting_runs(99, slower=1.4)  # beyond this drift's +-16% for two windows
    assert flagged(base, slow, True) >= 11


def test_compare_uses_the_run_to_run_interval_when_runs_have_windows(tmp_path, capsys):
    import numpy as np

    base_windows, new_windows = _drifting_runs(7, cases=6)
    versions = [(v, bs) for v in ("v1", "v1.5", "v2") for bs in (1, 8)]

    def write(path, runs):
        rows = [
            _row(v, "inference", bs, ips=bs / float(np.median(np.concatenate(w))), samples_s=w)
            for (v, bs), w in zip(versions, runs, strict=True)
        ]
        return make_run(path, rows)

    a, b = write(tmp_path / "a.json", base_windows), write(tmp_path / "b.json", new_windows)
    assert main(["compare", str(a), str(b), "--fail-on", "images_per_sec:-5%"]) in (0, 1)
    out = capsys.readouterr().out
    assert "run-to-run 95% interval (window spread pooled over each run's cases)" in out
    assert "window-to-window spread of a case's median step" in out and "(6 df)" in out

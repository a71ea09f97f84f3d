"""Change points over run histories (synthetic, seeded): where a change began, drift,
outliers, too-short histories, and the CI gate on the latest run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from resnet.cli import main
from tests.test_results import _row, make_run


def _write_history(tmp_path, speeds, name="runs"):
    """One run per speed, oldest first, each a v1 inference case at batch 8."""
    runs = tmp_path / name
    runs.mkdir()
    for i, speed in enumerate(speeds, start=1):
        path = make_run(runs / f"{i:04d}_run.json", [_row("v1", "inference", 8, ips=float(speed))])
        data = json.loads(path.read_text())
        data["datetime"] = f"2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00"
        data["commit_info"] = {"id": f"c{i:039d}"}
        path.write_text(json.dumps(data))
    return runs


def _changes(tmp_path, speeds):
    from resnet.analysis.history import change_points
    from resnet.runs import load_history as history

    df = history(_write_history(tmp_path, speeds), [])
    return change_points(df, "images_per_sec")


def _noisy(n, seed, level=100.0, noise=0.005):
    return level * np.random.default_rng(seed).lognormal(0, noise, n)


def test_a_10_percent_step_at_run_12_of_30_is_found_there(tmp_path):
    speeds = np.concatenate([_noisy(11, 1), _noisy(19, 2, level=90.0)])  # runs 12..30 are 10% slower
    table, _ = _changes(tmp_path, speeds)
    confirmed = table[table["status"] == "confirmed"]
    assert len(confirmed) == 1, table
    first = confirmed.iloc[0]
    run_number = int(first["run"].split()[-1][:4])  # "datetime 0012_run.json"
    assert abs(run_number - 12) <= 1
    assert first["change_pct"] == pytest.approx(-10, abs=1.5)
    assert first["commit"] == f"c{run_number:039d}"[:10]
    assert first["pvalue"] is not None and first["pvalue"] < 0.05


def test_a_slow_drift_of_1_percent_per_run_is_reported(tmp_path):
    speeds = 100.0 * 0.99 ** np.arange(15) * np.random.default_rng(3).lognormal(0, 0.002, 15)
    table, _ = _changes(tmp_path, speeds)
    assert not table.empty
    assert (table["change_pct"] < 0).all()


def test_a_single_outlier_run_is_not_a_change_point(tmp_path):
    speeds = _noisy(20, 4)
    speeds[9] = 80.0  # run 10 alone
    table, notes = _changes(tmp_path, speeds)
    assert table.empty or not (table["status"] == "confirmed").any(), table
    assert any("0010_run.json" in o for o in notes["outliers"]) or table.empty


def test_three_runs_are_too_short_and_say_so(tmp_path, capsys):
    runs = _write_history(tmp_path, [100.0, 99.0, 80.0])
    assert main(["history", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "too short for change points" in out and "need 5" in out


def test_the_gate_fails_on_a_change_that_starts_at_the_latest_run(tmp_path, capsys):
    steady = _write_history(tmp_path, _noisy(12, 5), "steady")
    assert main(["history", str(steady), "--fail-on-new", "images_per_sec:-5%"]) == 0
    dropped = _write_history(tmp_path, [*_noisy(11, 6), 80.0], "dropped")
    assert main(["history", str(dropped), "--fail-on", "images_per_sec:-5%"]) == 1  # compare's spelling
    assert "NEW CHANGE at the latest run" in capsys.readouterr().out
    assert main(["history", str(tmp_path / "nope"), "--fail-on-new", "images_per_sec:-5%"]) == 2


@pytest.mark.parametrize("command", ["history", "dashboard"])
def test_a_command_that_follows_one_metric_takes_one_fail_on(tmp_path, capsys, command):
    runs = _write_history(tmp_path, _noisy(6, 5))
    twice = ["--fail-on", "images_per_sec:-5%", "--fail-on", "latency_ms_p50:+5%"]
    out = ["--out", str(tmp_path / "site")] if command == "dashboard" else []
    assert main([command, str(runs), *twice, *out]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--fail-on given 2 times" in err and "follows one metric" in err
    assert not (tmp_path / "site").exists()


def test_the_dashboard_lists_change_points(tmp_path):
    runs = _write_history(tmp_path, np.concatenate([_noisy(8, 7), _noisy(8, 8, level=85.0)]))
    assert main(["dashboard", str(runs), "--out", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "index.html").read_text()
    assert "Change points, newest first" in page and "confirmed" in page


def test_the_interval_of_a_best_step_figure_comes_from_the_runs_not_the_median_step(tmp_path):
    """Runs that kept samples: the interval of images_per_sec_best must hold its own figure."""
    from resnet.analysis.history import change_points
    from resnet.runs import load_history as history

    runs = tmp_path / "runs"
    runs.mkdir()
    rng = np.random.default_rng(5)
    for i in range(1, 13):
        level = 1.0 if i < 8 else 0.8  # 20% slower from run 8
        steps = list(rng.lognormal(np.log(8 / (50 * level)), 0.1, 30))  # median 50 img/s, best ~70
        row = _row("v1", "inference", 8, ips=8 / float(np.median(steps)), samples_s=[steps])
        row["images_per_sec_best"] = 8 / min(steps)
        path = make_run(runs / f"{i:04d}_run.json", [row])
        data = json.loads(path.read_text())
        data["datetime"] = f"2026-11-01T{i:02d}:00:00"
        path.write_text(json.dumps(data))
    table, _ = change_points(history(runs, []), "images_per_sec_best")
    first = table[table["status"] == "confirmed"].iloc[0]
    lo, hi = (float(x) for x in first["before_95"].strip("[]").split(","))
    assert lo <= first["before"] <= hi


def test_the_statistic_is_e_divisive_s_by_its_definition():
    from resnet.analysis.history import _distances, _t_stats

    x = np.random.default_rng(3).normal(100, 2, 30)
    x[12:] += 5
    stats = _t_stats(_distances(x))
    assert stats[0] == 0
    for tau in range(1, len(x)):
        a, b = x[:tau], x[tau:]
        e = 2 * np.abs(a[:, None] - b).mean() - np.abs(a[:, None] - a).mean() - np.abs(b[:, None] - b).mean()
        assert stats[tau] == pytest.approx(tau * len(b) / len(x) * e, rel=1e-9, abs=1e-9)
    assert int(np.argmax(stats)) == 12

"""The regression gate."""

from __future__ import annotations

import pytest

from resnet.cli import main
from resnet.compare import CompareError, parse_threshold
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

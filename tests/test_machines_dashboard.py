"""Procurement tables and the dashboard, on small synthetic runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resnet.cli import main
from tests.test_results import _row, make_run

FAST = {
    "cpu_model": "Fast CPU",
    "cpu_affinity": 8,
    "gpus": [],
    "memory_gb": 62.75,
    "versions": {"keras": "3.15.1", "tensorflow": "2.21.0", "jax": "0.10.2", "numpy": "2.4.6"},
}
SLOW = {"cpu_model": "Slow CPU", "cpu_affinity": 2, "gpus": []}


def _machine_run(path, machine, scale):
    rows = [_row("v1", "inference", bs, ips=10.0 * scale * bs**0.5) for bs in (1, 8, 32)]
    rows.append(_row("v1", "inference", 64, status="oom"))
    return make_run(path, rows, machine)


def test_machines_with_prices(tmp_path, capsys):
    fast = _machine_run(tmp_path / "fast.json", FAST, 4.0)
    slow = _machine_run(tmp_path / "slow.json", SLOW, 1.0)
    prices = tmp_path / "prices.csv"
    prices.write_text("machine,price_per_hour\nFast x8,4.0\n")
    out = tmp_path / "m"
    code = main(
        [
            "machines",
            str(slow),
            str(fast),
            "--reference",
            "Slow x2",
            "--prices",
            str(prices),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = (out / "machines.md").read_text()
    assert "No price for: Slow x2" in text
    import pandas as pd

    table = pd.read_csv(out / "machines.csv").set_index("machine")
    assert table.loc["Fast x8", "speedup_vs_reference"] == pytest.approx(4.0)
    assert table.loc["Slow x2", "best_batch"] == 32
    assert table.loc["Slow x2", "largest_batch_that_fit"] == 32
    assert table.loc["Fast x8", "images_per_dollar_rented"] == pytest.approx(40 * 32**0.5 * 3600 / 4.0)
    assert pd.isna(table.loc["Slow x2", "images_per_dollar_rented"])
    assert (out / "speedup_vs_reference.png").exists() and (out / "machines.html").exists()
    # System and software columns: memory and the framework's versions where the run has them.
    assert table.loc["Fast x8", "memory_gb"] == pytest.approx(62.8)
    assert table.loc["Fast x8", "framework"] == "keras 3.15.1, tensorflow 2.21.0"  # the backend's, not jax's
    assert pd.isna(table.loc["Slow x2", "memory_gb"]) and pd.isna(table.loc["Slow x2", "framework"])
    assert table.loc["Fast x8", "cores"] == 8 and table.loc["Fast x8", "accelerator"] == "none"


@pytest.mark.parametrize(
    "content,message",
    [
        ("name,price\nx,1\n", "missing column 'machine'"),
        ("machine,cost\nx,1\n", "needs a 'price_per_hour' or a 'purchase_price'"),
        ("machine,purchase_price\nx,1\n", "needs a 'years' column"),
        ("machine,price_per_hour\nx,-1\n", "price_per_hour must be a positive number"),
        ("machine,price_per_hour\nx,cheap\n", "is not a number"),
    ],
)
def test_bad_price_files(tmp_path, capsys, content, message):
    run = _machine_run(tmp_path / "a.json", FAST, 1.0)
    prices = tmp_path / "p.csv"
    prices.write_text(content)
    out = tmp_path / "m"
    assert main(["machines", str(run), "--prices", str(prices), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()  # nothing written half-way


def _history(tmp_path, speeds, spread=0.02):
    runs = tmp_path / "runs" / "Linux-CPython-3.11-64bit"
    runs.mkdir(parents=True)
    for i, speed in enumerate(speeds, start=1):
        path = make_run(runs / f"{i:04d}_run.json", [_row("v1", "inference", 8, ips=speed)])
        data = json.loads(path.read_text())
        data["datetime"] = f"2026-11-2{i}T10:00:00"
        for b in data["benchmarks"]:
            b["stats"]["iqr"] = spread * b["stats"]["median"]
        path.write_text(json.dumps(data))
    return tmp_path / "runs"


def test_dashboard_flags_the_slow_run_only(tmp_path, capsys):
    runs = _history(tmp_path, [100.0, 99.0, 60.0])
    out = tmp_path / "site"
    assert main(["dashboard", str(runs), "--out", str(out)]) == 0
    assert "1 regression(s) marked" in capsys.readouterr().out
    page = (out / "index.html").read_text()
    assert "REGRESSION" in page and "0003_run.json" in page
    assert page.count("data:image/png;base64,") == 1


def test_dashboard_plain_reruns_not_flagged(tmp_path, capsys):
    runs = _history(tmp_path, [100.0, 98.0, 101.0])
    assert main(["dashboard", str(runs), "--out", str(tmp_path / "site")]) == 0
    assert "0 regression(s) marked" in capsys.readouterr().out


def test_dashboard_empty_directory(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["dashboard", str(tmp_path / "empty"), "--out", str(tmp_path / "site")]) == 2
    assert "no readable runs" in capsys.readouterr().err


def test_dashboard_marks_a_regression_whose_case_did_not_finish(tmp_path):
    """A run where a gated case failed (a regression with no figure to mark) still gives a
    page: the committed Zen 4 quick runs hold one."""
    from resnet.cli import main

    folder = Path(__file__).resolve().parents[1] / "results" / "amd-epyc-zen-4-x2-avx-512-bf16"
    assert main(["dashboard", str(folder), "--out", str(tmp_path / "dash")]) == 0
    assert "regressions" in (tmp_path / "dash" / "index.html").read_text()


def test_the_reference_is_a_machine_with_intervals_and_other_software_paths_are_marked(tmp_path, capsys):
    import pandas as pd

    from resnet.analysis.procurement import clean_version

    # No interval on the first machine's figures; the second's carry theirs and ran OpenVINO.
    plain = make_run(tmp_path / "a.json", [_row("v1", "inference", 8, ips=10.0)], SLOW)
    openvino = _row(
        "v1", "inference", 8, ips=30.0, images_per_sec_ci_low=28.0, images_per_sec_ci_high=31.0,
        runtime="openvino", runtime_version="2026.4.1-22982-e213a147257-releases/2026/4",
    )  # fmt: skip
    fast = make_run(tmp_path / "b.json", [openvino], FAST)
    out = tmp_path / "m"
    assert main(["machines", str(plain), str(fast), "--out", str(out)]) == 0
    table = pd.read_csv(out / "machines.csv").set_index("machine")
    text = (out / "machines.md").read_text()
    assert "Reference machine: Fast x8 (the first whose best figures carry intervals" in text
    assert table.loc["Slow x2", "speedup_vs_reference"] == pytest.approx(1 / 3, abs=1e-3)
    assert pd.isna(table.loc["Slow x2", "speedup_ci_low"])  # its own figure has none: none made up
    assert table.loc["Fast x8", "speedup_ci_low"] == pytest.approx(28 / 31, abs=1e-3)
    assert not table.loc["Slow x2", "same_software_as_reference"]
    assert "1 speed-up(s) compare a different software path" in text
    assert table.loc["Fast x8", "software"] == "tensorflow -> openvino 2026.4.1"
    assert table.loc["Fast x8", "date"] == "2026-11-26"
    assert clean_version("1.23.2") == "1.23.2" and clean_version("nightly") == "nightly"
    assert clean_version(None) is None

"""The gate over a whole run: a uniform slowdown that every cell alone calls noise fails it,
an unchanged run and honest back-to-back pairs pass it, a machine that changed is named,
and the run-wide interval holds its coverage on seeded synthetic runs."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from resnet.cli import main

ROOT = Path(__file__).resolve().parents[1]
MACHINE = ROOT / "results" / "intel-xeon-emerald-rapids-x2-no-bf16"
PER_SECOND = ("images_per_sec", "images_per_sec_mean", "images_per_sec_best", "images_per_sec_ci_low",
              "images_per_sec_ci_high", "achieved_tflops", "utilization")  # fmt: skip
TIMES = (
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p99",
    "latency_ms_p50_ci_low",
    "latency_ms_p50_ci_high",
)


def slowed(data: dict, factor: float) -> dict:
    """A run whose every step took ``factor`` times as long (samples, medians, intervals,
    pytest-benchmark's statistics), the drift probe untouched: the machine did not change."""

    def scale(row: dict) -> None:
        for name in PER_SECOND:
            if isinstance(row.get(name), float):
                row[name] /= factor
        for name in TIMES:
            if isinstance(row.get(name), float):
                row[name] *= factor
        if isinstance(row.get("samples_s"), list) and row.get("kind") != "paired":
            row["samples_s"] = [[x * factor for x in w] for w in row["samples_s"]]
        if isinstance(row.get("window_images_per_sec"), list):
            row["window_images_per_sec"] = [x / factor if x else x for x in row["window_images_per_sec"]]

    out = json.loads(json.dumps(data))
    for row in out["resnet_bench"]["cases"]:
        scale(row)
    for bench in out["benchmarks"]:
        scale(bench["extra_info"])
        for key in ("min", "max", "mean", "median", "stddev", "iqr", "q1", "q3"):
            if isinstance(bench["stats"].get(key), float):
                bench["stats"][key] *= factor
    return out


@pytest.fixture
def filed(tmp_path) -> Path:
    """A folder filed under the committed Intel machine (its machine.json), for new runs."""
    folder = tmp_path / "results" / MACHINE.name
    (folder / "runs").mkdir(parents=True)
    shutil.copy(MACHINE / "machine.json", folder / "machine.json")
    return folder / "runs"


def test_a_five_percent_slowdown_of_every_cell_fails_the_gate(filed, capsys):
    base = json.loads((MACHINE / "2026-11-29-quick" / "quick-b.json").read_text())
    (filed / "base.json").write_text(json.dumps(base))
    (filed / "slow.json").write_text(json.dumps(slowed(base, 1.05)))
    (filed / "same.json").write_text(json.dumps(base))
    gate = ["--fail-on", "images_per_sec:-3%"]
    assert main(["compare", str(filed / "base.json"), str(filed / "slow.json"), *gate]) == 1
    out = capsys.readouterr().out
    assert "24 comparisons: 24 within noise" in out  # every cell alone: noise
    line = next(x for x in out.splitlines() if x.startswith("run-wide images_per_sec"))
    assert line.startswith("run-wide images_per_sec over 24 cells: -4.76% [") and line.endswith("REGRESSION")
    assert main(["compare", str(filed / "base.json"), str(filed / "same.json"), *gate]) == 0
    assert "run-wide images_per_sec over 24 cells: +0.00%" in capsys.readouterr().out


@pytest.mark.parametrize("pair", ["2026-11-28-quick", "2026-11-29-quick", "2026-11-29-quick-new",
                                  "2026-11-29-quick-paired-width"])  # fmt: skip
def test_honest_back_to_back_pairs_pass_and_a_faster_machine_is_named(pair, capsys):
    folder = MACHINE / pair
    assert main(["compare", str(folder / "quick-a.json"), str(folder / "quick-b.json"),
                 "--fail-on", "images_per_sec:-3%"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("run-wide images_per_sec over"))
    assert "REGRESSION" not in line and "while the machine itself moved" in line
    if pair == "2026-11-29-quick-paired-width":  # the host ran 10% faster in run B
        assert "the machine itself ran 10% faster in the new run" in out


def _synthetic_pair(rng, cells: int, change: float, beta: float = 0.8):
    """Two runs' cells: log ratios d = change + beta * true machine change + cell noise, and
    what the probe read of each cell's machine change (with its own noise). The spreads are
    those of the committed runs: 10% window to window (two windows a case), the machine's
    state 6% apart between runs, 4% between the cases of a run, the probe's reading 2%."""
    shared = rng.normal(0, 0.06)
    state = shared + rng.normal(0, 0.04, cells)
    d = change + beta * state + rng.normal(0, 0.10, cells)  # two windows a run, two runs
    probe = state + rng.normal(0, 0.02, cells)
    return d, probe


def test_the_run_wide_interval_covers_the_truth_and_finds_uniform_changes():
    from resnet.stats import run_wide_change

    rng = np.random.default_rng(2026)
    trials, cells = 400, 24
    covered = 0
    for _ in range(trials):
        d, probe = _synthetic_pair(rng, cells, 0.0)
        _, low, high = run_wide_change(d.tolist(), probe.tolist())
        covered += low <= 1 <= high
    assert covered / trials >= 0.92, covered  # nominal 95%
    # Measured with these spreads (1,000 trials, seed 7): power 18% at -3%, 40% at -5%, 84% at
    # -10% for 24 cells; the floors leave room for this seed's 400 trials.
    for change, least in ((-0.05, 0.3), (-0.03, 0.1), (-0.10, 0.75)):
        found = 0
        for _ in range(trials):
            d, probe = _synthetic_pair(rng, cells, math.log1p(change))
            _, low, high = run_wide_change(d.tolist(), probe.tolist())
            found += high < 1
        assert found / trials >= least, (change, found)


def test_without_probe_readings_the_plain_mean_is_used():
    from resnet.stats import run_wide_change

    ratio, low, high = run_wide_change([math.log(0.95)] * 24)
    assert ratio == pytest.approx(0.95) and low == pytest.approx(0.95) and high == pytest.approx(0.95)
    ratio, low, high = run_wide_change([0.01, -0.01, 0.02, -0.02])
    assert low < 1 < high
    assert math.isnan(run_wide_change([0.1])[1])


def test_pytest_benchmark_groups_cases_measured_alike():
    from resnet.schema import benchmark_group

    row = {"kind": "case", "version": "v1.5", "runtime": "openvino",
           "case_id": "v1.5-inference-bs32-mixed_bfloat16-cpu-openvino"}  # fmt: skip
    assert benchmark_group(row) == "inference-bs32-mixed_bfloat16-cpu"  # beside v1, v2 and Keras
    window = {
        "kind": "window",
        "version": "v1",
        "runtime": "keras",
        "case_id": "v1-training-bs8-float32-cpu@w2",
    }
    assert benchmark_group(window) == "training-bs8-float32-cpu"
    assert benchmark_group({"kind": "build", "case_id": "build-v1"}) == "build"
    assert benchmark_group(
        {"kind": "pipeline", "stage": "decode", "case_id": "pipeline-pil-decode-w1-bs32"}
    ) == ("pipeline-decode")


def test_compare_appends_a_summary_for_the_job(filed, tmp_path, capsys):
    base = json.loads((MACHINE / "2026-11-29-quick" / "quick-b.json").read_text())
    (filed / "base.json").write_text(json.dumps(base))
    (filed / "slow.json").write_text(json.dumps(slowed(base, 1.05)))
    summary = tmp_path / "step-summary.md"
    summary.write_text("## an earlier step's summary\n")
    argv = ["compare", str(filed / "base.json"), str(filed / "slow.json"), "--fail-on", "images_per_sec:-3%"]
    assert main([*argv, "--markdown", str(summary)]) == 1
    text = summary.read_text()
    assert text.startswith("## an earlier step's summary\n")  # appended, never replaced
    first = text.splitlines()[1]
    assert first == "### resnet-bench compare: REGRESSION: the gate fails"
    assert "**run-wide images\\_per\\_sec**" in text or "**run-wide images_per_sec**" in text
    assert "Cells that changed" not in text  # no cell alone changed
    assert "<details><summary>All 24 comparisons</summary>" in text


def test_history_appends_a_summary_for_the_job(tmp_path):
    runs = ROOT / "results" / "intel-xeon-emerald-rapids-x2-no-bf16" / "2026-11-28-history"
    summary = tmp_path / "summary.md"
    code = main(["history", str(runs), "--metric", "images_per_sec_best", "--markdown", str(summary)])
    assert code in (0, 1)
    text = summary.read_text()
    assert text.startswith("### resnet-bench history: ") and "14 runs" in text


def test_historys_newest_run_is_checked_run_wide(tmp_path, capsys):
    from tests.test_results import _row, make_run

    folder = tmp_path / "runs"
    folder.mkdir()
    versions = ("v1", "v1.5", "v2")
    for i, factor in enumerate((1.0, 1.01, 0.99, 1.0, 0.95)):  # the newest run: 5% slower in every case
        rows = [_row(v, "inference", bs, ips=10.0 * bs * factor * (1 + 0.001 * j))
                for j, (v, bs) in enumerate((v, bs) for v in versions for bs in (1, 2, 4, 8))]  # fmt: skip
        path = make_run(folder / f"run{i}.json", rows)
        data = json.loads(path.read_text())
        data["datetime"] = f"2026-12-0{i + 1}T10:00:00"
        path.write_text(json.dumps(data))
    assert main(["history", str(folder), "--fail-on-new", "images_per_sec:-3%"]) == 1
    out = capsys.readouterr().out
    assert "NEW CHANGE at the latest run: run-wide images_per_sec" in out and "over 12 cases" in out


def test_the_throughput_table_shows_the_paired_groups_figure_beside_the_cells_own():
    import pandas as pd

    from resnet.analysis.tables import throughput_table
    from resnet.runs import to_frame
    from resnet.schema import Case, new_row

    case = Case("v1.5", "inference", 32, "float32", "cpu", False)
    alone = {**new_row(case), "status": "ok", "images_per_sec": 45.7, "images_per_sec_ci_low": 45.7,
             "images_per_sec_ci_high": 49.3, "rounds": 3, "source": "r.json", "machine": "m"}  # fmt: skip
    ratio = {**new_row(case, kind="paired"), "status": "ok", "comparison": "version", "numerator": "v1.5",
             "denominator": "v1", "case_id": "paired-inference-bs32-cpu-float32-v1.5/v1", "source": "r.json",
             "machine": "m", "samples_s": [[0.64 + 0.001 * i for i in range(48)], [0.6] * 48]}  # fmt: skip
    table = throughput_table(to_frame([alone, ratio]))
    cell = table.iloc[0]["bs 32"]
    assert cell.startswith("48.2 [") and "n=48 paired (alone: 45.7 [45.7, 49.3] n=3*)" in cell
    assert isinstance(table, pd.DataFrame)


GROUPED = ROOT / "results" / "amd-epyc-zen-4-x2-avx-512-bf16" / "2026-12-02-groups"


@pytest.mark.skipif(not (GROUPED / "a.json").is_file(), reason="the grouped runs are not committed here")
def test_pytest_benchmark_compare_groups_the_committed_runs():
    """pytest-benchmark's own `compare` over two committed runs: one table per group of
    comparable cases (mode, batch, precision, device), never batch 2 beside batch 4 or
    inference beside training, and each case in its group once per run."""
    import subprocess
    import sys

    bench = Path(sys.executable).with_name("pytest-benchmark")
    out = subprocess.run(
        [str(bench), "compare", str(GROUPED / "a.json"), str(GROUPED / "b.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    tables = re.split(r"-+ benchmark '([^']+)': (\d+) tests -+", out.stdout)
    groups = dict(zip(tables[1::3], zip(tables[2::3], tables[3::3], strict=True), strict=True))
    assert {"inference-bs2-float32-cpu-32px", "training-bs4-float32-cpu-32px"} <= set(groups)
    for name, (count, body) in groups.items():
        mode, batch = name.split("-")[:2]
        lines = [line for line in body.splitlines() if line.startswith("test_")]
        assert int(count) == len(lines) == 6, name  # three versions, two runs
        assert all(f"-{mode}-{batch}-" in line for line in lines), name

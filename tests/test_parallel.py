"""The readers' work over several processes gives what one process gives: the change-point
search (and the library's own answer), reading files, consecutive comparisons, and the
setting that chooses how many processes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from resnet import parallel
from resnet import runs as run_layer
from resnet.analysis import compare as compare_module
from resnet.analysis import history
from resnet.analysis.compare import Threshold, compare_consecutive
from resnet.analysis.synthetic import write_synthetic_runs
from resnet.cli import main


def _series(kind: str, n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(100, 2, n)
    if kind == "step":
        x[n // 2 :] -= 6
    elif kind == "two":
        x[n // 3 :] -= 6
        x[2 * n // 3 :] += 9
    elif kind == "outlier":
        x[n // 2] = 140
    return x


@pytest.mark.parametrize("kind", ["flat", "step", "two", "outlier"])
@pytest.mark.parametrize("n", [12, 150])
def test_the_search_finds_the_library_s_own_change_points(kind, n):
    energy_statistics = pytest.importorskip(
        "signal_processing_algorithms.energy_statistics.energy_statistics",
        reason="the library to compare with: pip install --no-deps signal-processing-algorithms "
        "more-itertools structlog (it pins numpy<2)",
    )

    for seed in range(3):
        x = _series(kind, n, seed)
        np.random.seed(seed)
        found = energy_statistics.e_divisive(x, pvalue=history.PVALUE, permutations=history.PERMUTATIONS)
        theirs = sorted(found)
        np.random.seed(seed)
        assert sorted(history.e_divisive(x)) == theirs, (kind, n, seed)


def _history_frame(tmp_path) -> pd.DataFrame:
    runs = tmp_path / "runs"
    write_synthetic_runs(runs, 40, 4, steps=5, dated=True)
    for i, path in enumerate(sorted(runs.glob("*.json"))):  # case0 and case2 10% slower from run 25
        data = json.loads(path.read_text())
        for bench in data["benchmarks"]:
            extra = bench["extra_info"]
            if i >= 25 and extra["case_id"] in ("case0", "case2"):
                extra["images_per_sec"] *= 0.9
                extra["samples_s"] = [[t / 0.9 for t in w] for w in extra["samples_s"]]
        path.write_text(json.dumps(data))
    return run_layer.load_history(runs, [])


def test_change_points_over_two_processes_equal_one_process(tmp_path, monkeypatch):
    df = _history_frame(tmp_path)
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    serial, serial_notes = history.change_points(df, "images_per_sec")
    assert set(serial["case_id"]) >= {"case0", "case2"}, serial
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    monkeypatch.setattr(history, "PARALLEL_WORK", 0)
    calls = []
    real = parallel._executor
    monkeypatch.setattr(parallel, "_executor", lambda size: calls.append(size) or real(size))
    spread, spread_notes = history.change_points(df, "images_per_sec")
    assert calls == [2]  # it did run over two processes
    pd.testing.assert_frame_equal(serial, spread)
    assert serial_notes == spread_notes


def test_reading_files_over_two_processes_equals_one_process(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    paths = write_synthetic_runs(runs, 6, 3, steps=4, dated=True)
    (runs / "broken.json").write_text("{not json")
    files = [*paths, runs / "broken.json", paths[0]]  # a bad file, and one given twice
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    errors_one: list = []
    one = run_layer.load(files, errors=errors_one)
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    monkeypatch.setattr(run_layer.folders, "PARALLEL_FILES", 1)
    errors_two: list = []
    two = run_layer.load(files, errors=errors_two)
    pd.testing.assert_frame_equal(one, two)
    assert [str(e) for e in errors_one] == [str(e) for e in errors_two] and len(errors_two) == 1
    assert errors_two[0].path.endswith("broken.json")
    with pytest.raises(run_layer.LoadError, match=r"broken\.json: not JSON"):
        run_layer.load(files)  # without an errors list, the bad file raises, as in one process


def test_consecutive_comparisons_over_two_processes_equal_one_process(tmp_path, monkeypatch):
    df = _history_frame(tmp_path)
    runs = [group for _, group in df.groupby("run", sort=False)]
    threshold = [Threshold("images_per_sec", -5.0)]
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    one = compare_consecutive(runs, threshold)
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    monkeypatch.setattr(compare_module, "PARALLEL_RUNS", 2)
    two = compare_consecutive(runs, threshold)
    assert one[0] is None and len(one) == len(two) == len(runs)
    for a, b in zip(one[1:], two[1:], strict=True):
        pd.testing.assert_frame_equal(a, b)
    # and each equals compare() of the pair itself
    pd.testing.assert_frame_equal(two[26], compare_module.compare(runs[25], runs[26], threshold))
    assert (two[25]["verdict"] == "regression").sum() == 2  # the step: case0 and case2


def test_split_keeps_order_and_leaves_no_slice_empty():
    assert parallel.split(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert parallel.split([1, 2], 5) == [[1], [2]]


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_jobs_setting_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, value):
    monkeypatch.setenv(parallel.JOBS_ENV, value)
    with pytest.raises(parallel.JobsError):
        parallel.jobs()
    assert main(["dashboard", str(tmp_path), "--out", str(tmp_path / "site")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"RESNET_BENCH_JOBS='{value}'" in err and "1 or more" in err
    assert not (tmp_path / "site").exists()


def test_the_statistic_is_the_library_s():
    es = pytest.importorskip(
        "signal_processing_algorithms.energy_statistics.energy_statistics",
        reason="the library to compare with: pip install --no-deps signal-processing-algorithms",
    )
    for kind in ("flat", "step", "outlier"):
        x = _series(kind, 80, 1)
        theirs = es._calculate_t_stats(es._get_distance_matrix(es._get_valid_input(x)))
        np.testing.assert_allclose(history._t_stats(history._distances(x)), theirs, rtol=1e-9, atol=1e-9)


def test_long_work_says_what_it_is_doing_and_short_work_stays_quiet(monkeypatch, capsys):
    from resnet.parallel import PROGRESS_ITEMS, parallel_map

    monkeypatch.setenv("RESNET_BENCH_JOBS", "1")
    assert parallel_map(abs, list(range(-PROGRESS_ITEMS + 1, 0)), what="negatives") == list(
        range(PROGRESS_ITEMS - 1, 0, -1)
    )
    assert capsys.readouterr().err == ""
    assert parallel_map(abs, list(range(PROGRESS_ITEMS)), what="numbers") == list(range(PROGRESS_ITEMS))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"[resnet-bench] numbers: {PROGRESS_ITEMS} to go"
    assert lines[-1].startswith(f"[resnet-bench] numbers: {PROGRESS_ITEMS} done in ")

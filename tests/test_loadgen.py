"""LoadGen scenarios: the batching SUT, the summary, the Server search, and the cases
through the engine (a tiny model), where mlperf_loadgen is installed."""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import pytest

from resnet.engine.mlperf import (
    LoadGenSettings,
    LoadGenUnavailable,
    find_server_peak,
    import_loadgen,
    parse_summary,
    run_scenario,
)
from resnet.engine.options import UsageError, parse_options

SUMMARY = """================================================
MLPerf Results Summary
================================================
SUT name : PySUT
Scenario : Server
Mode     : PerformanceOnly
Completed samples per second    : 95.31
Result is : INVALID
  Performance constraints satisfied : Yes
  Min duration satisfied : Yes
  Min queries satisfied : Yes
  Early stopping satisfied: NO
Recommendations:
 * Early stopping could not be satisfied: increase the number of queries.
================================================
Additional Stats
================================================
Min latency (ns)                : 2100000
Max latency (ns)                : 41000000
Mean latency (ns)               : 6400000
50.00 percentile latency (ns)   : 5200000
90.00 percentile latency (ns)   : 11000000
95.00 percentile latency (ns)   : 14000000
97.00 percentile latency (ns)   : 17000000
99.00 percentile latency (ns)   : 23000000
99.90 percentile latency (ns)   : 39000000
"""


def test_parse_summary():
    out = parse_summary(SUMMARY)
    assert out["scenario"] == "Server" and out["valid"] is False
    assert out["completed_samples_per_second"] == pytest.approx(95.31)
    assert out["p99_latency_ns"] == 23_000_000 and out["p50_latency_ns"] == 5_200_000
    assert "early_stopping not satisfied" in out["invalid_reason"]
    assert "increase the number of queries" in out["invalid_reason"]


def test_missing_loadgen_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlperf_loadgen", None)
    with pytest.raises(LoadGenUnavailable, match="pip install mlcommons-loadgen"):
        import_loadgen()


@pytest.mark.parametrize(
    "options,message",
    [
        ({"scenarios": "streaming"}, "--scenarios: unknown value 'streaming'; valid: single-stream"),
        ({"latency_bound_ms": "0"}, "--latency-bound: '0' is not a positive number of milliseconds"),
        ({"latency_bound_ms": "-15"}, "--latency-bound: '-15' is not a positive number"),
        ({"loadgen_duration": "inf"}, "--loadgen-duration: 'inf' is not a number of seconds"),
        ({"sample_count": "4"}, "--sample-count: 4 is less than 8"),
    ],
)
def test_bad_loadgen_options(options, message):
    with pytest.raises(UsageError) as info:
        parse_options(options)
    assert message in str(info.value)


def _service(seconds: float, calls: list[int] | None = None):
    """A fake SUT step with a fixed service time per batch, whatever its size."""

    def run(indices: list[int]) -> None:
        if calls is not None:
            calls.append(len(indices))
        time.sleep(seconds)

    return run


@pytest.fixture(scope="module")
def lg():
    return pytest.importorskip(
        "mlperf_loadgen", reason="mlperf_loadgen is not installed (pip install mlcommons-loadgen)"
    )


@pytest.mark.parametrize("scenario", ["single-stream", "multi-stream", "offline", "server"])
def test_every_scenario_runs_through_loadgen(lg, tmp_path, scenario):
    settings = LoadGenSettings(duration_s=1.0, sample_count=64, max_batch=4, offline_batch=16)
    calls: list[int] = []
    expected = 0.002  # the fake's service time for one query (one batch)
    out = run_scenario(lg, scenario, _service(0.002, calls), settings, tmp_path, target_qps=50.0,
                       expected_latency_s=expected)  # fmt: skip
    assert out["queries"] > 0 and out["answered_more_than_once"] == 0
    assert out["p50_latency_ns"] > 0 and out["duration_s"] >= 1.0
    assert (tmp_path / "mlperf_log_summary.txt").exists() and (tmp_path / "mlperf_log_detail.txt").exists()
    if scenario == "single-stream":
        assert set(calls) == {1}
    if scenario == "multi-stream":
        assert max(calls) == settings.multi_stream_samples
    if scenario == "offline":
        assert max(calls) == settings.offline_batch  # the SUT runs full batches


def test_each_query_is_answered_exactly_once(lg, tmp_path):
    settings = LoadGenSettings(duration_s=1.0, sample_count=32, max_batch=8, batch_timeout_ms=5.0)
    out = run_scenario(lg, "server", _service(0.003), settings, tmp_path, target_qps=200.0)
    assert out["queries"] > 100 and out["answered_more_than_once"] == 0


def test_the_server_search_finds_the_analytic_capacity(lg, tmp_path):
    """A SUT with a fixed 10 ms service time and batches of one can serve 100 queries/s;
    with a generous bound, the search's peak lands within 10% of that capacity."""
    settings = LoadGenSettings(
        duration_s=2.0, sample_count=64, max_batch=1, latency_bound_ms=400.0, search_runs=8
    )
    _, search = find_server_peak(lg, _service(0.010), settings, tmp_path, capacity_qps=100.0)
    best = search.best()
    assert best is not None
    assert 90.0 <= best[0] <= 110.0, search.runs
    assert len(search.runs) <= settings.search_runs


@pytest.mark.slow
def test_loadgen_cases_through_the_engine(lg, tmp_path):
    """The four scenarios on a tiny model (32x32): a row each, the LoadGen logs kept
    beside the JSON, every row labelled as a scenario, not a submission."""
    import json
    import os
    import subprocess
    from pathlib import Path

    from resnet.schema import row_problems

    root = Path(__file__).resolve().parents[1]
    out_json = tmp_path / "lg.json"
    args = [
        "bench/test_loadgen.py",
        "--profile",
        "smoke",
        "--scenarios",
        "single-stream,multi-stream,offline,server",
    ]
    args += ["--loadgen-duration", "1", "--latency-bound", "200", "--devices", "cpu"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *args,
            "--benchmark-json",
            str(out_json),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert done.returncode == 0, done.stdout[-3000:]
    rows = {r["scenario"]: r for r in json.loads(out_json.read_text())["resnet_bench"]["cases"]}
    assert set(rows) == {"single-stream", "multi-stream", "offline", "server"}
    for scenario, row in rows.items():
        assert row["status"] == "ok", row["reason"]
        assert row_problems(row) == [] and row["note"] == "LoadGen scenario, not an MLPerf submission"
        assert row["queries"] > 0 and isinstance(row["valid"], bool)
        assert (Path(row["loadgen_logs"]) / "mlperf_log_summary.txt").exists() or scenario == "server"
    assert rows["offline"]["samples_per_sec"] > 0
    assert rows["single-stream"]["lg_p90_ms"] > 0 and rows["multi-stream"]["lg_p99_ms"] > 0
    server = rows["server"]
    assert server["server_search"] and server["latency_bound_ms"] == 200.0
    assert (tmp_path / "lg.loadgen").is_dir()


def test_runtimes_serve_each_scenario_in_its_configuration():
    from resnet.engine.kinds.loadgen import SCENARIO_CONFIG, cases
    from tests.sweeps import resolve_flat

    options = {
        "profile": "smoke",
        "devices": "cpu",
        "scenarios": "single-stream,offline",
        "runtimes": "keras,openvino",
    }
    found = {(c.scenario, c.runtime): c for c in cases(resolve_flat(parse_options(options)).plan)}
    assert set(found) == {(s, rt) for s in ("single-stream", "offline") for rt in ("keras", "openvino")}
    assert found["offline", "openvino"].runtime_config == "throughput" == SCENARIO_CONFIG["offline"]
    assert found["single-stream", "openvino"].runtime_config == "latency"
    assert found["offline", "keras"].runtime_config == "latency"  # Keras has one configuration
    assert "openvino-throughput" in found["offline", "openvino"].id


def test_loadgen_through_the_deployment_runtimes(lg, tmp_path):
    """Offline through OpenVINO's throughput configuration (its requests in flight, the
    SUT's batch spread over them), SingleStream through its latency one; every query
    answered once, the runtime's memory its own.  (ONNX Runtime's SUT is the same code;
    its two configurations are tests/test_capabilities.py's and test_runtimes.py's.)"""
    import json

    from resnet.engine.kinds.runtimes import RuntimeUnavailable, require
    from tests.sweeps import run_bench

    try:
        require("openvino")
    except RuntimeUnavailable as err:
        pytest.skip(str(err))
    out = tmp_path / "lg.json"
    args = ["bench/test_loadgen.py", "--profile", "smoke", "--scenarios", "single-stream,offline"]
    args += [
        "--devices",
        "cpu",
        "--runtimes",
        "openvino",
        "--loadgen-duration",
        "1",
        "--benchmark-json",
        str(out),
    ]
    done = run_bench(*args, env={"RESNET_BENCH_CACHE": str(tmp_path / "cache")}, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
    rows = {r["scenario"]: r for r in json.loads(out.read_text())["resnet_bench"]["cases"]}
    assert set(rows) == {"single-stream", "offline"}
    for scenario, row in rows.items():
        assert row["status"] == "ok" and row["queries"] > 0 and row["valid"] is not None, row["reason"]
        assert row["runtime"] == "openvino" and row["parity_max_rel_err"] <= 1e-4
        assert row["runtime_config"] == ("throughput" if scenario == "offline" else "latency")
        assert row["memory_scope"] == "runtime process"
    assert rows["single-stream"]["requests"] == 1 and rows["offline"]["requests"] >= 1
    assert rows["offline"]["samples_per_sec"] > 0 and rows["single-stream"]["lg_p90_ms"] > 0


def test_a_runtime_sut_spreads_a_batch_over_its_requests_without_padding_it_twice(monkeypatch):
    """Offline's 32 samples through 2 requests: two parts of 16, each run as 16 (not padded
    up to 32: half the work would be thrown away); 3 samples: parts of 2 and 1."""
    import numpy as np

    from resnet.engine.kinds import runtimes

    ran: list[list[int]] = []
    core = SimpleNamespace(state={"runtime_many": lambda xs: ran.append([len(x) for x in xs])})
    monkeypatch.setattr(
        runtimes, "runtime_step", lambda core, case, images, labels: (None, None, {"requests": 2}, "CPU")
    )
    case = SimpleNamespace(batch_size=32)
    run, out = runtimes.serve(core, case, np.zeros((64, 2, 2, 3), "float32"), (1, 8, 32))
    assert out["requests"] == 2 and out["batch_sizes"] == [1, 4, 8, 16, 32]
    ran.clear()
    run(list(range(32)))
    run([5, 6, 7])
    assert ran == [[16, 16], [4, 1]]  # 2 padded up to the warmed 4

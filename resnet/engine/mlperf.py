"""MLPerf's load generator (``mlcommons-loadgen``), as the LoadGen kind drives it: the
settings of a case, a batching system under test, one scenario run and its summary read
back, and the Server scenario's search for its peak rate.  ``mlperf_loadgen`` is imported
lazily: without it the cases are skipped, naming the install command.  The kind's cases,
driver and worker commands are resnet.engine.kinds.loadgen.
"""

from __future__ import annotations

import math
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet.errors import Unavailable

#: Scenario names as options spell them (resnet.schema.SCENARIOS) -> LoadGen's.
LOADGEN_SCENARIO = {"single-stream": "SingleStream", "multi-stream": "MultiStream", "offline": "Offline",
                    "server": "Server"}  # fmt: skip
INSTALL = "pip install mlcommons-loadgen"


class LoadGenUnavailable(Unavailable):
    """mlperf_loadgen cannot be imported here; the case is skipped with the install command."""


def import_loadgen() -> Any:
    """The ``mlperf_loadgen`` module, or LoadGenUnavailable naming the install command."""
    try:
        import mlperf_loadgen
    except ImportError as err:
        raise LoadGenUnavailable(f"mlperf_loadgen is not installed ({INSTALL}): {err}") from None
    return mlperf_loadgen


@dataclass(frozen=True)
class LoadGenSettings:
    """What a LoadGen case runs with; every value is recorded in its row."""

    duration_s: float = 5.0  # seconds each LoadGen run lasts at least (MLPerf: 600)
    sample_count: int = 1024  # the query sample library on the device (MLPerf's ResNet-50: 1024)
    latency_bound_ms: float = 15.0  # Server: the p99 bound (MLPerf's ResNet-50: 15 ms)
    max_batch: int = 8  # Server: the batching queue's largest batch ...
    batch_timeout_ms: float = 2.0  # ... and its time-out after the first sample
    offline_batch: int = 32  # Offline: the batch the SUT runs
    multi_stream_samples: int = 8  # MultiStream: samples per query (MLPerf: 8)
    search_runs: int = 7  # Server: how many runs the search may take

    def batch_sizes(self) -> tuple[int, ...]:
        """Every batch size a step is compiled for (samples are padded up to the next)."""
        return tuple(sorted({1, self.multi_stream_samples, self.max_batch, self.offline_batch}))


class BatchingSUT:
    """A system under test: samples queue up as LoadGen issues them; one thread takes up
    to ``max_batch`` of them (waiting at most ``timeout_s`` after the first), runs one
    step on their indices, and completes them.  Counts every answer, so a test can check
    that each sample is answered exactly once."""

    def __init__(self, lg: Any, run: Callable[[list[int]], None], max_batch: int, timeout_s: float) -> None:
        self.lg, self.run, self.max_batch, self.timeout_s = lg, run, max_batch, timeout_s
        self.pending: queue.Queue = queue.Queue()
        self.answered: dict[int, int] = {}
        self.batches: list[int] = []
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="sut")
        self._thread.start()

    def issue(self, samples: Any) -> None:
        """LoadGen's issue callback: queue the samples (never block LoadGen's thread)."""
        for sample in samples:
            self.pending.put((sample.id, sample.index))

    def flush(self) -> None:  # LoadGen's flush callback: nothing is held back
        pass

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                first = self.pending.get(timeout=0.05)
            except queue.Empty:
                continue
            batch = [first]
            deadline = time.perf_counter() + self.timeout_s
            while len(batch) < self.max_batch:
                wait = deadline - time.perf_counter()
                try:
                    batch.append(
                        self.pending.get(timeout=max(wait, 0)) if wait > 0 else self.pending.get_nowait()
                    )
                except queue.Empty:
                    break
            try:
                self.run([index for _, index in batch])
            except BaseException as err:  # the SUT failed: stop answering, LoadGen's run ends
                self.error = err
                self._stop.set()
                return
            self.batches.append(len(batch))
            for sample_id, _ in batch:
                self.answered[sample_id] = self.answered.get(sample_id, 0) + 1
            self.lg.QuerySamplesComplete([self.lg.QuerySampleResponse(sid, 0, 0) for sid, _ in batch])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


_NUMBER = r"\s*:\s*([\d.e+-]+)"
_LATENCIES = {"min": "Min", "max": "Max", "mean": "Mean"} | {
    f"p{k}": rf"{v}\.{w} percentile" for k, v, w in (("50", 50, "00"), ("90", 90, "00"), ("95", 95, "00"),
                                                       ("97", 97, "00"), ("99", 99, "00"), ("999", 99, "90"))
}  # fmt: skip
_SATISFIED = {"min_duration": "Min duration", "min_queries": "Min queries",
              "early_stopping": "Early stopping", "constraints": "Performance constraints"}  # fmt: skip
_SUMMARY = {
    "scenario": r"Scenario\s*:\s*(\S+)",
    "result": r"Result is\s*:\s*(\w+)",
    "samples_per_second": r"^Samples per second" + _NUMBER,
    "completed_samples_per_second": r"Completed samples per second" + _NUMBER,
    "scheduled_samples_per_second": r"Scheduled samples per second" + _NUMBER,
    **{f"{k}_latency_ns": rf"^{label} latency \(ns\)\s*:\s*(\d+)" for k, label in _LATENCIES.items()},
    "target_qps": r"^target_qps" + _NUMBER,
    **{f"{k}_satisfied": rf"{label} satisfied\s*:\s*(\w+)" for k, label in _SATISFIED.items()},
}


def parse_summary(text: str) -> dict[str, Any]:
    """The figures of an ``mlperf_log_summary.txt``: throughput, latency percentiles (ns),
    VALID or INVALID and which requirement failed, and LoadGen's recommendations."""
    out: dict[str, Any] = {}
    for key, pattern in _SUMMARY.items():
        m = re.search(pattern, text, re.MULTILINE)
        if m:
            value = m.group(1)
            out[key] = float(value) if re.fullmatch(r"[\d.e+-]+", value) else value
    out["valid"] = out.get("result") == "VALID"
    failed = [
        k.removesuffix("_satisfied") for k in _SUMMARY if k.endswith("_satisfied") and out.get(k) == "NO"
    ]
    tips = re.findall(r"^ \* (.+)$", text, re.MULTILINE)
    out["invalid_reason"] = (
        None if out["valid"] else "; ".join([*(f"{f} not satisfied" for f in failed), *tips])
    )
    return out


def run_scenario(
    lg: Any,
    scenario: str,
    run: Callable[[list[int]], None],
    settings: LoadGenSettings,
    log_dir: Path,
    *,
    target_qps: float | None = None,
    expected_latency_s: float = 0.05,
) -> dict[str, Any]:
    """One LoadGen run of ``scenario`` over ``run(indices)``; its logs go to ``log_dir``.

    ``expected_latency_s`` is what one query takes the SUT (SingleStream: one sample;
    MultiStream: its samples; Offline: one full batch): LoadGen sizes the run from it, so
    that the run lasts ``duration_s`` (Offline issues one query of 1.5x the samples the
    SUT is expected to serve in that time).  Server runs at ``target_qps``.
    Returns the summary's figures plus the queries issued, the duration and the batches."""
    ts, max_batch, timeout = _test_settings(lg, scenario, settings, target_qps, expected_latency_s)
    log_dir.mkdir(parents=True, exist_ok=True)
    out = lg.LogOutputSettings()
    out.outdir = str(log_dir)
    out.copy_summary_to_stdout = False
    log = lg.LogSettings()
    log.log_output = out
    log.enable_trace = False
    sut_impl = BatchingSUT(lg, run, max_batch, timeout)
    sut = lg.ConstructSUT(sut_impl.issue, sut_impl.flush)
    qsl = lg.ConstructQSL(settings.sample_count, settings.sample_count, lambda s: None, lambda s: None)
    t0 = time.perf_counter()
    try:
        lg.StartTestWithLogSettings(sut, qsl, ts, log)
    finally:
        duration = time.perf_counter() - t0
        sut_impl.close()
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
    if sut_impl.error is not None:
        raise sut_impl.error
    summary = parse_summary((log_dir / "mlperf_log_summary.txt").read_text())
    summary.update(
        queries=sum(sut_impl.answered.values()),
        answered_more_than_once=sum(1 for n in sut_impl.answered.values() if n > 1),
        duration_s=duration,
        mean_batch=sum(sut_impl.batches) / len(sut_impl.batches) if sut_impl.batches else None,
        log_dir=str(log_dir),
    )
    return summary


def _test_settings(
    lg: Any, scenario: str, settings: LoadGenSettings, target_qps: float | None, expected_latency_s: float
) -> tuple[Any, int, float]:
    """LoadGen's TestSettings for one run, and the SUT's largest batch and time-out."""
    ts = lg.TestSettings()
    ts.scenario = getattr(lg.TestScenario, LOADGEN_SCENARIO[scenario])
    ts.mode = lg.TestMode.PerformanceOnly
    ts.min_duration_ms = int(settings.duration_s * 1000)
    ts.max_duration_ms = int(settings.duration_s * 1000 * 4)
    # Queries enough to last the duration at the expected latency (LoadGen's own rule).
    ts.min_query_count = max(1, int(settings.duration_s / max(expected_latency_s, 1e-6)))
    ts.performance_sample_count_override = settings.sample_count
    if scenario == "single-stream":
        ts.single_stream_expected_latency_ns = int(expected_latency_s * 1e9)
        max_batch, timeout = 1, 0.0
    elif scenario == "multi-stream":
        ts.multi_stream_samples_per_query = settings.multi_stream_samples
        names = ("multi_stream_expected_latency_ns", "multi_stream_target_latency_ns")
        _set_first(ts, names, int(expected_latency_s * 1e9))
        max_batch, timeout = settings.multi_stream_samples, 0.0
    elif scenario == "offline":
        ts.min_query_count = 1
        ts.offline_expected_qps = max(1.0, 1.5 * settings.offline_batch / max(expected_latency_s, 1e-6))
        max_batch, timeout = settings.offline_batch, 0.0
    else:
        ts.min_query_count = max(1, int(settings.duration_s * (target_qps or 1.0)))
        ts.server_target_qps = float(target_qps or 1.0)
        ts.server_target_latency_ns = int(settings.latency_bound_ms * 1e6)
        max_batch, timeout = settings.max_batch, settings.batch_timeout_ms / 1000
    return ts, max_batch, timeout


def _set_first(ts: Any, names: tuple[str, ...], value: Any) -> None:
    """Set the first of ``names`` this LoadGen version has (names changed between versions)."""
    for name in names:
        if hasattr(ts, name):
            setattr(ts, name, value)
            return


@dataclass
class ServerSearch:
    """The Server search's runs: (target QPS, p99 latency ms, valid, meets the bound)."""

    runs: list[tuple[float, float, bool, bool]] = field(default_factory=list)

    def best(self) -> tuple[float, float, bool, bool] | None:
        """The highest target that met the bound."""
        good = [r for r in self.runs if r[3]]
        return max(good) if good else None


def find_server_peak(
    lg: Any,
    run: Callable[[list[int]], None],
    settings: LoadGenSettings,
    log_dir: Path,
    capacity_qps: float,
) -> tuple[dict[str, Any], ServerSearch]:
    """The highest Server target QPS whose p99 latency meets the bound, by bisection
    between 0 and a little above ``capacity_qps`` (the Offline rate), each target a full
    LoadGen Server run.  A run meets the bound when its p99 is within it and the SUT kept
    up (completed 95% of the scheduled samples per second: a short overloaded run can end
    before its p99 has grown); LoadGen's VALID is recorded beside it.  Returns the summary
    of the best run (or of the last, when none met the bound) and the search."""
    search = ServerSearch()
    low, high = 0.0, max(capacity_qps * 1.2, 1.0)
    target = max(capacity_qps * 0.5, 0.5)
    summaries: dict[float, dict[str, Any]] = {}
    for i in range(settings.search_runs):
        summary = run_scenario(
            lg, "server", run, settings, log_dir / f"search-{i + 1}-{target:.2f}qps", target_qps=target
        )
        p99 = summary.get("p99_latency_ns", math.inf) / 1e6
        # Within the bound, and keeping up: an overloaded SUT falls behind the schedule.
        done = summary.get("completed_samples_per_second") or 0.0
        keeps_up = done >= 0.95 * (summary.get("scheduled_samples_per_second") or target)
        meets = p99 <= settings.latency_bound_ms and keeps_up
        search.runs.append((target, p99, bool(summary["valid"]), meets))
        summaries[target] = summary
        if meets:
            low = target
        else:
            high = target
        target = (low + high) / 2
        if high - low < 0.05 * max(high, 1e-9):
            break
    best = search.best()
    chosen = summaries[best[0]] if best else summaries[search.runs[-1][0]]
    return chosen, search

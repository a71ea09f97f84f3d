"""MLPerf LoadGen scenarios around a compiled inference step.

The official load generator (``mlcommons-loadgen``) issues queries as each MLPerf
scenario defines them to a real system under test: a query sample library of synthetic
images on the device and a batching queue (up to a batch or a time-out) before each step.
SingleStream's figure is the p90 latency, MultiStream's (8 samples a query) the p99,
Offline's samples/s, Server's the highest Poisson rate whose p99 meets the bound
(:func:`find_server_peak`).  Runs last seconds, not MLPerf's 600: every row is a LoadGen
scenario, not an MLPerf submission, and says so.  ``mlperf_loadgen``
is imported lazily: without it the cases are skipped, naming the install command.  Both
halves of the kind are here: the parent's driver (:func:`run_loadgen`) and the worker's
``loadgen_setup`` and ``loadgen_run`` commands, over the library glue.
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

from resnet.engine.errors import CaseFailure
from resnet.engine.kinds.base import Kind, Outcome, Run, in_worker, register
from resnet.engine.plan import RunPlan
from resnet.engine.worker.protocol import command
from resnet.errors import Unavailable
from resnet.schema import PEERS, Case, new_row, placed_on

#: Scenario names as options spell them (resnet.schema.SCENARIOS) -> LoadGen's.
LOADGEN_SCENARIO = {"single-stream": "SingleStream", "multi-stream": "MultiStream", "offline": "Offline",
                    "server": "Server"}  # fmt: skip
INSTALL = "pip install mlcommons-loadgen"
NOT_A_SUBMISSION = "LoadGen scenario, not an MLPerf submission"


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


# -- the parent's half ------------------------------------------------------------------
def cases(plan: RunPlan) -> list[Case]:
    """One LoadGen case per model (not the peers: LoadGen drives a Keras model's
    compiled inference step), precision, device and scenario; its batch size is the
    largest batch the scenario's SUT runs."""
    axes, settings = plan.axes, LoadGenSettings()
    batch = {"single-stream": 1, "multi-stream": settings.multi_stream_samples,
             "offline": settings.offline_batch, "server": settings.max_batch}  # fmt: skip
    common = (axes.jit[0], axes.image_size, axes.threads[0], plan.backend)
    return [
        Case(v, "inference", batch[s], p, d, *common, scenario=s)
        for v in (plan.settings.loadgen_versions or axes.versions)
        if v not in PEERS
        for p in axes.precisions
        for d in axes.devices
        for s in plan.settings.scenarios
    ]


KIND = register(Kind("loadgen", "lg_case", cases, noun="LoadGen scenarios"))


def run_loadgen(run: Run, case: Case, benchmark: Any, log_root: Path) -> Outcome:
    """One LoadGen scenario over the case's compiled inference step, in its own
    worker; the LoadGen logs stay under ``log_root/<case id>/``."""
    resumed = run.resumed([case.id])
    if resumed is not None:
        return resumed
    options = run.plan.settings
    settings = LoadGenSettings(duration_s=options.loadgen_duration, sample_count=options.sample_count,
                               latency_bound_ms=options.latency_bound_ms)  # fmt: skip
    row = new_row(case)
    logs = log_root / case.id.replace("/", "_").replace(":", "_")
    server = case.scenario == "server"
    row.update(note=NOT_A_SUBMISSION, sample_count=settings.sample_count, max_batch=case.batch_size,
               loadgen_logs=str(logs), latency_bound_ms=settings.latency_bound_ms if server else None,
               batch_timeout_ms=settings.batch_timeout_ms if server else None)  # fmt: skip
    t0 = run.start(f"{case.id} (LoadGen {case.scenario}, {settings.duration_s:g} s a run)")
    # A Server search makes up to search_runs LoadGen runs, each up to 4x its duration.
    budget = run.case_timeout + 4 * settings.duration_s * (settings.search_runs + 1)
    with in_worker(run, row, case.threads, budget) as worker:
        import dataclasses

        setup = worker.call("loadgen_setup", case=case, settings=dataclasses.asdict(settings))
        row.update({k: v for k, v in setup.items() if k in row})
        worker.call("warm")
        out: dict[str, Any] = {}
        scenario = {"scenario": case.scenario, "log_dir": str(logs)}
        benchmark.pedantic(lambda: out.update(worker.call("loadgen_run", **scenario)), rounds=1, iterations=1)
        _figures(row, out, worker.call("finish"), server)
    run.record(row, benchmark if row["status"] == "ok" else None)
    run.done(case.id, row, t0)
    return run.outcome(row)


def _figures(row: dict[str, Any], out: dict[str, Any], done: dict[str, Any], server: bool) -> None:
    """A LoadGen case's row from LoadGen's summary and the worker's report."""
    names = ("server_peak_qps", "target_qps", "queries", "duration_s", "mean_batch", "valid",
             "invalid_reason", "server_search")  # fmt: skip
    row.update({name: out.get(name) for name in names}, status="ok")
    row["samples_per_sec"] = out.get("completed_samples_per_second") or out.get("samples_per_second")
    row.update(peak_host_rss_mb=done["peak_host_rss_mb"], peak_device_mem_mb=done["peak_device_mem_mb"])
    for name in ("p50", "p90", "p99", "p999", "mean"):
        value = out.get(f"{name}_latency_ns")
        row[f"lg_{name}_ms"] = value / 1e6 if value is not None else None
    if out.get("answered_more_than_once"):
        row.update(status="error", reason=f"{out['answered_more_than_once']} samples answered twice")
    elif server and row["server_peak_qps"] is None:
        row["reason"] = "no Server rate met the latency bound"


# -- the worker's half ------------------------------------------------------------------
@command("loadgen_setup")
def _loadgen_setup(core: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """Build the model, hold the query sample library's images on the device, and
    compile the inference step for every batch size the scenarios' SUT runs (a
    batch is padded up to the next): compile time is that of all of them."""
    import numpy as np

    try:
        import_loadgen()
    except LoadGenUnavailable as err:
        raise CaseFailure("skipped", str(err)) from None
    case = core.case = Case.from_dict(msg["case"])
    core.check_device(case.device)
    core.check_jit(case)
    serving = LoadGenSettings(**msg["settings"])
    model, size = core.built(case)
    s, backend = case.image_size, core.backend
    images = np.random.default_rng(0).standard_normal((serving.sample_count, s, s, 3), dtype=np.float32)
    library = backend.put(images, case.device)
    step = backend.inference_step(model, case.device, case.jit)
    sizes = serving.batch_sizes()
    t0 = time.perf_counter()
    for batch in sizes:
        out = step(backend.take(library, [0] * batch))
        backend.wait(out)
    compile_s = time.perf_counter() - t0
    placed = backend.placement(out)
    if not placed_on(case.device, placed):
        raise CaseFailure("error", f"asked for {case.device} but the step ran on {placed}")

    def run(indices: list[int]) -> None:
        batch = next(b for b in sizes if b >= len(indices))
        padded = indices + [indices[-1]] * (batch - len(indices))
        backend.wait(step(backend.take(library, padded)))

    core.state["loadgen"] = (serving, run)
    return {"compile_s": compile_s, "device_name": placed, "batch_sizes": list(sizes), **size}


@command("loadgen_run")
def _loadgen(core: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """Run one LoadGen scenario over the compiled step; Server searches for its peak
    rate after a short Offline run has estimated the capacity."""
    import dataclasses

    lg = import_loadgen()
    scenario, logs = msg["scenario"], Path(msg["log_dir"])
    settings, run = core.state["loadgen"]
    # What one query takes the SUT, so that LoadGen sizes each run to its duration.
    samples = {"single-stream": 1, "multi-stream": settings.multi_stream_samples}.get(
        scenario, settings.offline_batch
    )
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        run(list(range(samples)))
        times.append(time.perf_counter() - t0)
    expected = sorted(times)[1]
    if scenario != "server":
        return {
            **run_scenario(lg, scenario, run, settings, logs, expected_latency_s=expected),
            "server_search": None,
        }
    probe = dataclasses.replace(settings, duration_s=max(1.0, settings.duration_s / 2))
    capacity = run_scenario(lg, "offline", run, probe, logs / "capacity-offline", expected_latency_s=expected)
    out, search = find_server_peak(lg, run, settings, logs, capacity["samples_per_second"])
    best = search.best()
    out["server_peak_qps"] = best[0] if best else None
    out["server_search"] = [list(r) for r in search.runs]
    return out

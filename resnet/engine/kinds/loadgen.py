"""MLPerf LoadGen scenarios around a compiled inference step.

The official load generator (``mlcommons-loadgen``, through resnet.engine.mlperf) issues
queries as each MLPerf scenario defines them to a real system under test: a query sample
library of synthetic images on the device and a batching queue (up to a batch or a
time-out) before each step.  SingleStream's figure is the p90 latency, MultiStream's (8
samples a query) the p99, Offline's samples/s, Server's the highest Poisson rate whose p99
meets the bound.  Runs last seconds, not MLPerf's 600: every row is a LoadGen scenario, not
an MLPerf submission, and says so.  A deployment runtime serves each scenario in the
configuration its vendor would (SCENARIO_CONFIG).  Both halves of the kind are here: the
parent's driver (:func:`run_loadgen`) and the worker's ``loadgen_setup`` and
``loadgen_run`` commands.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from resnet.engine.errors import CaseFailure
from resnet.engine.kinds.base import Kind, Outcome, Run, in_worker, register
from resnet.engine.mlperf import (
    LoadGenSettings,
    LoadGenUnavailable,
    find_server_peak,
    import_loadgen,
    run_scenario,
)
from resnet.engine.plan import RunPlan
from resnet.engine.worker.protocol import command
from resnet.schema import PEERS, Case, new_row, placed_on

#: The configuration a deployment runtime serves each scenario in: a query at a time, waited
#: for (SingleStream, MultiStream), in its latency configuration; many samples in flight
#: (Offline, Server) in its throughput one, the SUT's batches spread over its requests.
SCENARIO_CONFIG = {"single-stream": "latency", "multi-stream": "latency", "offline": "throughput",
                   "server": "throughput"}  # fmt: skip
NOT_A_SUBMISSION = "LoadGen scenario, not an MLPerf submission"


# -- the parent's half ------------------------------------------------------------------
def cases(plan: RunPlan) -> list[Case]:
    """One LoadGen case per model (not the peers), precision, device, scenario and
    runtime (Keras's compiled inference step, or a deployment runtime in the scenario's
    configuration: SCENARIO_CONFIG); its batch size is the largest batch the scenario's
    SUT runs."""
    axes, settings = plan.axes, LoadGenSettings()
    batch = {"single-stream": 1, "multi-stream": settings.multi_stream_samples,
             "offline": settings.offline_batch, "server": settings.max_batch}  # fmt: skip
    common = (axes.jit[0], axes.image_size, axes.threads[0], plan.backend)
    return [
        Case(v, "inference", batch[s], p, d, *common, scenario=s, runtime=rt, runtime_config=_config(rt, s))
        for v in (plan.settings.loadgen_versions or axes.versions)
        if v not in PEERS
        for p in axes.precisions
        for d in axes.devices
        for s in plan.settings.scenarios
        for rt in axes.runtimes
    ]


def _config(runtime: str, scenario: str) -> str:
    """The runtime configuration a LoadGen case runs in (Keras has only its latency one)."""
    return "latency" if runtime == "keras" else SCENARIO_CONFIG[scenario]


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
    for name in ("peak_host_rss_mb", "peak_device_mem_mb", "memory_scope", "worker_peak_rss_mb"):
        row[name] = done.get(name)
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
    core.check_precision(case)
    serving = LoadGenSettings(**msg["settings"])
    if case.runtime != "keras":
        return _runtime_setup(core, case, serving)
    core.check_jit(case)
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


def _runtime_setup(core: Any, case: Case, serving: LoadGenSettings) -> dict[str, Any]:
    """A deployment runtime as the SUT (resnet.engine.kinds.runtimes.serve): its model in
    the scenario's configuration, serving samples of a library in host memory."""
    import numpy as np

    from resnet.engine.kinds.runtimes import serve

    s = case.image_size
    library = np.random.default_rng(0).standard_normal((serving.sample_count, s, s, 3), dtype=np.float32)
    run, out = serve(core, case, library, serving.batch_sizes())
    core.state["loadgen"] = (serving, run)
    return out


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

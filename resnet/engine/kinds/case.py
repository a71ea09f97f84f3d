"""The plain case: one configuration's throughput, latency, memory and utilization,
measured in one or more windows (a fresh worker each) spread over the run, and the
case's row combined from its windows with its intervals.

The bench file only chooses cases; this module starts the worker, times the steps
with pytest-benchmark's pedantic mode, and turns what it measured into one row.  Its
worker half is the model core's own setup and step (resnet.engine.worker.core).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

from resnet.engine.errors import CaseFailure
from resnet.engine.kinds.base import Run, in_worker
from resnet.engine.plan import RunPlan
from resnet.engine.worker.client import WorkerClient
from resnet.schema import PROBE_DTYPE, Case, new_row
from resnet.stats import median_interval, percentile_min_samples, seed_for, stability

#: A training step does the forward work about three times (forward + two
#: backward products), the convention for "achieved FLOP/s" of training.
TRAINING_WORK = 3


def percentile(data: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    xs = sorted(data)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


class MatmulPeaks:
    """The device's peak matrix-product TFLOP/s per (device, precision, threads), one probe
    each per run: the fastest library's, which one, and the analytic figure."""

    def __init__(self, seconds: float = 2.0) -> None:
        self.seconds = seconds
        self.values: dict[tuple, dict[str, Any]] = {}

    def get(self, case: Case, worker: WorkerClient) -> dict[str, Any]:
        """The row fields of the peak for ``case``'s device and precision (probed in
        ``worker`` if new): ``device_peak_tflops``, its source and the analytic figure."""
        key = (case.device, case.precision, case.threads)
        if key not in self.values:
            try:
                reply = worker.call("matmul_peak", device=case.device, precision=case.precision,
                                    seconds=self.seconds)  # fmt: skip
                self.values[key] = {
                    "device_peak_tflops": reply["tflops"],
                    "device_peak_source": reply.get("source"),
                    "device_peak_size": reply.get("size"),
                    "device_peak_analytic_tflops": reply.get("analytic_tflops"),
                }
            except CaseFailure:
                self.values[key] = {}
        return self.values[key]


def harness_overhead_ms(outside: list[float], inside: list[float]) -> float | None:
    """Median per-step time the harness adds: each timed round as pytest-benchmark
    saw it minus the same step as the worker timed it (warm-up rounds come first)."""
    if not outside or len(inside) < len(outside):
        return None
    pairs = zip(outside, inside[-len(outside) :], strict=True)
    return 1000 * statistics.median(o - i for o, i in pairs)


def metrics_from_times(
    case: Case, times: list[float], gmacs: float | None, requests: int | None = None
) -> dict[str, Any]:
    """Throughput, latency and achieved TFLOP/s from the timed rounds (seconds); a step of a
    runtime's throughput configuration holds ``requests`` batches."""
    median = statistics.median(times)
    mean = statistics.fmean(times)
    images = case.global_batch * (requests or 1)
    row: dict[str, Any] = {
        "global_batch": images,
        "images_per_sec": images / median,
        "images_per_sec_mean": images / mean,
        # From the fastest step: what the machine does when nothing else interferes
        # (timeit's rule), the steadier figure for regression gates on shared machines.
        "images_per_sec_best": images / min(times),
        "latency_ms_p50": 1000 * median,
        "latency_ms_p90": 1000 * percentile(times, 90),
        "latency_ms_p99": 1000 * percentile(times, 99),
    }
    if gmacs:
        work = TRAINING_WORK if case.mode == "training" else 1
        row["achieved_tflops"] = 2 * gmacs * 1e9 * work * images / median / 1e12
    return row


#: The most timed rounds --min-time may ask for.
MAX_ROUNDS = 10_000


def rounds_for(rounds: int, min_time: float | None, step_s: float) -> int:
    """Timed rounds: ``rounds``, or more so that they add up to ``min_time`` seconds
    at the estimated ``step_s`` per step (at most MAX_ROUNDS)."""
    if not min_time or step_s <= 0:
        return rounds
    return max(rounds, min(MAX_ROUNDS, math.ceil(min_time / step_s)))


#: Seconds of timed steps between two machine-speed readings inside a window, and how long
#: one reading between steps takes (the readings before and after the steps take longer).
PROBE_EVERY_S = 0.5
PROBE_BETWEEN_S = 0.1


def _probe(worker: WorkerClient, series: list[list[float]], dtype: str, seconds: float = 0.25) -> None:
    """One reading of the machine-speed probe (a fixed matrix product in ``dtype`` on the
    case's device)."""
    try:
        series.append([time.time(), worker.call("probe", dtype=dtype, seconds=seconds)["gflops"]])
    except CaseFailure:
        pass  # a probe that cannot run leaves no reading; the case itself may still run


#: Warm-up goes on until the step time is steady: the median of the last STEADY_STEPS steps
#: within STEADY_TOLERANCE of the median of the STEADY_STEPS before them, at most
#: WARMUP_MAX_STEPS steps or WARMUP_MAX_S seconds of steps (then the case says it was not).
STEADY_STEPS = 2
STEADY_TOLERANCE = 0.05
WARMUP_MAX_STEPS = 20
WARMUP_MAX_S = 5.0


def steady(times: list[float]) -> bool:
    """Whether the last steps ran as fast as the ones before them (within the tolerance)."""
    k = STEADY_STEPS
    if len(times) < 2 * k:
        return False
    last, before = statistics.median(times[-k:]), statistics.median(times[-2 * k : -k])
    return before > 0 and abs(last / before - 1) <= STEADY_TOLERANCE


def warm_up(step: Callable[[], float], minimum: int) -> tuple[list[float], bool]:
    """Untimed steps: ``minimum`` of them, then more until the step time is steady (or the
    cap); returns their times and whether it became steady."""
    times = [step() for _ in range(minimum)]
    while not steady(times) and len(times) < WARMUP_MAX_STEPS and sum(times) < WARMUP_MAX_S:
        times.append(step())
    return times, steady(times)


def _timed(
    worker: WorkerClient, case: Case, benchmark: Any, plan: RunPlan, row: dict[str, Any]
) -> list[float]:
    """Warm-up, then the timed steps between two drift-probe readings; returns the
    worker's own time of each timed step (and fills the row's series and start)."""
    settings = plan.settings
    worker.call("warm")
    inside: list[float] = []
    warmups = max(settings.warmup_rounds, 1 if settings.min_time else 0)
    warm, settled = warm_up(lambda: worker.call("step")["seconds"], warmups)
    row.update(warmup_steps=len(warm), warmup_s=sum(warm), warmup_steady=settled)
    # The rounds are planned from the steady steps, not the slow first ones.
    recent = warm[-STEADY_STEPS:] if warm else []
    timed = rounds_for(settings.rounds, settings.min_time, statistics.median(recent) if recent else 0.0)
    series: list[list[float]] = []
    dtype = PROBE_DTYPE[case.precision]
    _probe(worker, series, dtype)
    row["window_started"] = [time.time()]
    last = [time.monotonic()]

    def between() -> None:  # pytest-benchmark's setup: before each timed step, untimed
        if time.monotonic() - last[0] >= PROBE_EVERY_S:
            _probe(worker, series, dtype, PROBE_BETWEEN_S)
            last[0] = time.monotonic()

    benchmark.pedantic(
        lambda: inside.append(worker.call("step")["seconds"]),
        setup=between,
        rounds=timed,
        warmup_rounds=0,
        iterations=1,
    )
    _probe(worker, series, dtype)
    row.update(machine_speed_series=series, machine_speed_dtype=dtype)
    if series:
        row["machine_speed_gflops"] = statistics.median(g for _, g in series)
    return inside


def set_utilization(row: dict[str, Any]) -> None:
    """Achieved over the measured peak, at most 1: counted work that ran faster than the peak
    (a runtime doing less arithmetic than counted, or a peak that was not the machine's) is
    no utilization; the row says ``above_peak`` instead."""
    if row.get("device_peak_tflops") and row.get("achieved_tflops"):
        share = row["achieved_tflops"] / row["device_peak_tflops"]
        row["above_peak"] = share > 1.0
        row["utilization"] = None if row["above_peak"] else share


def _figures(row: dict[str, Any], case: Case, times: list[float], inside: list[float], done: dict) -> None:
    """The row's figures from the timed steps and the worker's report of the case."""
    row.update(metrics_from_times(case, times, row["gmacs_per_image"], row.get("requests")))
    row.update(rounds=len(times), timed_s=sum(times), samples_s=[times])
    row["peak_host_rss_mb"] = done["peak_host_rss_mb"]
    row["memory_scope"] = done.get("memory_scope")
    row["worker_peak_rss_mb"] = done.get("worker_peak_rss_mb")
    row["peak_device_mem_mb"] = done["peak_device_mem_mb"]
    row["joules_per_image"] = done.get("joules_per_image")
    row["energy_source"] = done.get("energy_source")
    row["harness_overhead_ms"] = harness_overhead_ms(times, inside)


def measure(run: Run, case: Case, benchmark: Any, window: int | None = None) -> dict[str, Any]:
    """Measure ``case`` with ``benchmark`` (pytest-benchmark's fixture).

    Warm-up rounds run first, untimed; with a minimum time their median step time sets
    how many rounds are timed (at least one warm-up round then).  The drift probe runs
    just before and just after the timed steps.  With ``window`` (1, 2, ...) the row is
    one window of the case (kind "window"), to be combined with its others by
    :func:`combine_windows`; without, it is the case's row, with its intervals.
    Returns the row; a case that cannot run comes back with its status ("skipped",
    "oom", "timeout", "error") and reason, never as zeros.
    """
    row = new_row(case, kind="window" if window else "case")
    if window:
        row.update(case_id=f"{case.id}@w{window}", window=window)
    cpu_devices = case.replicas if case.device == "cpu" else None
    with in_worker(run, row, case.threads, cpu_devices=cpu_devices) as worker:
        row["threads"] = worker.info.get("threads", case.threads)
        setup = worker.call("setup", case=case)
        row.update({k: v for k, v in setup.items() if k in row})
        inside = _timed(worker, case, benchmark, run.plan, row)
        synthetic = worker.call("synthetic", n=len(inside))["times"] if case.data == "jpeg" else None
        done = worker.call("finish")
        _figures(row, case, list(benchmark.stats.stats.data), inside, done)
        row.update(run.state("case").setdefault("peaks", MatmulPeaks()).get(case, worker))
        set_utilization(row)
        if synthetic:
            row["synthetic_images_per_sec"] = case.global_batch / statistics.median(synthetic)
            row["input_bound_fraction"] = 1 - row["images_per_sec"] / row["synthetic_images_per_sec"]
        row["status"] = "ok"
        if not window:
            add_intervals(row, case, row["samples_s"])
    return row


def scaling(run: Run, row: dict[str, Any], case: Case) -> None:
    """Scaling efficiency: images/s at N replicas over N x the single-replica
    images/s of the same configuration measured earlier in this run."""
    if case.replicas == 1:
        row["scaling_efficiency"] = 1.0 if row["status"] == "ok" else None
        return
    single = case.replace(replicas=1).id
    base = next((r for r in run.rows if r["case_id"] == single and r["status"] == "ok"), None)
    if base and row["status"] == "ok":
        row["scaling_efficiency"] = row["images_per_sec"] / (case.replicas * base["images_per_sec"])


def add_intervals(row: dict[str, Any], case: Case, samples: list[list[float]]) -> None:
    """Fill ``row``'s intervals, percentile support and stability from its step samples
    (one list per window): see resnet/stats.py for the statistics."""
    _, low, high = median_interval(samples, seed=seed_for(case.id))
    n = sum(len(w) for w in samples)
    images = case.global_batch * (row.get("requests") or 1)
    row.update(
        windows=len(samples),
        latency_ms_p50_ci_low=1000 * low if math.isfinite(low) else None,
        latency_ms_p50_ci_high=1000 * high if math.isfinite(high) else None,
        images_per_sec_ci_low=images / high if math.isfinite(high) else None,
        images_per_sec_ci_high=images / low if math.isfinite(low) else None,
        latency_p90_supported=n >= percentile_min_samples(90),
        latency_p99_supported=n >= percentile_min_samples(99),
    )
    verdict, p, spread = stability(samples)
    row.update(stability=verdict, unstable=verdict == "unstable", unstable_p=p, window_spread=spread)

"""The plain case's windows: how many a case runs in, in what order, when it stops, and
its row combined from them.

Windows are scheduled as randomized multiple interleaved trials (Abedi and Brecht, 2017):
pass after pass over the cases, each pass in its own seeded shuffled order, so every case
sees the same mix of machine states. With ``--target-precision`` a case runs ``--windows``
of them at least and more, up to ``--max-windows``, until its figure's 95% interval (from
the run's window-to-window spread pooled over its cases: a machine property that one case's
few windows cannot estimate) is within the target, while the run's ``--time-budget`` lasts
(no window beyond the least starts once it would end past the budget, the windows every case
still needs counted in). A window a case no longer needs is skipped, saying why; the case's
row is combined from the windows it ran and records why it stopped (``windows_stop``).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from typing import Any

from resnet.engine.kinds import paired
from resnet.engine.kinds.base import Kind, Outcome, Run, register
from resnet.engine.kinds.case import (
    PROBE_BETWEEN_S,
    PROBE_EVERY_S,
    add_intervals,
    measure,
    metrics_from_times,
    scaling,
    set_utilization,
)
from resnet.engine.plan import RunPlan, Settings, Window, window_order
from resnet.engine.progress import headline
from resnet.schema import Case, new_row
from resnet.stats import pooled_half_width, window_variance

#: Seconds a window takes beyond its timed steps before any was measured (worker start,
#: build, compile, warm-up and the probes before and after of a 224 px ResNet-50 on the
#: project's 2-core machines: a median of 10 s in a quick run on a Zen 4 VM, 2026-12-06).
WINDOW_OVERHEAD_S = 10.0


def windows_of(plan: RunPlan, case: Case) -> int:
    """The most windows ``case`` runs in: ``paired_windows`` for a model that one of the
    run's paired groups also steps, else ``max_windows`` (adaptive) or ``windows``."""
    settings = plan.settings
    if settings.paired_windows is not None:
        timed = {g.case(v, p) for g in paired.groups(plan) for v, p in g.members}
        if case in timed:
            return settings.paired_windows
    return settings.most_windows


def least_windows(plan: RunPlan, case: Case) -> int:
    """The windows ``case`` runs in whatever its precision or the budget."""
    return min(plan.settings.windows, windows_of(plan, case))


def windows(plan: RunPlan) -> list[Window]:
    """Every window the run's plain cases may run in, in the order they run: first the
    windows every case runs in (``--windows`` passes, a case with fewer taking turns between
    them), then the passes a case may add, each in its own seeded shuffled order; so the
    time budget is spent on added windows only once every case has its least."""
    settings = plan.settings
    cases = plan.cases()
    most = {c: windows_of(plan, c) for c in cases}
    required = window_order(cases, settings.windows, settings.seed, lambda c: least_windows(plan, c))
    out = [Window(w.case, w.index, most[w.case]) for w in required]
    for index in range(settings.windows + 1, settings.most_windows + 1):
        order = [c for c in cases if most[c] >= index]
        random.Random(settings.seed * 1000 + index).shuffle(order)
        out += [Window(c, index, most[c]) for c in order]
    return out


def estimate(plan: RunPlan, cases: list[Window]) -> tuple[float, float]:
    """(seconds for the windows every case runs in, seconds for all of them): before any is
    measured, each taken as WINDOW_OVERHEAD_S plus its least timed seconds and the probes
    read between them."""
    each = WINDOW_OVERHEAD_S + (plan.settings.min_time or 1.0) * (1 + PROBE_BETWEEN_S / PROBE_EVERY_S)
    required = sum(1 for w in cases if w.index <= least_windows(plan, w.case))
    return required * each, len(cases) * each


def precision_pct(variance: float, df: int, windows: int) -> float | None:
    """The half-width (percent) of the 95% interval of a figure taken over ``windows``
    windows, from the run's pooled window-to-window ``variance`` (log scale) with ``df``
    degrees of freedom; None where the run has too few (< MIN_DF) to say."""
    half = pooled_half_width(variance, df, windows)
    return None if half is None else 100 * math.expm1(half)


def stop_reason(
    settings: Settings,
    done: int,
    pooled: tuple[float, int],
    elapsed: float,
    cost: float,
    still_needed: float,
) -> tuple[str, str] | None:
    """Why a case that ran ``done`` windows (at least its least) runs no more: ("precision",
    text) when its figure is within ``--target-precision``, ("budget", text) when one more
    window of ``cost`` seconds, and the ``still_needed`` seconds of windows other cases must
    run, would end past ``--time-budget`` (``elapsed`` seconds since the run began); None to
    run the window."""
    reached = precision_pct(*pooled, done)
    if settings.target_precision and reached is not None and reached <= settings.target_precision:
        target = settings.target_precision
        return "precision", f"+-{reached:.1f}% after {done} windows, within --target-precision {target:g}%"
    budget = settings.time_budget
    if budget and elapsed + cost + still_needed > budget:
        return "budget", (
            f"the time budget of {budget / 60:g} min would be spent ({elapsed / 60:.1f} min so far, "
            f"{(cost + still_needed) / 60:.1f} min still needed); {done} windows"
        )
    return None


def run_window(run: Run, window: Window, benchmark: Any) -> Outcome:
    """Measure one window of a case (the whole case when it has one), unless the case no
    longer needs it; combine the case's row after its last window. Returns the pytest
    outcome where the window did not run."""
    case = window.case
    state = run.state("case")
    skipped, stopped = state.setdefault("skipped", {}), state.setdefault("stopped", {})
    if case.id in skipped:  # an earlier window found the case cannot run here
        return "skip", skipped[case.id]
    if case.id in stopped:
        return "skip", f"not needed: {stopped[case.id]}"
    if window.index > least_windows(run.plan, case):
        reason = stop_reason(run.plan.settings, window.index - 1, _pooled(state), *_time_left(run, window))
        if reason is not None:
            stopped[case.id] = reason[1]
            _finish(run, window, reason[0])
            return "skip", f"not needed: {reason[1]}"
    outcome = run.resumed([window.id])
    if outcome is not None:
        row = run.rows[-1]
    else:
        name = window.id if window.of == 1 else f"{window.id} (window {window.index} of {window.of})"
        t0 = run.start(name)
        row = measure(run, case, benchmark, window=window.index if window.of > 1 else None)
        if window.of == 1:
            scaling(run, row, case)
            row["windows_stop"] = "fixed"
        run.record(row, benchmark if row["status"] == "ok" else None)
        run.done(window.id, row, t0)
        outcome = run.outcome(row)
        if row["status"] == "skipped" and window.of > 1:
            skipped[case.id] = row["reason"]
            run.record({**new_row(case), "status": "skipped", "reason": row["reason"]})
            return outcome
    if window.of > 1:
        state.setdefault("windows", {}).setdefault(case.id, {})[window.index] = row
        if window.index == window.of:
            _finish(run, window, "max" if run.plan.settings.target_precision else "fixed")
    return outcome


def _pooled(state: dict[str, Any]) -> tuple[float, int]:
    """The run's window-to-window variance so far, pooled over its cases, and its df."""
    cases = [
        [w["samples_s"][0] for w in got.values() if w.get("samples_s")]
        for got in state.get("windows", {}).values()
    ]
    return window_variance(cases)


def _time_left(run: Run, window: Window) -> tuple[float, float, float]:
    """(seconds since the run began, what this window will take, what the windows every case
    still needs will take), from the windows measured so far."""
    state = run.state("case")
    if "order" not in state:
        state["order"] = [w.id for w in windows(run.plan)]
        state["required"] = {w.id for w in windows(run.plan) if w.index <= least_windows(run.plan, w.case)}
    walls = [
        w["wall_s"] for got in state.get("windows", {}).values() for w in got.values() if w.get("wall_s")
    ]
    typical = statistics.median(walls) if walls else WINDOW_OVERHEAD_S
    mine = [w["wall_s"] for w in state.get("windows", {}).get(window.case.id, {}).values() if w.get("wall_s")]
    later = state["order"][state["order"].index(window.id) + 1 :]
    needed = sum(1 for w in later if w in state["required"]) * typical
    return time.time() - run.started, statistics.median(mine) if mine else typical, needed


def _finish(run: Run, window: Window, stop: str) -> None:
    """Record the case's row from the windows it ran (once), saying why it stopped."""
    case = window.case
    got = run.state("case").get("windows", {}).get(case.id, {})
    if not got or run.resumed([case.id]) is not None:  # combined before the sweep was resumed
        return
    combined = combine_windows(case, [got[i] for i in sorted(got)])
    combined["windows_stop"] = stop
    scaling(run, combined, case)
    run.record(combined)
    run.line(f"case   {case.id}, {len(got)} windows ({stop}): {headline(combined)}")


def _runtime_facts(row: dict[str, Any], windows: list[dict[str, Any]]) -> None:
    """A runtime case's facts over its windows: what it ran (the first window's), its
    worst parity, its largest memory and export time."""
    first = windows[0]
    for name in ("runtime_version", "exported_from", "parity_tolerance", "parity_on", "quantized_by",
                 "memory_scope"):  # fmt: skip
        row[name] = first.get(name)
    picks = {"parity_max_rel_err": max, "parity_top1_agreement": min, "worker_peak_rss_mb": max,
             "export_s": max, "quantize_s": max}  # fmt: skip
    for name, pick in picks.items():
        values = [w[name] for w in windows if w.get(name) is not None]
        row[name] = pick(values) if values else None


def combine_windows(case: Case, windows: list[dict[str, Any]]) -> dict[str, Any]:
    """The case's row from its window rows (in window order): figures from all timed
    steps pooled, intervals over windows and steps, each window's median kept; memory
    is the largest window's, compile time the median window's.  A case with a window
    that did not finish takes that window's status and reason."""
    row = new_row(case)
    row["windows"] = len(windows)
    failed = next((w for w in windows if w["status"] != "ok"), None)
    if failed is not None:
        row.update(
            status=failed["status"], reason=f"window {failed['window']} of {len(windows)}: {failed['reason']}"
        )
        row["wall_s"] = sum(w.get("wall_s") or 0.0 for w in windows)
        return row
    samples = [w["samples_s"][0] for w in windows]
    pooled = [t for w in samples for t in w]

    def median_of(name: str) -> Any:
        values = [w[name] for w in windows if w.get(name) is not None]
        return statistics.median(values) if values else None

    def max_of(name: str) -> Any:
        values = [w[name] for w in windows if w.get(name) is not None]
        return max(values) if values else None

    _runtime_facts(row, windows)
    first = windows[0]
    for name in ("params_total", "params_trainable", "params_non_trainable", "gmacs_per_image", "device_name",
                 "energy_source", "threads", "replicas_in_sync", "device_peak_source", "device_peak_size",
                 "machine_speed_dtype", "requests", "device_peak_analytic_tflops"):  # fmt: skip
        row[name] = first.get(name)
    row["warmup_steps"] = max((w.get("warmup_steps") or 0 for w in windows), default=None)
    row["warmup_s"] = max((w.get("warmup_s") or 0.0 for w in windows), default=None)
    row["warmup_steady"] = all(w.get("warmup_steady") is not False for w in windows)
    row.update(metrics_from_times(case, pooled, row["gmacs_per_image"], row["requests"]))
    row.update(
        compile_s=median_of("compile_s"),
        build_s=median_of("build_s"),
        peak_host_rss_mb=max_of("peak_host_rss_mb"),
        peak_device_mem_mb=max_of("peak_device_mem_mb"),
        joules_per_image=median_of("joules_per_image"),
        harness_overhead_ms=median_of("harness_overhead_ms"),
        device_peak_tflops=median_of("device_peak_tflops"),
        rounds=len(pooled),
        timed_s=sum(pooled),
        wall_s=sum(w.get("wall_s") or 0.0 for w in windows),
        samples_s=samples,
        window_started=[w["window_started"][0] for w in windows],
        window_images_per_sec=[w["images_per_sec"] for w in windows],
        machine_speed_series=[p for w in windows for p in (w.get("machine_speed_series") or [])],
        status="ok",
    )
    if row["machine_speed_series"]:
        row["machine_speed_gflops"] = statistics.median(g for _, g in row["machine_speed_series"])
    set_utilization(row)
    add_intervals(row, case, samples)
    return row


KIND = register(Kind("case", "window", windows, estimate=estimate, noun="case windows"))

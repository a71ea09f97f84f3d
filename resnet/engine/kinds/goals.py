"""Goals measured as ratios taken in one worker (recorded, never asserted): the harness
against a bare loop of the same compiled step, our v1 against keras.applications; and
the build of each version (its time, parameters and multiply-accumulates).  The worker
halves are the ``build`` and ``bare_loop`` commands."""

from __future__ import annotations

import statistics
from typing import Any

from resnet.engine.kinds.base import Kind, Outcome, Run, in_worker, measured, register
from resnet.engine.kinds.case import harness_overhead_ms, metrics_from_times
from resnet.engine.kinds.peers import peer_size
from resnet.engine.plan import RunPlan
from resnet.engine.worker.protocol import command
from resnet.schema import PEERS, Case, new_row


def aux_case(run: Run, version: str, batch_size: int | None = None) -> Case:
    """The case a goal or build measures: inference at the run's largest batch (or
    ``batch_size``), float32, on the run's first device, jit and threads."""
    axes = run.plan.axes
    return Case(
        version=version,
        mode="inference",
        batch_size=batch_size or max(axes.batch_sizes),
        precision="float32",
        device=axes.devices[0],
        jit=axes.jit[0],
        image_size=axes.image_size,
        threads=axes.threads[0],
        backend=run.plan.backend,
    )


def run_build(run: Run, version: str, benchmark: Any) -> Outcome:
    """Benchmark building ``version`` and record its parameters and MACs."""
    name = f"build-{version}"

    def build() -> dict[str, Any]:
        case = aux_case(run, version, 1)
        row = new_row(case, kind="build", case_id=name)
        with in_worker(run, row, case.threads) as worker:
            size = worker.call("build", case=case)  # first build: imports, warm-up
            row.update({k: v for k, v in size.items() if k in row})
            inside: list[float] = []  # the build alone, as the worker timed it
            benchmark.pedantic(
                lambda: inside.append(worker.call("build", case=case)["build_s"]), rounds=3, iterations=1
            )
            row["build_s"] = statistics.median(inside)
            row["status"] = "ok"
        return row

    return measured(run, name, [name], benchmark, build)


def run_ratio(run: Run, name: str, ours: str, theirs: str | None, benchmark: Any) -> Outcome:
    """images/s of ``ours`` measured by the suite, over either a bare loop of the
    same compiled step (``theirs`` None: the harness's cost) or the suite's
    measurement of ``theirs`` (a reference model), steps interleaved in one run."""
    return measured(run, name, [name], benchmark, lambda: _ratio(run, name, ours, theirs, benchmark))


def _ratio(run: Run, name: str, ours: str, theirs: str | None, benchmark: Any) -> dict[str, Any]:
    case = aux_case(run, ours)
    row = new_row(case, kind="goal", case_id=name)
    row["goal"] = name
    # Ten rounds at least: these ratios are read against a 3% goal.
    settings = run.plan.settings
    rounds, warm = max(settings.rounds, 10), max(settings.warmup_rounds, 1)
    with in_worker(run, row, case.threads) as w:
        w.call("setup", case=case)
        if theirs is not None:
            # Same process: no second process's threads compete with ours.
            w.call("setup", case=aux_case(run, theirs), slot="reference")
        w.call("warm")
        base: list[float] = []
        inside: list[float] = []

        def reference_round() -> None:
            # Runs before each of our rounds, untimed by pytest-benchmark:
            # interleaving makes drift of the machine hit both alike.
            if theirs is None:
                base.extend(w.call("bare_loop", n=1)["times"])
            else:
                base.append(w.call("step", slot="reference")["seconds"])

        benchmark.pedantic(
            lambda: inside.append(w.call("step")["seconds"]),
            setup=reference_round,
            rounds=rounds,
            warmup_rounds=warm,
            iterations=1,
        )
        suite = list(benchmark.stats.stats.data)
        w.call("finish")
        row["harness_overhead_ms"] = harness_overhead_ms(suite, inside)
        ours_row = metrics_from_times(case, suite, None)
        ref_ips = case.batch_size / statistics.median(base[-rounds:])
        row.update(ours_row, reference_images_per_sec=ref_ips, rounds=rounds)
        row["reference"] = theirs or "bare loop (same compiled step, no harness)"
        # Median of per-pair ratios: each timed round against the reference step
        # run just before it, so slow drift of a shared machine cancels out.
        pairs = zip(base[-len(suite) :], suite, strict=True)
        row["ratio"] = statistics.median(r / s for r, s in pairs)
        row["ratio_of_medians"] = ours_row["images_per_sec"] / ref_ips
        row["status"] = "ok"
    return row


# -- the worker's half ---------------------------------------------------------------
@command("build")
def _build(core: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """Build the model once (for build-time cases); returns its size."""
    case = Case.from_dict(msg["case"])
    if case.version in PEERS:
        return peer_size(core, case)
    return core.built(case)[1]


@command("bare_loop")
def _bare_loop(core: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """``n`` steps in a tight loop, no protocol in between: the harness-free time."""
    return {"times": core.timed_loop("main", int(msg["n"]))}


def versions(plan: RunPlan) -> list[str]:
    """The versions whose build is measured: every version of the run."""
    return list(plan.axes.versions)


KIND = register(Kind("build", "version", versions, noun="builds"))

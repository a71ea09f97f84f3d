"""A/B runs of two software stacks (``pytest bench --ab SPEC``): every case of the run in a
worker of each stack (resnet.engine.stacks), both alive at once and stepped alternately by
the parent, so that the machine's drift falls on A and B alike and their ratio keeps a
narrow interval where two separate runs would not (Bulej et al.'s duet benchmarking,
asv's interleaved ``continuous``).

Stack A is the stack the sweep runs in, or ``--ab-a SPEC``; stack B is ``--ab SPEC``.  Each
case gives one row of kind ``ab``: B's images/s over A's with its 95% interval (the median
of the per-round ratios, resnet.stats.paired_median_ratio), both figures, and which stacks
they were.
How long a case alternates follows the paired settings (``--paired-rounds``,
``--paired-min-time``, ``--paired-width``, ``--paired-max-time``), shared over
``--ab-sessions`` sessions: fresh workers of both stacks each session, the stack started
first alternating, every session's rounds pooled into the ratio (on the noisy Zen 4 VM one
session's A/A intervals held 1 in 12 of 15 runs, all three misses B faster).  A stack that cannot run
a case (a package missing there) skips that case with its reason; a worker that dies fails
the case with the stack named, and the other stack's figure stays in the row.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from resnet.engine.errors import CaseFailure
from resnet.engine.kinds.base import Kind, Outcome, Run, register
from resnet.engine.kinds.rounds import Alternation, Budget, Member, images_per_sec, pooled_ratio
from resnet.engine.plan import RunPlan
from resnet.engine.progress import paired_text
from resnet.engine.stacks import Stack, parse_stack, probe, summary
from resnet.engine.worker.client import WorkerClient
from resnet.schema import Case, new_row
from resnet.stats import seed_for

LABELS = ("A", "B")


@dataclass(frozen=True)
class ABCase:
    """One case of an A/B run."""

    case: Case

    @property
    def id(self) -> str:
        """``ab-`` and the case's own id."""
        return f"ab-{self.case.id}"


def cases(plan: RunPlan) -> list[ABCase]:
    """Every plain case of the run, when it is an A/B run."""
    return [ABCase(c) for c in plan.cases()] if plan.settings.ab else []


def stacks_of(plan: RunPlan) -> dict[str, Stack]:
    """The run's two stacks: A (``--ab-a``, else the sweep's own) and B (``--ab``)."""
    settings = plan.settings
    a = parse_stack(settings.ab_a, "--ab-a") if settings.ab_a else Stack()
    return {"A": a, "B": parse_stack(settings.ab, "--ab")}


def prepare(run: Run, found: list[ABCase]) -> None:
    """Ask each stack's interpreter what it runs, before any case (one line each); a stack
    that cannot import resnet-bench stops the run here."""
    if not found:
        return
    state = run.state("ab")
    state["stacks"] = stacks_of(run.plan)
    state["info"] = {label: probe(stack, label) for label, stack in state["stacks"].items()}
    for label in LABELS:
        run.line(f"stack {label}: {summary(state['info'][label])}")


def estimate(plan: RunPlan, found: list[ABCase]) -> tuple[float, float]:
    """Two workers a case, each its overhead and its minimum (or maximum) seconds of steps."""
    from resnet.engine.kinds.paired import MODEL_OVERHEAD_S, step_seconds

    least = most = 0.0
    for ab in found:
        low, high = step_seconds(plan, ab.case.mode)
        least += 2 * (MODEL_OVERHEAD_S + low)
        most += 2 * (MODEL_OVERHEAD_S + high)
    return least, most


def _worker(stack: Stack, label: str, case: Case, timeout: float) -> WorkerClient:
    """A worker of ``stack`` with ``case`` set up; a failure names the stack."""
    worker = None
    try:
        worker = WorkerClient(
            threads=case.threads, timeout=timeout, env=stack.environment(), python=stack.python, cwd=stack.cwd
        )
        worker.call("setup", case=case)
        worker.call("warm")
        return worker
    except CaseFailure as err:
        if worker is not None:
            worker.kill()
            worker.close()
        raise CaseFailure(err.status, f"stack {label}: {err.reason}") from None


def _session(
    run: Run, ab: ABCase, stacks: dict[str, Stack], index: int, earlier: list, benchmark: Any, seed: int
) -> Alternation:
    """One session: fresh workers of both stacks (started A first in even sessions, B first
    in odd ones), warmed up and stepped alternately until the session's share of the paired
    budget is met (its width judged on every session's rounds so far)."""
    case, settings = ab.case, run.plan.settings
    share = settings.ab_sessions
    order = LABELS if index % 2 == 0 else LABELS[::-1]
    with contextlib.ExitStack() as held:
        workers = {}
        for label in order:  # closed as the session ends, killed at once if it ends in an error
            workers[label] = held.enter_context(_worker(stacks[label], label, case, run.case_timeout))
        if index == 0:
            run.remember_info(workers["A"].info)
        members = [Member(label, workers[label], label=f"stack {label}") for label in LABELS]
        rounds = Alternation(members, seed_for(ab.id) + seed + 1000 * index, earlier)
        rounds.warm_up(settings.warmup_rounds)
        least, most = settings.paired_time(case.mode), settings.paired_cap(case.mode)
        budget = Budget(
            settings.paired_rounds,
            least / share if least else None,
            settings.paired_width,
            most / share if most else None,
        )
        try:
            rounds.run(budget, [("B", "A")], benchmark if index == 0 else None)
        finally:
            earlier.append(rounds.session())  # what it measured, even when a worker died
        for label in LABELS:
            try:
                workers[label].call("finish")
            except CaseFailure as err:
                raise CaseFailure(err.status, f"stack {label}: {err.reason}") from None
    return rounds


def measure_ab(run: Run, ab: ABCase, benchmark: Any, seed: int | None = None) -> dict[str, Any]:
    """``--ab-sessions`` sessions of both stacks' workers, each stepped alternately; the row
    of B over A over every session's rounds.  Fresh processes each session, and the stack
    started first alternating, so that neither a process's own luck (its memory layout) nor
    being started first or second stays in the ratio unseen."""
    case, settings = ab.case, run.plan.settings
    state = run.state("ab")
    stacks: dict[str, Stack] = state.get("stacks") or stacks_of(run.plan)
    info = state.get("info") or {}
    row = new_row(case, kind="ab", case_id=ab.id)
    row.update(
        comparison="ab",
        numerator="B",
        denominator="A",
        stack_a=summary(info["A"]) if "A" in info else stacks["A"].describe(),
        stack_b=summary(info["B"]) if "B" in info else stacks["B"].describe(),
    )
    t0 = time.monotonic()
    earlier: list[dict[str, list[float]]] = []
    try:
        for index in range(settings.ab_sessions):
            _session(run, ab, stacks, index, earlier, benchmark, settings.seed if seed is None else seed)
        row["status"] = "ok"
    except CaseFailure as err:
        row.update(status=err.status, reason=err.reason)
    row["wall_s"] = time.monotonic() - t0
    a = [t for s in earlier for t in s.get("A", [])]
    b = [t for s in earlier for t in s.get("B", [])]
    row.update(
        windows=len(earlier),
        numerator_images_per_sec=images_per_sec(case.global_batch, b),
        denominator_images_per_sec=images_per_sec(case.global_batch, a),
    )
    if row["status"] == "ok" and earlier:
        row.update(pooled_ratio(earlier, "B", "A"))  # every session's rounds
        row["images_per_sec"] = row["numerator_images_per_sec"]
    else:
        row["samples_s"] = [b, a]  # what each stack measured before it stopped
    return row


def run_ab(run: Run, ab: ABCase, benchmark: Any) -> Outcome:
    """One case on both stacks, alternately; its row of B over A."""
    resumed = run.resumed([ab.id])
    if resumed is not None:
        return resumed
    t0 = run.start(f"{ab.id} (stack B against stack A, alternating)")
    row = measure_ab(run, ab, benchmark)
    run.record(row, None)
    run.done(ab.id, row if row["status"] != "ok" else {"status": "ok"}, t0)
    if row["status"] == "ok":
        run.line(f"         B/A: {paired_text(row)}, {row['pairs']} rounds", stamp=False)
    return run.outcome(row)


KIND = register(Kind("ab", "ab_case", cases, prepare=prepare, estimate=estimate, noun="A/B cases", ab=True))

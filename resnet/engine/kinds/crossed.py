"""The peer across processes: our model in a worker of the run's backend and the peer
(torchvision's resnet50, PyTorch) in a worker of its own, both alive and stepped alternately
by the parent (resnet.engine.kinds.rounds), so that their ratio is paired as a paired group's
is, though no one process can hold both.

One group per paired (mode, batch) of ``--paired``, device and precision, for each peer among
``--versions``: our counterpart of the peer's layout (torchvision-resnet50: v1.5) against the
peer eager and compiled (``torch.compile``), each ratio the peer's images/s over ours with
its 95% interval (rows of kind ``paired``, comparison ``peer``).  A peer setting that cannot
run here (torch.compile without a compiler) gives its row that status; the others go on.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from resnet.engine.errors import CaseFailure
from resnet.engine.kinds.base import Kind, Outcome, Run, register
from resnet.engine.kinds.rounds import Alternation, Budget, Member, images_per_sec
from resnet.engine.plan import RunPlan
from resnet.engine.progress import paired_text
from resnet.engine.worker.client import WorkerClient
from resnet.schema import OURS_FOR, PEERS, Case, new_row
from resnet.stats import seed_for

#: The backend each peer's worker runs.
PEER_BACKEND = {"torchvision-resnet50": "torch"}
#: The peer's settings: eager, and compiled.
PEER_JIT = {False: "", True: "-compiled"}


@dataclass(frozen=True)
class CrossGroup:
    """Our model in the run's worker against a peer in its own, one precision."""

    ours: Case
    peer: str
    peer_jit: tuple[bool, ...] = (False, True)

    def peer_case(self, jit: bool) -> Case:
        """The peer's case in its worker."""
        return self.ours.replace(version=self.peer, jit=jit, backend=PEER_BACKEND[self.peer])

    @property
    def id(self) -> str:
        """``cross-inference-bs32-float32-cpu`` (and the axes set away from their defaults)."""
        return "cross-" + self.ours.id.removeprefix(f"{self.ours.version}-")

    def name(self, jit: bool) -> str:
        """``torchvision-resnet50`` or ``torchvision-resnet50-compiled``."""
        return self.peer + PEER_JIT[jit]

    def row_ids(self) -> list[str]:
        """The case id of every ratio the group gives."""
        return [f"{self.id}-{self.name(j)}/{self.ours.version}" for j in self.peer_jit]


def groups(plan: RunPlan) -> list[CrossGroup]:
    """A group per paired (mode, batch), device and precision, for each peer of the run."""
    axes = plan.axes
    peers = [v for v in axes.versions if v in PEERS]
    return [
        CrossGroup(
            Case(
                OURS_FOR[peer], mode, batch, p, d, axes.jit[0], axes.image_size, axes.threads[0], plan.backend
            ),
            peer,
        )
        for peer in peers
        for mode, batch in plan.settings.paired
        for d in axes.devices
        for p in axes.precisions
    ]


def estimate(plan: RunPlan, found: list[CrossGroup]) -> tuple[float, float]:
    """Each model its overhead (a compiled peer three times that) and its steps' seconds."""
    from resnet.engine.kinds.paired import MODEL_OVERHEAD_S, step_seconds

    least = most = 0.0
    for group in found:
        low, high = step_seconds(plan, group.ours.mode)
        overhead = MODEL_OVERHEAD_S * (2 + 3 * sum(group.peer_jit))
        models = 1 + len(group.peer_jit)
        least += overhead + models * low
        most += overhead + models * high
    return least, most


def measure_cross(
    run: Run, group: CrossGroup, benchmark: Any, seed: int | None = None
) -> list[dict[str, Any]]:
    """Ours in one worker, the peer's settings in another, stepped alternately; one row each."""
    settings = run.plan.settings
    ours = group.ours
    failed: dict[bool, tuple[str, str]] = {}
    outcome: dict[str, Any] = {"status": "ok"}
    rounds: Alternation | None = None
    t0 = time.monotonic()
    try:
        with contextlib.ExitStack() as held:
            mine = held.enter_context(WorkerClient(threads=ours.threads, timeout=run.case_timeout * 3))
            run.remember_info(mine.info)
            mine.call("setup", case=ours)
            mine.call("warm")
            theirs = held.enter_context(
                WorkerClient(
                    threads=ours.threads,
                    timeout=run.case_timeout * 3,
                    env={"KERAS_BACKEND": PEER_BACKEND[group.peer]},
                )
            )
            members = [Member(ours.version, mine)]
            for jit in group.peer_jit:
                try:
                    theirs.call("setup", case=group.peer_case(jit), slot=group.name(jit))
                    members.append(Member(group.name(jit), theirs, group.name(jit)))
                except CaseFailure as err:
                    failed[jit] = (err.status, err.reason)
            theirs.call("warm")
            if len(members) > 1:
                rounds = Alternation(members, seed_for(group.id) + (settings.seed if seed is None else seed))
                rounds.warm_up(settings.warmup_rounds)
                mode = ours.mode
                budget = Budget(
                    settings.paired_rounds,
                    settings.paired_time(mode),
                    settings.paired_width,
                    settings.paired_cap(mode),
                )
                pairs = [(m.name, ours.version) for m in members[1:]]
                rounds.run(budget, pairs, benchmark)
            mine.call("finish")
            theirs.call("finish")
    except CaseFailure as err:
        outcome.update(status=err.status, reason=err.reason)
    outcome["wall_s"] = time.monotonic() - t0
    return [_row(group, jit, rounds, outcome, failed.get(jit)) for jit in group.peer_jit]


def _row(
    group: CrossGroup, jit: bool, rounds: Alternation | None, outcome: dict, failed: tuple | None
) -> dict:
    ours = group.ours
    row = new_row(ours, kind="paired", case_id=f"{group.id}-{group.name(jit)}/{ours.version}")
    row.update(
        comparison="peer", numerator=group.name(jit), denominator=ours.version, wall_s=outcome["wall_s"]
    )
    if failed is not None:
        row.update(status=failed[0], reason=failed[1])
    elif outcome["status"] != "ok" or rounds is None:
        row.update(status=outcome["status"], reason=outcome.get("reason"))
    else:
        row.update(rounds.ratio(group.name(jit), ours.version), status="ok")
        num, den = row["samples_s"]
        row.update(
            numerator_images_per_sec=images_per_sec(ours.global_batch, num),
            denominator_images_per_sec=images_per_sec(ours.global_batch, den),
        )
    return row


def run_cross(run: Run, group: CrossGroup, benchmark: Any) -> Outcome:
    """Ours against the peer across processes; one row per peer setting."""
    resumed = run.resumed(group.row_ids())
    if resumed is not None:
        return resumed
    t0 = run.start(
        f"{group.id} ({group.peer} in a {PEER_BACKEND[group.peer]} worker against {group.ours.version})"
    )
    rows = measure_cross(run, group, benchmark)
    for row in rows:
        run.record(row)
    ok = [r for r in rows if r["status"] == "ok"]
    run.done(group.id, {"status": "ok"} if ok else rows[0], t0)
    for r in rows:
        name = r["case_id"].removeprefix(group.id + "-")
        text = (
            f"{paired_text(r)}, {r['pairs']} rounds"
            if r["status"] == "ok"
            else f"{r['status']}: {r['reason']}"
        )
        run.line(f"         {name}: {text}", stamp=False)
    return run.outcome(ok[0] if ok else rows[0])


KIND = register(
    Kind("crossed", "cross_group", groups, estimate=estimate, noun="peer groups across processes")
)

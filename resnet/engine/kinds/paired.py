"""Paired comparisons: several models stepped alternately in one worker process, so
that a drifting machine slows every one of them alike, and their ratios say how sure
they are.

A group holds our versions in each of the run's precisions (v1, v1.5, v2 x float32,
mixed_bfloat16, ...) for one mode and batch size.  Every round steps each model once:
the precisions in blocks, the blocks and the versions within each block in an order
shuffled per round (seeded), so no model always runs first or last and the versions a
version-cost ratio compares run at most two steps apart.  With a minimum time
(``--paired-min-time``) each precision block gets enough rounds for that many seconds of
timed steps per model (at least ``--paired-rounds``), so a fast block (float32 where
bfloat16 is emulated, or the reverse) is not starved of rounds by a slow one; a block
with fewer rounds runs in rounds spread evenly over the others.  The rounds are planned
from the warm-up steps; a block that still has less than the minimum time at the end of
the plan (its warm-up ran slow) runs extra rounds until it has it.  With a width
(``--paired-width``) a block whose version ratios are still wider than that after its
minimum goes on, up to a maximum time per model (``--paired-max-time``): a noisy machine
gets the rounds it needs for a usable interval, a steady one stops at the minimum.  From
the rounds come the version-cost ratios (each version over v1, in each precision) and
the mixed-precision speed-ups (each precision over float32, for each version), each
with its distribution-free 95% interval.  Memory and compile time stay per model in
the isolated cases: a shared process cannot tell them apart.

With deployment runtimes in the run (``--runtimes keras,onnxruntime,openvino``), an
inference group also holds each runtime's model of every version in every precision,
stepped in the same rounds as Keras's (in its precision's block): each runtime's images/s
over Keras's for the same model, precision and batch, with its interval (comparison
``runtime``).  A runtime that cannot run a precision here (ONNX Runtime in bfloat16) gives
its rows that status and reason; the rest of the group goes on.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resnet.engine.errors import CaseFailure
from resnet.engine.kinds.base import Kind, Outcome, Run, in_worker, register
from resnet.engine.plan import RunPlan
from resnet.engine.progress import paired_text
from resnet.engine.worker.client import WorkerClient
from resnet.schema import QUANTIZED, Case, new_row
from resnet.specs import VERSIONS
from resnet.stats import paired_ratio


@dataclass(frozen=True)
class PairedGroup:
    """The models one worker steps alternately, and what they share."""

    mode: str
    batch_size: int
    device: str
    jit: bool
    image_size: int
    threads: int | None
    backend: str
    versions: tuple[str, ...]
    precisions: tuple[str, ...]
    #: Deployment runtimes stepped beside Keras (inference groups): each runs every version
    #: in every precision it can, and gives its ratio to Keras's own model.
    runtimes: tuple[str, ...] = ()

    def case(self, version: str, precision: str, runtime: str = "keras") -> Case:
        """The case of one member."""
        return Case(
            version=version,
            mode=self.mode,
            batch_size=self.batch_size,
            precision=precision,
            device=self.device,
            jit=self.jit,
            image_size=self.image_size,
            threads=self.threads,
            backend=self.backend,
            runtime=runtime,
        )

    @property
    def members(self) -> list[tuple[str, str]]:
        """(version, precision) of every Keras model in the group."""
        return [(v, p) for p in self.precisions for v in self.versions]

    @property
    def runtime_members(self) -> list[tuple[str, str, str]]:
        """(version, precision, runtime) of every deployment runtime's model in the group."""
        return [(v, p, rt) for p in self.precisions for v in self.versions for rt in self.runtimes]

    @property
    def id(self) -> str:
        """``paired-inference-bs32-cpu`` (plus the axes set away from their defaults)."""
        base = self.case("v1", "float32").id.removeprefix("v1-").replace("-float32", "")
        return f"paired-{base}"

    def comparisons(self) -> list[tuple[str, str, str, str]]:
        """(comparison, numerator, denominator, fixed) for every ratio the group gives:
        each version over v1 in each precision; each precision over float32 per version;
        each runtime over Keras per version and precision (fixed: ``v1.5-float32``)."""
        out = [("runtime", rt, "keras", f"{v}-{p}") for v, p, rt in self.runtime_members]
        if "v1" in self.versions:
            out += [("version", v, "v1", p) for p in self.precisions for v in self.versions if v != "v1"]
        if "float32" in self.precisions:
            out += [
                ("precision", p, "float32", v)
                for v in self.versions
                for p in self.precisions
                if p != "float32"
            ]
        return out


def _slot(version: str, precision: str, runtime: str = "keras") -> str:
    return f"{version}/{precision}" if runtime == "keras" else f"{version}/{precision}/{runtime}"


def _slots(comparison: tuple[str, str, str, str]) -> tuple[str, str, tuple[str, str, str]]:
    """The numerator's and the denominator's slots of a comparison, and the (version,
    precision, runtime) its row describes."""
    kind, numerator, denominator, fixed = comparison
    if kind == "version":
        return _slot(numerator, fixed), _slot(denominator, fixed), (numerator, fixed, "keras")
    if kind == "precision":
        return _slot(fixed, numerator), _slot(fixed, denominator), (fixed, numerator, "keras")
    version, _, precision = fixed.partition("-")
    return _slot(version, precision, numerator), _slot(version, precision), (version, precision, numerator)


#: The most rounds --paired-min-time may ask of one precision block.
MAX_PAIRED_ROUNDS = 1000


def block_rounds(warm_s: dict[str, list[float]], rounds: int, min_time: float | None) -> dict[str, int]:
    """Rounds per precision block: ``rounds``, or more so that every model of the block
    (warm-up step times in ``warm_s``, per precision) gets ``min_time`` seconds of timed
    steps (at most MAX_PAIRED_ROUNDS)."""
    out = {}
    for precision, steps in warm_s.items():
        fastest = min(steps) if steps else 0.0
        need = math.ceil(min_time / fastest) if min_time and fastest > 0 else 0
        out[precision] = max(rounds, min(MAX_PAIRED_ROUNDS, need))
    return out


def _block(times: dict[str, dict[int, float]], group: PairedGroup, precision: str) -> list[str]:
    """The slots of a precision block that run: its versions', then its runtimes' (those set up)."""
    slots = [_slot(v, precision) for v in group.versions]
    return slots + [
        _slot(v, p, rt) for v, p, rt in group.runtime_members if p == precision and _slot(v, p, rt) in times
    ]


def _timed(times: dict[str, dict[int, float]], group: PairedGroup, precision: str) -> float:
    """Timed seconds of the block's model with the fewest."""
    return min(sum(times[slot].values()) for slot in _block(times, group, precision))


def narrow(times: dict[str, dict[int, float]], group: PairedGroup, precision: str, width: float) -> bool:
    """Whether every version ratio of the block (each version over v1, on the rounds the
    block ran) and every runtime's ratio to Keras has its 95% interval within ``width``
    percent of the ratio, both ways.  Stopping on the interval's width, which the spread
    of the rounds sets and not their centre, leaves the interval's coverage as it was (the
    stopping test checks it)."""
    limit = math.log1p(width / 100)
    pairs = [(_slot(v, precision), _slot("v1", precision)) for v in group.versions if v != "v1"]
    pairs = pairs if "v1" in group.versions else []
    pairs += [
        (_slot(v, p, rt), _slot(v, p))
        for v, p, rt in group.runtime_members
        if p == precision and _slot(v, p, rt) in times
    ]
    for numerator, denominator in pairs:
        own, base = times[numerator], times[denominator]
        shared = sorted(own.keys() & base.keys())
        if not shared:
            return False
        ratio, low, high = paired_ratio([own[i] for i in shared], [base[i] for i in shared])
        if not (math.isfinite(low) and math.isfinite(high)):
            return False  # too few rounds for a 95% interval
        if max(math.log(high / ratio), math.log(ratio / low)) > limit:
            return False
    return True


def schedule(blocks: dict[str, int]) -> list[list[str]]:
    """Which precision blocks each round steps: every block its number of rounds, a block
    with fewer rounds than the most spread evenly over them (Bresenham's rule), so the
    rounds it shares with another block cover the whole comparison."""
    total = max(blocks.values(), default=0)
    return [[p for p, n in blocks.items() if (i + 1) * n // total > i * n // total] for i in range(total)]


def groups(plan: RunPlan) -> list[PairedGroup]:
    """One paired comparison per (mode, batch) of ``--paired`` and device: our versions
    of the run in each of its precisions, and each deployment runtime's model of them in
    inference groups (at least two models)."""
    axes = plan.axes
    ours = tuple(v for v in VERSIONS if v in axes.versions)
    runtimes = tuple(rt for rt in axes.runtimes if rt != "keras")
    found = [
        PairedGroup(
            mode,
            batch,
            d,
            axes.jit[0],
            axes.image_size,
            axes.threads[0],
            plan.backend,
            ours,
            tuple(p for p in axes.precisions if p not in QUANTIZED),  # Keras has no int8 model to pair
            runtimes if mode == "inference" else (),
        )
        for mode, batch in plan.settings.paired
        for d in axes.devices
    ]
    return [g for g in found if len(g.members) + len(g.runtime_members) >= 2]


def row_ids(group: PairedGroup) -> list[str]:
    """The case id of every ratio the group gives."""
    return [f"{group.id}-{fixed}-{num}/{den}" for _, num, den, fixed in group.comparisons()]


class _Rounds:
    """The rounds of one paired group in one worker: each model's step time per round."""

    def __init__(self, worker: WorkerClient, group: PairedGroup, seed: int, runtimes: list[str] = ()) -> None:
        self.worker, self.group = worker, group
        self.times: dict[str, dict[int, float]] = {_slot(v, p): {} for v, p in group.members}
        self.times.update({slot: {} for slot in runtimes})  # the runtimes' slots that were set up
        self.plan: list[list[str]] = []
        self.order = random.Random(seed)
        self.counter = itertools.count()

    def warm_up(self, rounds: int) -> dict[str, list[float]]:
        """Every model stepped ``rounds`` times (at least once), untimed; their times per precision."""
        warm: dict[str, list[float]] = {p: [] for p in self.group.precisions}
        for _ in range(max(rounds, 1)):
            for precision in self.group.precisions:
                for slot in _block(self.times, self.group, precision):
                    warm[precision].append(self.worker.call("step", slot=slot)["seconds"])
        return warm

    def one_round(self) -> None:
        """The next round of the plan: its blocks and their versions in a shuffled order."""
        i = next(self.counter)
        blocks = self.plan[i]
        for precision in self.order.sample(blocks, len(blocks)):
            slots = _block(self.times, self.group, precision)
            for slot in self.order.sample(slots, len(slots)):
                self.times[slot][i] = self.worker.call("step", slot=slot)["seconds"]

    def more(self, needs: Callable[[str], bool], limit: int) -> None:
        """Extra rounds, each of the blocks that still ``needs`` one, until none does."""
        while len(self.plan) < limit:
            blocks = [p for p in self.group.precisions if needs(p)]
            if not blocks:
                return
            self.plan.append(blocks)
            self.one_round()


def measure_paired(
    run: Run, group: PairedGroup, benchmark: Any, seed: int | None = None
) -> list[dict[str, Any]]:
    """Step the group's models alternately, each precision block for ``--paired-rounds``
    rounds or enough for ``--paired-min-time`` seconds of timed steps per model, and with
    ``--paired-width`` more while its version ratios are wider than that, until its
    models have ``--paired-max-time`` seconds; one row per ratio.

    pytest-benchmark times whole rounds; each model's own step time comes from the
    worker, with the round it ran in, and a ratio pairs the steps of the rounds both
    models ran in.  A group that cannot run gives one row per ratio with the status
    and reason."""
    settings = run.plan.settings
    min_time, width, max_time = (
        settings.paired_time(group.mode),
        settings.paired_width,
        settings.paired_cap(group.mode),
    )
    outcome: dict[str, Any] = {"status": "ok"}
    rounds: _Rounds | None = None
    missing: dict[str, tuple[str, str]] = {}  # runtimes' slots that could not be set up
    models = len(group.members) + len(group.runtime_members)
    with in_worker(run, outcome, group.threads, run.case_timeout * models) as worker:
        for version, precision in group.members:
            worker.call("setup", case=group.case(version, precision), slot=_slot(version, precision))
        for version, precision, runtime in group.runtime_members:
            slot = _slot(version, precision, runtime)
            try:
                worker.call("setup", case=group.case(version, precision, runtime), slot=slot)
            except CaseFailure as err:  # this runtime cannot run this model here; the rest go on
                missing[slot] = (err.status, err.reason)
        worker.call("warm")
        present = [_slot(*m) for m in group.runtime_members if _slot(*m) not in missing]
        rounds = _Rounds(worker, group, settings.seed if seed is None else seed, present)
        rounds.plan = schedule(
            block_rounds(rounds.warm_up(settings.warmup_rounds), settings.paired_rounds, min_time)
        )
        benchmark.pedantic(rounds.one_round, rounds=len(rounds.plan), iterations=1)
        # The plan came from one warm-up step per model, often slower than the steps
        # that follow: a block still short of min_time runs more rounds, till it is not.
        if min_time:
            rounds.more(lambda p: _timed(rounds.times, group, p) < min_time, MAX_PAIRED_ROUNDS * 2)
        # A block whose version ratios are still too wide goes on, up to max_time.
        if width and max_time:
            rounds.more(
                lambda p: (
                    _timed(rounds.times, group, p) < max_time and not narrow(rounds.times, group, p, width)
                ),
                MAX_PAIRED_ROUNDS * 3,
            )
        worker.call("finish")
    times = rounds.times if rounds is not None else {}
    return [_ratio_row(group, c, times, outcome, missing) for c in group.comparisons()]


def _ratio_row(
    group: PairedGroup,
    comparison: tuple[str, str, str, str],
    times: dict,
    outcome: dict,
    missing: dict[str, tuple[str, str]] | None = None,
) -> dict:
    """One ratio's row: the Hodges-Lehmann ratio over the rounds both models ran in."""
    kind, numerator, denominator, fixed = comparison
    top, bottom, (version, precision, runtime) = _slots(comparison)
    row = new_row(group.case(version, precision, runtime), kind="paired")
    row["case_id"] = f"{group.id}-{fixed}-{numerator}/{denominator}"
    row.update(comparison=kind, numerator=numerator, denominator=denominator, wall_s=outcome["wall_s"])
    if outcome["status"] != "ok":
        row.update(status=outcome["status"], reason=outcome["reason"])
        return row
    if missing and top in missing:
        row.update(status=missing[top][0], reason=missing[top][1])
        return row
    a, b = times[top], times[bottom]
    shared = sorted(a.keys() & b.keys())  # the rounds both ran in
    num, den = [a[i] for i in shared], [b[i] for i in shared]
    ratio, low, high = paired_ratio(num, den)
    row.update(
        ratio=ratio,
        ratio_ci_low=low,
        ratio_ci_high=high,
        differs=bool(low > 1 or high < 1),
        pairs=len(num),
        rounds=len(num),
        numerator_images_per_sec=group.batch_size / statistics.median(num),
        denominator_images_per_sec=group.batch_size / statistics.median(den),
        samples_s=[num, den],
        status="ok",
    )
    return row


def run_paired(run: Run, group: PairedGroup, benchmark: Any) -> Outcome:
    """Step the group's models alternately in one worker; one row per ratio."""
    resumed = run.resumed(row_ids(group))
    if resumed is not None:
        return resumed
    t0 = run.start(f"{group.id} ({len(group.members) + len(group.runtime_members)} models alternating)")
    rows = measure_paired(run, group, benchmark)
    benchmark.group = group.id  # its rounds in pytest-benchmark's table, a group of their own
    if getattr(benchmark, "stats", None) is not None:
        benchmark.stats.group = group.id
    for row in rows:
        run.record(row)
    first = rows[0]
    run.done(group.id, first if first["status"] != "ok" else {"status": "ok"}, t0)
    if first["status"] == "ok":
        for r in rows:
            name = r["case_id"].removeprefix(group.id + "-")
            run.line(f"         {name}: {paired_text(r)}, {r['pairs']} rounds", stamp=False)
    return run.outcome(first)


#: Seconds a paired model takes beyond its timed steps (build, compile, warm-up, switching
#: blocks) on the project's 2-core machines at 224 px: 11 (training) to 15 (inference) in a
#: quick run on a Zen 4 VM, 2026-12-06.
MODEL_OVERHEAD_S = 13.0


def estimate(plan: RunPlan, found: list[PairedGroup]) -> tuple[float, float]:
    """(seconds at the least, at the most) for the groups: each model its overhead and its
    minimum (or, with --paired-width, its maximum) seconds of timed steps; a group without a
    minimum time counts 1 s a model."""
    least = most = 0.0
    for group in found:
        models = len(group.members) + len(group.runtime_members)
        low, high = step_seconds(plan, group.mode)
        least += models * (MODEL_OVERHEAD_S + low)
        most += models * (MODEL_OVERHEAD_S + high)
    return least, most


def step_seconds(plan: RunPlan, mode: str) -> tuple[float, float]:
    """(least, most) seconds of timed steps one model of a paired measurement in ``mode``
    takes: its minimum time (1 s without one), and with --paired-width its cap where larger.
    Every kind that alternates models estimates with it (paired, ab, crossed)."""
    settings = plan.settings
    low = settings.paired_time(mode) or 1.0
    high = settings.paired_cap(mode) if settings.paired_width else None
    return low, max(low, high or 0.0)


KIND = register(Kind("paired", "group", groups, estimate=estimate, noun="paired groups"))

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
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resnet.engine.worker_client import CaseFailure, WorkerClient
from resnet.schema import Case, new_row
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

    def case(self, version: str, precision: str) -> Case:
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
        )

    @property
    def members(self) -> list[tuple[str, str]]:
        """(version, precision) of every model in the group."""
        return [(v, p) for p in self.precisions for v in self.versions]

    @property
    def id(self) -> str:
        """``paired-inference-bs32-cpu`` (plus the axes set away from their defaults)."""
        base = self.case("v1", "float32").id.removeprefix("v1-").replace("-float32", "")
        return f"paired-{base}"

    def comparisons(self) -> list[tuple[str, str, str, str]]:
        """(comparison, numerator, denominator, fixed) for every ratio the group gives:
        each version over v1 in each precision; each precision over float32 per version."""
        out = []
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


def _slot(version: str, precision: str) -> str:
    return f"{version}/{precision}"


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


def _timed(times: dict[str, dict[int, float]], group: PairedGroup, precision: str) -> float:
    """Timed seconds of the block's model with the fewest."""
    return min(sum(times[_slot(v, precision)].values()) for v in group.versions)


def narrow(times: dict[str, dict[int, float]], group: PairedGroup, precision: str, width: float) -> bool:
    """Whether every version ratio of the block (each version over v1, on the rounds the
    block ran) has its 95% interval within ``width`` percent of the ratio, both ways.
    Stopping on the interval's width, which the spread of the rounds sets and not their
    centre, leaves the interval's coverage as it was (the stopping test checks it)."""
    if "v1" not in group.versions:
        return True
    limit = math.log1p(width / 100)
    base = times[_slot("v1", precision)]
    for version in group.versions:
        if version == "v1":
            continue
        own = times[_slot(version, precision)]
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


def measure_paired(
    group: PairedGroup,
    benchmark: Any,
    *,
    rounds: int,
    warmup_rounds: int,
    timeout: float,
    seed: int,
    min_time: float | None = None,
    width: float | None = None,
    max_time: float | None = None,
    on_worker_info: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Step the group's models alternately, each precision block for ``rounds`` rounds or
    enough for ``min_time`` seconds of timed steps per model, and with ``width`` more
    while its version ratios are wider than ``width`` percent, until its models have
    ``max_time`` seconds; one row per ratio.

    pytest-benchmark times whole rounds; each model's own step time comes from the
    worker, with the round it ran in, and a ratio pairs the steps of the rounds both
    models ran in.  A group that cannot run gives one row per ratio with the status
    and reason."""
    times: dict[str, dict[int, float]] = {_slot(v, p): {} for v, p in group.members}
    t0 = time.monotonic()
    failure: CaseFailure | None = None
    try:
        with WorkerClient(threads=group.threads, timeout=timeout) as worker:
            if on_worker_info:
                on_worker_info(worker.info)
            for version, precision in group.members:
                worker.call("setup", case=group.case(version, precision), slot=_slot(version, precision))
            worker.call("warm")
            warm: dict[str, list[float]] = {p: [] for p in group.precisions}
            for _ in range(max(warmup_rounds, 1)):
                for version, precision in group.members:
                    warm[precision].append(worker.call("step", slot=_slot(version, precision))["seconds"])
            plan = schedule(block_rounds(warm, rounds, min_time))
            order = random.Random(seed)
            counter = itertools.count()

            def one_round() -> None:
                i = next(counter)
                for precision in order.sample(plan[i], len(plan[i])):
                    for version in order.sample(group.versions, len(group.versions)):
                        slot = _slot(version, precision)
                        times[slot][i] = worker.call("step", slot=slot)["seconds"]

            def more_rounds(needs: Callable[[str], bool], limit: int) -> None:
                """Extra rounds, each of the blocks that still ``needs`` one, until none does."""
                while len(plan) < limit:
                    blocks = [p for p in group.precisions if needs(p)]
                    if not blocks:
                        return
                    plan.append(blocks)
                    one_round()

            benchmark.pedantic(one_round, rounds=len(plan), iterations=1)
            # The plan came from one warm-up step per model, often slower than the steps
            # that follow: a block still short of min_time runs more rounds, till it is not.
            if min_time:
                more_rounds(lambda p: _timed(times, group, p) < min_time, MAX_PAIRED_ROUNDS * 2)
            # A block whose version ratios are still too wide goes on, up to max_time.
            if width and max_time:
                more_rounds(
                    lambda p: _timed(times, group, p) < max_time and not narrow(times, group, p, width),
                    MAX_PAIRED_ROUNDS * 3,
                )
            worker.call("finish")
    except CaseFailure as err:
        failure = err
    wall = time.monotonic() - t0
    rows = []
    for comparison, numerator, denominator, fixed in group.comparisons():
        version, precision = (numerator, fixed) if comparison == "version" else (fixed, numerator)
        row = new_row(group.case(version, precision), kind="paired")
        row["case_id"] = f"{group.id}-{fixed}-{numerator}/{denominator}"
        row.update(comparison=comparison, numerator=numerator, denominator=denominator, wall_s=wall)
        if failure is not None:
            row.update(status=failure.status, reason=failure.reason)
            rows.append(row)
            continue
        a = times[_slot(*((numerator, fixed) if comparison == "version" else (fixed, numerator)))]
        b = times[_slot(*((denominator, fixed) if comparison == "version" else (fixed, denominator)))]
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
        rows.append(row)
    return rows

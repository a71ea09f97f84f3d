"""Alternating rounds across worker processes: models that live in different workers (two
software stacks, two backends) stepped one after the other by the parent, every round in a
seeded shuffled order, so that a machine whose speed drifts slows each of them alike and
their ratio, taken round by round, keeps its interval.  Only one worker computes at a time:
the others wait on their command pipe.

Used by A/B runs (resnet.engine.kinds.ab) and by the peer across processes
(resnet.engine.kinds.crossed); the paired groups of one worker are resnet.engine.kinds.paired.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from typing import Any

from resnet.engine.errors import CaseFailure
from resnet.engine.worker.client import WorkerClient
from resnet.stats import paired_median_ratio

#: The most rounds one alternation may run.
MAX_ROUNDS = 2000


@dataclass(frozen=True)
class Member:
    """One model of an alternation: its name, the worker holding it and its slot there."""

    name: str
    worker: WorkerClient
    slot: str = "main"
    #: How a failure of its worker is labelled ("stack B"; default: the name).
    label: str = ""


@dataclass(frozen=True)
class Budget:
    """When an alternation stops: at least ``rounds`` rounds and ``min_time`` seconds of
    timed steps per member; then, with a ``width`` (percent), more rounds while a ratio's 95%
    interval is wider than that either way, until each member has ``max_time`` seconds."""

    rounds: int
    min_time: float | None = None
    width: float = 0.0
    max_time: float | None = None


def pooled_ratio(sessions: list[dict[str, list[float]]], numerator: str, denominator: str) -> dict[str, Any]:
    """images/s of ``numerator`` over ``denominator`` over every session's rounds (each
    session: the members' step times, round by round), pooled: the median of the per-round
    ratios and its distribution-free 95% interval (NaN under 6 rounds)."""
    num = [t for s in sessions for t in s.get(numerator, [])]
    den = [t for s in sessions for t in s.get(denominator, [])]
    if not num:
        return {"pairs": 0, "samples_s": [num, den]}
    ratio, low, high = paired_median_ratio(num, den)
    return {
        "ratio": ratio,
        "ratio_ci_low": low,
        "ratio_ci_high": high,
        "differs": bool(low > 1 or high < 1),
        "pairs": len(num),
        "rounds": len(num),
        "samples_s": [num, den],
    }


class Alternation:
    """Members stepped in rounds; each member's step time per round.  ``earlier``: the
    rounds of earlier sessions of the same members (other worker processes), by member:
    a ratio and the width rule pool them with this session's."""

    def __init__(self, members: list[Member], seed: int, earlier: list[dict[str, list[float]]] = ()) -> None:
        self.members = {m.name: m for m in members}
        self.times: dict[str, dict[int, float]] = {m.name: {} for m in members}
        self.order = random.Random(seed)
        self.rounds = 0
        self.earlier = list(earlier)

    def session(self) -> dict[str, list[float]]:
        """This session's rounds that every member ran, per member, in round order."""
        shared = sorted(set.intersection(*(set(t) for t in self.times.values())))
        return {name: [times[i] for i in shared] for name, times in self.times.items()}

    def step(self, name: str) -> float:
        """One step of a member, as its worker timed it (after its result was ready)."""
        member = self.members[name]
        try:
            return float(member.worker.call("step", slot=member.slot)["seconds"])
        except CaseFailure as err:
            raise CaseFailure(err.status, f"{member.label or name}: {err.reason}") from None

    def warm_up(self, rounds: int) -> dict[str, list[float]]:
        """Every member stepped ``rounds`` times (at least once), alternately, untimed."""
        warm: dict[str, list[float]] = {name: [] for name in self.members}
        for _ in range(max(rounds, 1)):
            for name in self.order.sample(list(self.members), len(self.members)):
                warm[name].append(self.step(name))
        return warm

    def one_round(self) -> None:
        """Every member once, in a shuffled order."""
        i = self.rounds
        for name in self.order.sample(list(self.members), len(self.members)):
            self.times[name][i] = self.step(name)
        self.rounds += 1

    def timed(self, name: str) -> float:
        """Seconds of timed steps of a member so far."""
        return sum(self.times[name].values())

    def ratio(self, numerator: str, denominator: str) -> dict[str, Any]:
        """images/s of ``numerator`` over ``denominator`` over the rounds both ran in: the
        median of the per-round ratios and its distribution-free 95% interval (NaN under 6
        rounds; resnet.stats.paired_median_ratio says why the median)."""
        a, b = self.times[numerator], self.times[denominator]
        shared = sorted(a.keys() & b.keys())
        now = {numerator: [a[i] for i in shared], denominator: [b[i] for i in shared]}
        return pooled_ratio([*self.earlier, now], numerator, denominator)

    def narrow(self, pairs: list[tuple[str, str]], width: float) -> bool:
        """Whether every ratio of ``pairs`` has its 95% interval within ``width`` percent."""
        limit = math.log1p(width / 100)
        for numerator, denominator in pairs:
            found = self.ratio(numerator, denominator)
            low, high = found.get("ratio_ci_low", math.nan), found.get("ratio_ci_high", math.nan)
            if not (math.isfinite(low) and math.isfinite(high)):
                return False
            if max(math.log(high / found["ratio"]), math.log(found["ratio"] / low)) > limit:
                return False
        return True

    def run(self, budget: Budget, pairs: list[tuple[str, str]], benchmark: Any = None) -> None:
        """Rounds until the budget is met (pytest-benchmark times the first ``budget.rounds``
        whole rounds, when given)."""
        if benchmark is not None:
            benchmark.pedantic(self.one_round, rounds=max(budget.rounds, 1), iterations=1)
        while self.rounds < budget.rounds:
            self.one_round()
        while self.rounds < MAX_ROUNDS:
            least = min(self.timed(name) for name in self.members)
            if budget.min_time and least < budget.min_time:
                self.one_round()
                continue
            if budget.width and budget.max_time and least < budget.max_time:
                if not self.narrow(pairs, budget.width):
                    self.one_round()
                    continue
            return


def images_per_sec(batch: int, steps: list[float]) -> float | None:
    """images/s of a member's median step."""
    return batch / statistics.median(steps) if steps else None

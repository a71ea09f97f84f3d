"""What every kind of measurement shares on the parent's side: one driver skeleton
(start a worker for the case, hand it to the kind, and turn a failure on either side
of the process boundary into the row's status and reason), and what a kind may ask of
the sweep that runs it (:class:`Run`)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from resnet.engine.errors import CaseFailure
from resnet.engine.plan import RunPlan
from resnet.engine.worker.client import WorkerClient

#: A case's pytest outcome: ("skip" | "xfail" | "fail", reason), or None when it ran.
Outcome = tuple[str, str] | None


class Run(Protocol):
    """What a kind asks of the sweep running it (resnet.engine.sweep.Sweep is one)."""

    plan: RunPlan
    case_timeout: float
    #: When the run began (unix time).
    started: float
    rows: list[dict[str, Any]]
    data_dir: str | None

    def resumed(self, ids: list[str]) -> Outcome:
        """With every row of ``ids`` already in the journal (--resume): keep them, and
        the outcome that says so; else None."""

    def start(self, name: str) -> float:
        """Say a measurement starts; returns its start time."""

    def done(self, name: str, row: dict[str, Any], t0: float) -> None:
        """Say a measurement finished, with its headline."""

    def line(self, text: str, stamp: bool = True) -> None:
        """A progress line (with the time of day unless ``stamp`` is False)."""

    def record(self, row: dict[str, Any], benchmark: Any | None = None) -> None:
        """Keep a finished row: the run's rows, the journal, pytest-benchmark's extra_info."""

    def outcome(self, row: dict[str, Any]) -> Outcome:
        """The pytest outcome of a row."""

    def remember_info(self, info: dict[str, Any]) -> None:
        """What a worker's backend reported (kept once per run)."""

    def state(self, kind: str) -> dict[str, Any]:
        """A kind's own state for this run (kept between its measurements)."""


@dataclass(frozen=True)
class Kind:
    """A kind of measurement as pytest meets it: its name, the fixture its bench file takes,
    the cases it parametrizes from a run's plan (each with an ``id``, or a plain string),
    what it prepares before any case runs (``prepare(run, its cases)``), and how long its
    cases are expected to take (``estimate(plan, its cases)``: the least and the most)."""

    name: str
    fixture: str
    cases: Callable[[RunPlan], list[Any]]
    prepare: Callable[[Run, list[Any]], None] | None = None
    #: Seconds its cases are expected to take before any ran: (the least, the most).
    estimate: Callable[[RunPlan, list[Any]], tuple[float, float]] | None = None
    #: What its cases are called in a sentence ("case windows", "paired groups").
    noun: str = "cases"
    #: Whether it runs in A/B runs (``--ab``) only; every other kind runs only outside them.
    ab: bool = False


#: Every kind, by name, in the order its module registered it (resnet.engine.kinds).
KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    """Make a kind known to the sweep and to ``bench/conftest.py``."""
    KINDS[kind.name] = kind
    return kind


def case_id(case: Any) -> str:
    """The pytest id of a case a kind parametrizes."""
    return case if isinstance(case, str) else case.id


@contextlib.contextmanager
def in_worker(
    run: Run,
    row: dict[str, Any],
    threads: int | None,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
    cpu_devices: int | None = None,
) -> Iterator[WorkerClient]:
    """A worker for one measurement: the block measures with it; a CaseFailure (the
    worker's, a time-out, a crash) becomes ``row``'s status and reason, and ``row``
    gets its wall time either way."""
    t0 = time.monotonic()
    try:
        with WorkerClient(threads=threads, timeout=timeout or run.case_timeout, env=env,
                          cpu_devices=cpu_devices) as worker:  # fmt: skip
            run.remember_info(worker.info)
            yield worker
    except CaseFailure as err:
        row.update(status=err.status, reason=err.reason)
    row["wall_s"] = time.monotonic() - t0


def measured(
    run: Run, name: str, ids: list[str], benchmark: Any, fn: Callable[[], dict[str, Any]]
) -> Outcome:
    """The one resume rule and the one record rule for a kind that gives one row: skip
    it when the journal has it, else measure it (``fn``), record it and say so."""
    resumed = run.resumed(ids)
    if resumed is not None:
        return resumed
    t0 = run.start(name)
    row = fn()
    run.record(row, benchmark if row["status"] == "ok" else None)
    run.done(name, row, t0)
    return run.outcome(row)

"""One sweep as pytest runs it: the plan, the journal, the rows, progress, the JSON.

``bench/conftest.py`` makes one :class:`Sweep` from the typed command-line options; the
bench files hand it to the kind of measurement they run (resnet.engine.kinds), which
asks it for what every kind shares: the plan, the one resume rule, recording a row,
progress lines, pytest's outcome.  The sweep knows no kind by name: it asks each
registered kind (resnet.engine.kinds.base.KINDS) for its cases and what it prepares.
"""

from __future__ import annotations

import datetime
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import resnet.engine.kinds  # noqa: F401  (registers every kind)
from resnet.engine.finish import RUN_FIELDS, closing_line, finished_rows
from resnet.engine.journal import Journal
from resnet.engine.kinds.base import KINDS, Outcome
from resnet.engine.machine import current_backend, machine_info
from resnet.engine.plan import RunPlan, resolve
from resnet.engine.profiles import DEFAULT_PROFILE
from resnet.engine.progress import Progress
from resnet.schema import benchmark_group


class Sweep:
    """The state of one ``pytest bench`` run.

    Args:
        options: typed option values by Axes or Settings field (None: not given), plus
            ``profile`` and ``allow_oversubscribe``.
        journal_path: where the journal goes (None: keep none, as for ``--collect-only``).
        resume: skip the cases the journal already holds.
        case_timeout: seconds one case may take, worker start included.
        write: where progress lines go.
    """

    def __init__(
        self,
        options: dict[str, Any],
        *,
        journal_path: str | os.PathLike | None,
        resume: bool = False,
        case_timeout: float = 1800.0,
        write: Callable[[str], None] = print,
    ) -> None:
        self.backend = current_backend()
        self.profile = options.get("profile") or DEFAULT_PROFILE
        self.plan: RunPlan = resolve(options, self.backend)
        #: What pytest parametrizes: each kind's cases, by the fixture its bench file takes.
        self.cases: dict[str, list[Any]] = {
            kind.fixture: kind.cases(self.plan) if kind.ab == bool(self.plan.settings.ab) else []
            for kind in KINDS.values()
        }
        self.data_dir: str | None = None
        self.case_timeout = case_timeout
        self.progress = Progress(write)
        self.rows: list[dict[str, Any]] = []
        self.worker_info: dict[str, Any] = {}
        self.started = time.time()
        self._state: dict[str, dict[str, Any]] = {}
        # The run's machine, date and commit: a run that leaves only its journal keeps them.
        header = {
            "sweep_id": uuid.uuid4().hex,
            "profile": self.profile,
            "backend": self.backend,
            **self.plan.to_dict(),
            "machine_info": sweep_machine_info(),
            "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "commit_info": commit_info(),
        }
        self.journal = Journal(journal_path, header, resume) if journal_path is not None else None
        #: The sweep's identity, kept when it is resumed: a store holds one run per sweep.
        self.sweep_id = (self.journal.header if self.journal is not None else header).get("sweep_id")
        #: Rows an earlier sweep of this journal finished (--resume), by case id.
        self.journaled = self.journal.done if self.journal is not None else {}

    # -- what every kind asks of the run (resnet.engine.kinds.base.Run) ----------
    def resumed(self, ids: list[str]) -> Outcome:
        """The one resume rule: with every row of ``ids`` in the journal, keep those rows
        and skip the measurement, saying where they came from."""
        if not ids or not all(i in self.journaled for i in ids):
            return None
        self.rows += [self.journaled[i] for i in ids]
        return "skip", f"already measured in {self.journal.path} (--resume)"

    def start(self, name: str) -> float:
        return self.progress.start(name)

    def done(self, name: str, row: dict[str, Any], t0: float) -> None:
        self.progress.done(name, row, t0)

    def line(self, text: str, stamp: bool = True) -> None:
        self.progress.line(text, stamp)

    def record(self, row: dict[str, Any], benchmark: Any | None = None) -> None:
        self.rows.append(row)
        if self.journal is not None:
            self.journal.append(row)
        if benchmark is not None:
            benchmark.extra_info.update(row)
            # pytest-benchmark's own table, --benchmark-compare and --benchmark-group-by then
            # set side by side only cases measured alike (its stats copied the group already).
            benchmark.group = benchmark_group(row)
            if getattr(benchmark, "stats", None) is not None:
                benchmark.stats.group = benchmark.group

    def outcome(self, row: dict[str, Any]) -> Outcome:
        """("skip"|"xfail"|"fail", reason) for a case that did not run, else None."""
        status = row["status"]
        if status == "ok":
            return None
        if status == "skipped":
            return "skip", row["reason"]
        if status == "oom":
            return "xfail", f"out of memory: {row['reason']}"
        return "fail", f"{status}: {row['reason']}"

    def remember_info(self, info: dict[str, Any]) -> None:
        if not self.worker_info:
            self.worker_info = dict(info)

    def state(self, kind: str) -> dict[str, Any]:
        return self._state.setdefault(kind, {})

    # -- the run --------------------------------------------------------------------
    def prepare(self) -> None:
        """What each kind needs before any case runs (the generated data set that pipeline
        and --data jpeg cases read); then say how long the run is expected to take."""
        for kind in KINDS.values():
            if kind.prepare is not None:
                kind.prepare(self, self.cases[kind.fixture])
        self.line(expectation(self.plan, self.cases))

    def close(self) -> None:
        """The sweep is over: release the journal."""
        if self.journal is not None:
            self.journal.close()

    def json_section(self) -> dict[str, Any]:
        """What the run adds to pytest-benchmark's JSON: every case's row, including
        the ones that failed, were skipped or came from a resumed journal, and what
        the workers' backend reported (machine_info holds only the machine)."""
        return {
            "sweep_id": self.sweep_id,
            "profile": self.profile,
            "backend": self.backend,
            "backend_info": self.worker_info,
            "axes": self.plan.to_dict(),
            "journal": str(self.journal.path) if self.journal is not None else None,
            "wall_s": time.time() - self.started,
            "cases": finished_rows(self.rows),
        }

    def update_json(self, output: dict[str, Any]) -> None:
        """pytest-benchmark's JSON with the run's section and, in every benchmark's
        ``extra_info``, the fields only the whole run can give (finished_rows)."""
        output["resnet_bench"] = section = self.json_section()
        text = closing_line(section["cases"])
        if text:
            self.line(text)
        by_id = {row["case_id"]: row for row in section["cases"]}
        for bench in output.get("benchmarks") or []:
            extra = bench.get("extra_info") or {}
            row = by_id.get(extra.get("case_id"))
            if row is not None:
                extra.update({k: row[k] for k in RUN_FIELDS if k in row})


def expectation(plan: RunPlan, cases: dict[str, list[Any]]) -> str:
    """What the run will measure and how long it is expected to take, from each kind's
    estimate (kinds without one named as not estimated)."""
    least = most = 0.0
    parts, unknown = [], []
    for kind in KINDS.values():
        found = cases.get(kind.fixture) or []
        if not found:
            continue
        if kind.estimate is None:
            unknown.append(f"{len(found)} {kind.noun}")
            continue
        low, high = kind.estimate(plan, found)
        least, most = least + low, most + high
        parts.append(f"{len(found)} {kind.noun}")
    settings = plan.settings
    budget = settings.time_budget
    if budget:
        most = min(most, max(budget, least))
    text = f"plan: {', '.join(parts) or 'nothing estimated'}; expected about {least / 60:.0f} min"
    if most > least * 1.05:
        text += f", up to {most / 60:.0f} min" + (f" (time budget {budget / 60:g} min)" if budget else "")
    if settings.target_precision:
        text += (
            f"; windows per case {settings.windows} to {settings.most_windows}, until +-"
            f"{settings.target_precision:g}%"
        )
    return text + (f"; not estimated: {', '.join(unknown)}" if unknown else "")


def commit_info() -> dict[str, Any]:
    """The commit the run measures, as pytest-benchmark records it (id, branch, dirty, ...)."""
    try:
        from pytest_benchmark.utils import get_commit_info

        return get_commit_info()
    except Exception as err:  # no git, not a repository: the run still goes on
        return {"id": None, "error": str(err)}


def sweep_machine_info() -> dict[str, Any]:
    """machine_info for pytest-benchmark: what identifies the machine and its software,
    filled the same way at every run (so ``--benchmark-compare`` stays quiet)."""
    return machine_info()


def default_journal(json_path: str | None) -> Path:
    """Next to the JSON (``out.json`` -> ``out.journal.jsonl``), else under .benchmarks/."""
    if json_path:
        p = Path(json_path)
        return p.with_name(p.stem + ".journal.jsonl")
    return Path(".benchmarks") / "resnet-bench.journal.jsonl"

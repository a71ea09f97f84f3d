"""One sweep as pytest runs it: the axes, the journal, the rows, progress.

``bench/conftest.py`` makes one :class:`Sweep` from the typed command-line options;
the bench files call its methods, one per kind of case.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resnet.engine.journal import Journal
from resnet.engine.machine import machine_info
from resnet.engine.measure import PeakCache, harness_overhead_ms, measure, metrics_from_times
from resnet.engine.options import DEFAULT_PROFILE, Axes, current_backend, resolve_axes
from resnet.engine.worker_client import CaseFailure, WorkerClient
from resnet.schema import Case, new_row

#: The figures a progress line shows, in this order, when a row has them.
HEADLINE: dict[str, Callable[[float], str]] = {
    "images_per_sec": lambda v: f"{v:.1f} img/s",
    "latency_ms_p50": lambda v: f"p50 {v:.1f} ms",
    "compile_s": lambda v: f"compile {v:.1f} s",
    "utilization": lambda v: f"{100 * v:.0f}% of peak",
    "ratio": lambda v: f"ratio {v:.3f}",
    "build_s": lambda v: f"build {v:.2f} s",
}


def headline(row: dict[str, Any]) -> str:
    """A row's figures in one line: ``20.3 img/s, p50 1578.8 ms, compile 3.2 s``."""
    if row["status"] != "ok":
        return f"{row['status'].upper()}: {row['reason']}"
    parts = [show(row[name]) for name, show in HEADLINE.items() if row.get(name) is not None]
    return ", ".join(parts) or "done"


class Sweep:
    """The state of one ``pytest bench`` run.

    Args:
        options: typed option values by Axes field (None: not given), plus ``profile``.
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
        self.axes: Axes = resolve_axes(options, self.backend)
        self.cases: list[Case] = self.axes.cases(self.backend)
        self.case_timeout = case_timeout
        self.write = write
        self.rows: list[dict[str, Any]] = []
        self.peaks = PeakCache()
        self.worker_info: dict[str, Any] = {}
        self.started = time.time()
        header = {"profile": self.profile, "backend": self.backend, **self.axes.to_dict()}
        self.journal = Journal(journal_path, header, resume) if journal_path is not None else None
        self.done = self.journal.done if self.journal is not None else {}

    # -- progress -----------------------------------------------------------
    def _start(self, name: str) -> float:
        self.write(f"[resnet-bench] {time.strftime('%H:%M:%S')} start  {name}")
        return time.monotonic()

    def _done(self, name: str, row: dict[str, Any], t0: float) -> None:
        self.write(
            f"[resnet-bench] {time.strftime('%H:%M:%S')} finish {name} "
            f"({time.monotonic() - t0:.0f} s): {headline(row)}"
        )

    def _record(self, row: dict[str, Any], benchmark: Any | None) -> None:
        self.rows.append(row)
        if self.journal is not None:
            self.journal.append(row)
        if benchmark is not None:
            benchmark.extra_info.update(row)

    def _outcome(self, row: dict[str, Any]) -> tuple[str, str] | None:
        """("skip"|"xfail"|"fail", reason) for a case that did not run, else None."""
        status = row["status"]
        if status == "ok":
            return None
        if status == "skipped":
            return "skip", row["reason"]
        if status == "oom":
            return "xfail", f"out of memory: {row['reason']}"
        return "fail", f"{status}: {row['reason']}"

    def _remember_info(self, info: dict[str, Any]) -> None:
        if not self.worker_info:
            self.worker_info = dict(info)

    # -- kinds of case --------------------------------------------------------
    def run_case(self, case: Case, benchmark: Any) -> tuple[str, str] | None:
        """Measure one throughput case; returns the pytest outcome if it did not run."""
        if case.id in self.done:
            self.rows.append(self.done[case.id])
            return "skip", f"already measured in {self.journal.path} (--resume)"
        t0 = self._start(case.id)
        row = measure(
            case,
            benchmark,
            rounds=self.axes.rounds,
            warmup_rounds=self.axes.warmup_rounds,
            min_time=self.axes.min_time,
            timeout=self.case_timeout,
            peaks=self.peaks,
            on_worker_info=self._remember_info,
        )
        self._scaling(row, case)
        self._record(row, benchmark if row["status"] == "ok" else None)
        self._done(case.id, row, t0)
        return self._outcome(row)

    def _scaling(self, row: dict[str, Any], case: Case) -> None:
        """Scaling efficiency: images/s at N replicas over N x the single-replica
        images/s of the same configuration measured earlier in this run."""
        if case.replicas == 1:
            row["scaling_efficiency"] = 1.0 if row["status"] == "ok" else None
            return
        single = case.replace(replicas=1).id
        base = next((r for r in self.rows if r["case_id"] == single and r["status"] == "ok"), None)
        if base and row["status"] == "ok":
            row["scaling_efficiency"] = row["images_per_sec"] / (case.replicas * base["images_per_sec"])

    def _aux_case(self, version: str, batch_size: int | None = None) -> Case:
        return Case(
            version=version,
            mode="inference",
            batch_size=batch_size or max(self.axes.batch_sizes),
            precision="float32",
            device=self.axes.devices[0],
            jit=self.axes.jit[0],
            image_size=self.axes.image_size,
            threads=self.axes.threads[0],
            backend=self.backend,
        )

    def run_build(self, version: str, benchmark: Any) -> tuple[str, str] | None:
        """Benchmark building ``version`` and record its parameters and MACs."""
        case = self._aux_case(version, 1)
        name = f"build-{version}"
        row = new_row(case, kind="build", case_id=name)
        t0 = self._start(name)
        try:
            with WorkerClient(threads=case.threads, timeout=self.case_timeout) as worker:
                self._remember_info(worker.info)
                size = worker.call("build", case=case)  # first build: imports, warm-up
                row.update({k: v for k, v in size.items() if k in row})
                inside: list[float] = []  # the build alone, as the worker timed it
                benchmark.pedantic(
                    lambda: inside.append(worker.call("build", case=case)["build_s"]),
                    rounds=3,
                    iterations=1,
                )
                row["build_s"] = statistics.median(inside)
                row["status"] = "ok"
        except CaseFailure as err:
            row.update(status=err.status, reason=err.reason)
        self._record(row, benchmark if row["status"] == "ok" else None)
        self._done(name, row, t0)
        return self._outcome(row)

    def run_ratio(self, name: str, ours: str, theirs: str | None, benchmark: Any) -> tuple[str, str] | None:
        """images/s of ``ours`` measured by the suite, over either a bare loop of the
        same compiled step (``theirs`` None: the harness's cost) or the suite's
        measurement of ``theirs`` (a reference model), steps interleaved in one run."""
        case = self._aux_case(ours)
        row = new_row(case, kind="goal", case_id=name)
        row["goal"] = name
        # Ten rounds at least: these ratios are read against a 3% goal.
        rounds, warm = max(self.axes.rounds, 10), max(self.axes.warmup_rounds, 1)
        t0 = self._start(name)
        try:
            with WorkerClient(threads=case.threads, timeout=self.case_timeout) as w:
                self._remember_info(w.info)
                w.call("setup", case=case)
                if theirs is not None:
                    # Same process: no second process's threads compete with ours.
                    w.call("setup", case=self._aux_case(theirs), slot="reference")
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
            row.update(ours_row)
            row["reference_images_per_sec"] = ref_ips
            row["reference"] = theirs or "bare loop (same compiled step, no harness)"
            row["rounds"] = rounds
            # Median of per-pair ratios: each timed round against the reference step
            # run just before it, so slow drift of a shared machine cancels out.
            pairs = zip(base[-len(suite) :], suite, strict=True)
            row["ratio"] = statistics.median(r / s for r, s in pairs)
            row["ratio_of_medians"] = ours_row["images_per_sec"] / ref_ips
            row["status"] = "ok"
        except CaseFailure as err:
            row.update(status=err.status, reason=err.reason)
        self._record(row, benchmark if row["status"] == "ok" else None)
        self._done(name, row, t0)
        return self._outcome(row)

    def close(self) -> None:
        """The sweep is over: release the journal."""
        if self.journal is not None:
            self.journal.close()

    # -- output ---------------------------------------------------------------
    def json_section(self) -> dict[str, Any]:
        """What the run adds to pytest-benchmark's JSON: every case's row, including
        the ones that failed, were skipped or came from a resumed journal, and what
        the workers' backend reported (machine_info holds only the machine)."""
        return {
            "profile": self.profile,
            "backend": self.backend,
            "backend_info": self.worker_info,
            "axes": self.axes.to_dict(),
            "journal": str(self.journal.path) if self.journal is not None else None,
            "wall_s": time.time() - self.started,
            "cases": self.rows,
        }


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

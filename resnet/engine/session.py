"""One benchmark run as pytest sees it: the axes, the journal, the rows, progress.

``bench/conftest.py`` makes one :class:`BenchRun` from the command-line options;
the bench files call its methods, one per kind of case.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from resnet.engine.config import Axes, Case, UsageError, current_backend, resolve_axes
from resnet.engine.journal import Journal
from resnet.engine.machine import machine_info
from resnet.engine.measure import PeakCache, base_row, harness_overhead_ms, measure, metrics_from_times
from resnet.engine.runner import CaseFailed, Worker

#: pytest option name -> Axes/profile key.
OPTION_KEYS = {
    "profile": "profile",
    "versions": "versions",
    "modes": "modes",
    "batch_sizes": "batch_sizes",
    "precisions": "precisions",
    "devices": "devices",
    "jit": "jit",
    "image_size": "image_size",
    "threads": "threads",
    "rounds": "rounds",
    "warmup_rounds": "warmup_rounds",
    "replicas": "replicas",
    "strategy": "strategy",
    "min_time": "min_time",
}


def _fmt(row: dict[str, Any]) -> str:
    if row["status"] != "ok":
        return f"{row['status'].upper()}: {row['reason']}"
    parts = []
    if row.get("images_per_sec"):
        parts.append(f"{row['images_per_sec']:.1f} img/s")
        parts.append(f"p50 {row['latency_ms_p50']:.1f} ms")
    if row.get("compile_s") is not None:
        parts.append(f"compile {row['compile_s']:.1f} s")
    if row.get("utilization"):
        parts.append(f"{100 * row['utilization']:.0f}% of peak")
    if row.get("ratio") is not None:
        parts.append(f"ratio {row['ratio']:.3f}")
    if row.get("build_s") is not None:
        parts.append(f"build {row['build_s']:.2f} s")
    return ", ".join(parts) or "done"


class BenchRun:
    """The state of one ``pytest bench`` run."""

    def __init__(
        self,
        options: dict[str, Any],
        *,
        journal_path: str | os.PathLike,
        resume: bool = False,
        case_timeout: float = 1800.0,
        write: Callable[[str], None] = print,
    ) -> None:
        self.backend = current_backend()
        self.profile = options.get("profile") or "quick"
        self.axes: Axes = resolve_axes({k: options.get(k) for k in OPTION_KEYS}, self.backend)
        self.cases = {c.id: c for c in self.axes.cases(self.backend)}
        self.case_timeout = case_timeout
        self.write = write
        self.rows: list[dict[str, Any]] = []
        self.peaks = PeakCache()
        self.worker_info: dict[str, Any] = {}
        self.started = time.time()
        self.count = 0
        header = {"profile": self.profile, "backend": self.backend, **self.axes.to_dict()}
        self.journal = Journal(journal_path, header, resume)

    # -- progress -----------------------------------------------------------
    def _start(self, name: str) -> float:
        self.count += 1
        self.write(f"[resnet-bench] {time.strftime('%H:%M:%S')} start  {name}")
        return time.monotonic()

    def _done(self, name: str, row: dict[str, Any], t0: float) -> None:
        self.write(
            f"[resnet-bench] {time.strftime('%H:%M:%S')} finish {name} "
            f"({time.monotonic() - t0:.0f} s): {_fmt(row)}"
        )

    def _record(self, row: dict[str, Any], benchmark: Any | None) -> None:
        self.rows.append(row)
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
    def run_case(self, case_id: str, benchmark: Any) -> tuple[str, str] | None:
        """Measure one throughput case; returns the pytest outcome if it did not run."""
        case = self.cases[case_id]
        if case_id in self.journal.done:
            row = self.journal.done[case_id]
            self.rows.append(row)
            return "skip", f"already measured in {self.journal.path} (--resume)"
        t0 = self._start(case_id)
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
        self._done(case_id, row, t0)
        return self._outcome(row)

    def _scaling(self, row: dict[str, Any], case: Case) -> None:
        """Scaling efficiency: images/s at N replicas over N x the single-replica
        images/s of the same configuration measured earlier in this run."""
        if case.replicas == 1:
            row["scaling_efficiency"] = 1.0 if row["status"] == "ok" else None
            return
        single = Case(**{**case.to_dict(), "replicas": 1}).id
        base = next((r for r in self.rows if r["case_id"] == single and r["status"] == "ok"), None)
        if base and row["status"] == "ok":
            row["scaling_efficiency"] = row["images_per_sec"] / (case.replicas * base["images_per_sec"])

    def _aux_case(self, version: str, batch_size: int | None = None) -> Case:
        device = self.axes.devices[0]
        return Case(
            version=version,
            mode="inference",
            batch_size=batch_size or max(self.axes.batch_sizes),
            precision="float32",
            device=device,
            jit=self.axes.jit[0],
            image_size=self.axes.image_size,
            threads=self.axes.threads[0],
            backend=self.backend,
        )

    def run_build(self, version: str, benchmark: Any) -> tuple[str, str] | None:
        """Benchmark building ``version`` and record its parameters and MACs."""
        case = self._aux_case(version, 1)
        name = f"build-{version}"
        row = {**base_row(case), "case_id": name, "mode": "build"}
        t0 = self._start(name)
        try:
            with Worker(threads=case.threads, timeout=self.case_timeout) as worker:
                self._remember_info(worker.info)
                size = worker.call("build", case=case.to_dict())  # first build: imports, warm-up
                row.update({k: v for k, v in size.items() if k in row})
                inside: list[float] = []  # the build alone, as the worker timed it
                benchmark.pedantic(
                    lambda: inside.append(worker.call("build", case=case.to_dict())["build_s"]),
                    rounds=3,
                    iterations=1,
                )
                row["build_s"] = statistics.median(inside)
                row["status"] = "ok"
        except CaseFailed as err:
            row.update(status=err.status, reason=err.reason)
        self._record(row, benchmark if row["status"] == "ok" else None)
        self._done(name, row, t0)
        return self._outcome(row)

    def run_ratio(self, name: str, ours: str, theirs: str | None, benchmark: Any) -> tuple[str, str] | None:
        """images/s of ``ours`` measured by the suite, over either a bare loop of the
        same compiled step (``theirs`` None: the harness's cost) or the suite's
        measurement of ``theirs`` (a reference model), steps interleaved in one run."""
        case = self._aux_case(ours)
        row = {**base_row(case), "case_id": name, "mode": "inference", "goal": name}
        # Ten rounds at least: these ratios are read against a 3% goal.
        rounds, warm = max(self.axes.rounds, 10), max(self.axes.warmup_rounds, 1)
        t0 = self._start(name)
        try:
            with Worker(threads=case.threads, timeout=self.case_timeout) as w:
                self._remember_info(w.info)
                w.call("setup", case=case.to_dict())
                if theirs is not None:
                    # Same process: no second process's threads compete with ours.
                    w.call("setup", case=self._aux_case(theirs).to_dict(), slot="reference")
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
        except CaseFailed as err:
            row.update(status=err.status, reason=err.reason)
        self._record(row, benchmark if row["status"] == "ok" else None)
        self._done(name, row, t0)
        return self._outcome(row)

    # -- output ---------------------------------------------------------------
    def machine_info(self) -> dict[str, Any]:
        """Machine facts plus what the workers' backend reported."""
        info = machine_info()
        info["backend_info"] = self.worker_info
        return info

    def json_section(self) -> dict[str, Any]:
        """What the run adds to pytest-benchmark's JSON: every case's row, including
        the ones that failed, were skipped or came from a resumed journal."""
        return {
            "profile": self.profile,
            "backend": self.backend,
            "axes": self.axes.to_dict(),
            "journal": str(self.journal.path),
            "wall_s": time.time() - self.started,
            "cases": self.rows,
        }


def default_journal(json_path: str | None) -> Path:
    """Next to the JSON (``out.json`` -> ``out.journal.jsonl``), else under .benchmarks/."""
    if json_path:
        p = Path(json_path)
        return p.with_name(p.stem + ".journal.jsonl")
    return Path(".benchmarks") / "resnet-bench.journal.jsonl"


__all__ = ["BenchRun", "UsageError", "default_journal"]

"""One sweep as pytest runs it: the axes, the journal, the rows, progress.

``bench/conftest.py`` makes one :class:`Sweep` from the typed command-line options;
the bench files call its methods, one per kind of case.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resnet.engine.journal import Journal
from resnet.engine.machine import machine_info
from resnet.engine.measure import PeakCache, combine_windows, harness_overhead_ms, measure, metrics_from_times
from resnet.engine.options import DEFAULT_PROFILE, Axes, UsageError, current_backend, resolve_axes
from resnet.engine.paired import PairedGroup, measure_paired
from resnet.engine.worker_client import CaseFailure, WorkerClient
from resnet.schema import Case, new_row

#: The figures a progress line shows, in this order, when a row has them.
HEADLINE: dict[str, Callable[[float], str]] = {
    "images_per_sec": lambda v: f"{v:.1f} img/s",
    "images_per_sec_per_core": lambda v: f"{v:.1f} img/s per core",
    "input_bound_fraction": lambda v: f"{100 * v:.0f}% lost to input",
    "samples_per_sec": lambda v: f"{v:.1f} samples/s",
    "server_peak_qps": lambda v: f"peak {v:.1f} QPS",
    "lg_p90_ms": lambda v: f"p90 {v:.1f} ms",
    "lg_p99_ms": lambda v: f"p99 {v:.1f} ms",
    "latency_ms_p50": lambda v: f"p50 {v:.1f} ms",
    "compile_s": lambda v: f"compile {v:.1f} s",
    "utilization": lambda v: f"{100 * v:.0f}% of peak",
    "ratio": lambda v: f"ratio {v:.3f}",
    "build_s": lambda v: f"build {v:.2f} s",
}


def headline(row: dict[str, Any]) -> str:
    """A row's figures in one line: ``20.3 img/s [19.8, 20.9], p50 1578.8 ms, compile 3.2 s``."""
    if row["status"] != "ok":
        return f"{row['status'].upper()}: {row['reason']}"
    names = [
        n for n in HEADLINE if n != "build_s" or row.get("kind") == "build"
    ]  # a case's headline is its step
    parts = [HEADLINE[name](row[name]) for name in names if row.get(name) is not None]
    if row.get("images_per_sec_ci_low") is not None and parts:
        parts[0] += f" [{row['images_per_sec_ci_low']:.1f}, {row['images_per_sec_ci_high']:.1f}]"
    if row.get("unstable"):
        parts.append("UNSTABLE (windows disagree)")
    return ", ".join(parts) or "done"


def paired_text(row: dict[str, Any]) -> str:
    """``0.943 [0.925, 0.961]`` or ``no difference (1.004 [0.981, 1.030])``."""
    if row["status"] != "ok":
        return row["status"]
    text = f"{row['ratio']:.3f} [{row['ratio_ci_low']:.3f}, {row['ratio_ci_high']:.3f}]"
    return text if row["differs"] else f"no difference ({text})"


@dataclass(frozen=True)
class Window:
    """One window of a case: the case measured once, in its own worker, at one place of
    the run's order.  A case measured in one window is just the case."""

    case: Case
    index: int
    of: int

    @property
    def id(self) -> str:
        """The pytest id: the case's id, with ``@wN`` when the case has several windows."""
        return self.case.id if self.of == 1 else f"{self.case.id}@w{self.index}"


def plan(
    cases: list[Case], repeat: int, seed: int, windows_of: Callable[[Case], int] | None = None
) -> list[Window]:
    """The order windows run in.  One window per case: the cases' own order (versions
    outermost).  Several: pass after pass over the cases, each pass in its own seeded
    shuffled order, so the windows of every case spread over the whole run and the
    machine's drift falls on every case alike.  A case that ``windows_of`` gives fewer
    windows than ``repeat`` runs in that many of the passes, taken in turn with the
    other such cases (in a seeded order), so that every pass holds a share of them."""
    count = {c: max(1, min(repeat, windows_of(c))) if windows_of else repeat for c in cases}
    if max(count.values(), default=1) == 1:
        return [Window(c, 1, 1) for c in cases]
    fewer = [c for c in cases if count[c] < repeat]
    random.Random(seed).shuffle(fewer)
    passes = {c: set(range(1, repeat + 1)) for c in cases}
    for j, c in enumerate(fewer):
        passes[c] = {(j + i) % repeat + 1 for i in range(count[c])}
    out = []
    for index in range(1, repeat + 1):
        order = list(cases)
        random.Random(seed * 1000 + index).shuffle(order)
        for c in order:
            if index in passes[c]:
                out.append(Window(c, sorted(passes[c]).index(index) + 1, count[c]))
    return out


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
        self.windows: list[Window] = plan(self.cases, self.axes.repeat, self.axes.seed, self.axes.windows_of)
        self.paired_groups: list[PairedGroup] = self.axes.paired_groups(self.backend)
        self.loadgen_cases: list[Case] = self.axes.loadgen_cases(self.backend)
        self.pipeline_cases: list[tuple[str, str, int]] = self.axes.pipeline_cases()
        self.data_dir: str | None = None
        self.case_timeout = case_timeout
        self.write = write
        self.rows: list[dict[str, Any]] = []
        self.peaks = PeakCache()
        self.worker_info: dict[str, Any] = {}
        self.started = time.time()
        # The run's machine, date and commit: a run that leaves only its journal keeps them.
        header = {
            "profile": self.profile,
            "backend": self.backend,
            **self.axes.to_dict(),
            "machine_info": sweep_machine_info(),
            "datetime": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "commit_info": commit_info(),
        }
        self.journal = Journal(journal_path, header, resume) if journal_path is not None else None
        self.done = self.journal.done if self.journal is not None else {}
        #: Window rows of each case so far (by window index), and cases found unable to run.
        self._windows: dict[str, dict[int, dict[str, Any]]] = {c.id: {} for c in self.cases}
        self._skipped: dict[str, dict[str, Any]] = {}

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
    def run_window(self, window: Window, benchmark: Any) -> tuple[str, str] | None:
        """Measure one window of a case (the whole case when it has one); after its last
        window, combine them into the case's row.  Returns the pytest outcome if the
        window did not run."""
        case = window.case
        if case.id in self._skipped:  # an earlier window found the case cannot run here
            return "skip", self._skipped[case.id]
        if window.id in self.done:
            row = self.done[window.id]
            self.rows.append(row)
            outcome: tuple[str, str] | None = ("skip", f"already measured in {self.journal.path} (--resume)")
        else:
            name = window.id if window.of == 1 else f"{window.id} (window {window.index} of {window.of})"
            t0 = self._start(name)
            row = measure(
                case,
                benchmark,
                rounds=self.axes.rounds,
                warmup_rounds=self.axes.warmup_rounds,
                min_time=self.axes.min_time,
                timeout=self.case_timeout,
                peaks=self.peaks,
                on_worker_info=self._remember_info,
                window=window.index if window.of > 1 else None,
            )
            if window.of == 1:
                self._scaling(row, case)
            self._record(row, benchmark if row["status"] == "ok" else None)
            self._done(window.id, row, t0)
            outcome = self._outcome(row)
            if row["status"] == "skipped" and window.of > 1:
                self._skipped[case.id] = row["reason"]
                self._record({**new_row(case), "status": "skipped", "reason": row["reason"]}, None)
                return outcome
        if window.of > 1:
            self._combine(window, row)
        return outcome

    def _combine(self, window: Window, row: dict[str, Any]) -> None:
        """Keep a window's row; after the case's last window, record the case's row."""
        case = window.case
        got = self._windows[case.id]
        got[window.index] = row
        if len(got) < window.of:
            return
        if case.id in self.done:  # combined before the sweep was resumed
            self.rows.append(self.done[case.id])
            return
        combined = combine_windows(case, [got[i] for i in range(1, window.of + 1)])
        self._scaling(combined, case)
        self._record(combined, None)
        stamp = time.strftime("%H:%M:%S")
        self.write(f"[resnet-bench] {stamp} case   {case.id}, {window.of} windows: {headline(combined)}")

    def run_paired(self, group: PairedGroup, benchmark: Any) -> tuple[str, str] | None:
        """Step the group's models alternately in one worker; one row per ratio."""
        ids = self._paired_ids(group)
        if ids and all(cid in self.done for cid in ids):
            self.rows += [self.done[cid] for cid in ids]
            return "skip", f"already measured in {self.journal.path} (--resume)"
        t0 = self._start(f"{group.id} ({len(group.members)} models alternating)")
        rows = measure_paired(
            group,
            benchmark,
            rounds=self.axes.paired_rounds,
            warmup_rounds=self.axes.warmup_rounds,
            timeout=self.case_timeout * len(group.members),
            seed=self.axes.seed,
            min_time=self.axes.paired_time(group.mode),
            width=self.axes.paired_width,
            max_time=self.axes.paired_cap(group.mode),
            on_worker_info=self._remember_info,
        )
        for row in rows:
            self._record(row, None)
        first = rows[0]
        self._done(group.id, first if first["status"] != "ok" else {"status": "ok"}, t0)
        if first["status"] == "ok":
            for r in rows:
                self.write(
                    f"[resnet-bench]          {r['case_id'].removeprefix(group.id + '-')}: "
                    f"{paired_text(r)}, {r['pairs']} rounds"
                )
        return self._outcome(first)

    def run_loadgen(self, case: Case, benchmark: Any, log_root: Path) -> tuple[str, str] | None:
        """One LoadGen scenario over the case's compiled inference step, in its own
        worker; the LoadGen logs stay under ``log_root/<case id>/``."""
        from resnet.engine.loadgen import NOT_A_SUBMISSION, LoadGenSettings

        if case.id in self.done:
            self.rows.append(self.done[case.id])
            return "skip", f"already measured in {self.journal.path} (--resume)"
        settings = LoadGenSettings(
            duration_s=self.axes.loadgen_duration,
            sample_count=self.axes.sample_count,
            latency_bound_ms=self.axes.latency_bound_ms,
        )
        row = new_row(case)
        logs = log_root / case.id.replace("/", "_").replace(":", "_")
        row.update(
            note=NOT_A_SUBMISSION,
            latency_bound_ms=settings.latency_bound_ms if case.scenario == "server" else None,
            sample_count=settings.sample_count,
            max_batch=case.batch_size,
            batch_timeout_ms=settings.batch_timeout_ms if case.scenario == "server" else None,
            loadgen_logs=str(logs),
        )
        t0 = self._start(f"{case.id} (LoadGen {case.scenario}, {settings.duration_s:g} s a run)")
        try:
            # A Server search makes up to search_runs LoadGen runs, each up to 4x its duration.
            budget = self.case_timeout + 4 * settings.duration_s * (settings.search_runs + 1)
            with WorkerClient(threads=case.threads, timeout=budget) as worker:
                self._remember_info(worker.info)
                setup = worker.call("serve_setup", case=case, settings=dataclasses.asdict(settings))
                row.update({k: v for k, v in setup.items() if k in row})
                worker.call("warm")
                out: dict[str, Any] = {}
                benchmark.pedantic(
                    lambda: out.update(worker.call("loadgen", scenario=case.scenario, log_dir=str(logs))),
                    rounds=1,
                    iterations=1,
                )
                done = worker.call("finish")
            row.update(
                samples_per_sec=out.get("completed_samples_per_second") or out.get("samples_per_second"),
                server_peak_qps=out.get("server_peak_qps"),
                target_qps=out.get("target_qps"),
                queries=out.get("queries"),
                duration_s=out.get("duration_s"),
                mean_batch=out.get("mean_batch"),
                valid=out.get("valid"),
                invalid_reason=out.get("invalid_reason"),
                server_search=out.get("server_search"),
                peak_host_rss_mb=done["peak_host_rss_mb"],
                peak_device_mem_mb=done["peak_device_mem_mb"],
                status="ok",
            )
            for name in ("p50", "p90", "p99", "p999", "mean"):
                value = out.get(f"{name}_latency_ns")
                row[f"lg_{name}_ms"] = value / 1e6 if value is not None else None
            if out.get("answered_more_than_once"):
                row.update(status="error", reason=f"{out['answered_more_than_once']} samples answered twice")
            elif case.scenario == "server" and row["server_peak_qps"] is None:
                row["reason"] = "no Server rate met the latency bound"
        except CaseFailure as err:
            row.update(status=err.status, reason=err.reason)
        row["wall_s"] = time.monotonic() - t0
        self._record(row, benchmark if row["status"] == "ok" else None)
        self._done(case.id, row, t0)
        return self._outcome(row)

    def prepare_data(self) -> str | None:
        """The generated data set that input-pipeline and --data jpeg cases read: made once
        in the cache (resnet.data.make_dataset), and named to the workers."""
        if not self.pipeline_cases and "jpeg" not in self.axes.data:
            return None
        from resnet.data import DataError, ensure_dataset

        def log(text: str) -> None:
            self.write(f"[resnet-bench] {time.strftime('%H:%M:%S')} {text}")

        try:
            folder, stats = ensure_dataset(self.axes.data_images, log=log)
        except DataError as err:
            raise UsageError(f"--data-images: {err}") from None
        log(f"data set ready in {folder}: {stats['images']} images, mean {stats['mean_kb']} KiB a file")
        self.data_dir = str(folder)
        os.environ["RESNET_BENCH_DATA"] = self.data_dir  # the workers inherit it
        return self.data_dir

    def run_pipeline(self, pipeline: str, stage: str, workers: int, benchmark: Any) -> tuple[str, str] | None:
        """An input pipeline alone (decode, training augmentation or evaluation
        preprocessing) with ``workers`` parallel calls on as many cores."""
        from resnet.engine.measure import measure_pipeline

        batch = 32
        name = f"pipeline-{pipeline}-{stage}-w{workers}-bs{batch}"
        if name in self.done:
            self.rows.append(self.done[name])
            return "skip", f"already measured in {self.journal.path} (--resume)"
        t0 = self._start(name)
        row = measure_pipeline(
            pipeline,
            stage,
            workers,
            benchmark,
            batch=batch,
            size=self.axes.image_size,
            device=self.axes.devices[-1] if pipeline == "torchvision-gpu" else "cpu",
            rounds=max(self.axes.rounds, 5),
            min_time=self.axes.min_time or 2.0,
            timeout=self.case_timeout,
            data_dir=self.data_dir or "",
        )
        self._record(row, benchmark if row["status"] == "ok" else None)
        self._done(name, row, t0)
        return self._outcome(row)

    def _paired_ids(self, group: PairedGroup) -> list[str]:
        return [f"{group.id}-{fixed}-{num}/{den}" for _, num, den, fixed in group.comparisons()]

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

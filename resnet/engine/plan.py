"""What a run measures and how: its axes (whose product is the set of cases) and its
settings (rounds, windows, paired comparisons, LoadGen, pipelines), resolved from a
profile and the typed options, and checked against each other and against this machine
before any case starts."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resnet.engine.backends import BACKEND_JIT
from resnet.engine.errors import UsageError
from resnet.engine.machine import available_cores, available_memory_bytes, default_devices, tf_config_workers
from resnet.engine.options import parse_profile
from resnet.engine.profiles import DEFAULT_PROFILE, DEFAULTS, PROFILES
from resnet.schema import STAGES, Case


@dataclass(frozen=True)
class Axes:
    """The values of every axis of a run: their product is the set of cases."""

    versions: tuple[str, ...]
    modes: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    precisions: tuple[str, ...]
    devices: tuple[str, ...]
    jit: tuple[bool, ...]
    image_size: int
    threads: tuple[int | None, ...]
    replicas: tuple[int, ...] = (1,)
    strategy: str = "mirrored"
    #: What runs inference cases (training cases are Keras's always).
    runtimes: tuple[str, ...] = ("keras",)
    #: How each deployment runtime (not Keras) is driven: latency and/or throughput.
    runtime_configs: tuple[str, ...] = ("latency",)
    #: Training data (an axis of training cases).
    data: tuple[str, ...] = ("synthetic",)
    #: Batch sizes of the training cases (None: ``batch_sizes``).
    training_batch_sizes: tuple[int, ...] | None = None

    def batches(self, mode: str) -> tuple[int, ...]:
        """The batch sizes of ``mode``'s cases."""
        return (self.training_batch_sizes or self.batch_sizes) if mode == "training" else self.batch_sizes

    def cases(self, backend: str) -> list[Case]:
        """Every case of the run, versions outermost; runtimes other than Keras apply to
        inference cases only."""
        return [
            Case(
                v,
                m,
                b,
                p,
                d,
                j,
                self.image_size,
                t,
                backend,
                r,
                self.strategy,
                runtime=rt,
                data=data,
                runtime_config=rc,
            )
            for v in self.versions
            for m in self.modes
            for b in self.batches(m)
            for p in self.precisions
            for d in self.devices
            for j in self.jit
            for t in self.threads
            for r in self.replicas
            for rt in (self.runtimes if m == "inference" else ("keras",))
            for rc in (self.runtime_configs if rt != "keras" else ("latency",))
            for data in (self.data if m == "training" else ("synthetic",))
        ]


@dataclass(frozen=True)
class Settings:
    """How the run measures its cases: timing, windows, paired comparisons, LoadGen and
    input pipelines."""

    rounds: int
    warmup_rounds: int
    #: Seconds of timed steps per case (per window) at least (more rounds if needed).
    min_time: float | None = None
    #: Windows per case (the least, with ``target_precision``), and the seed of their order.
    windows: int = 1
    #: Windows are added to a case, up to ``max_windows``, until its figure's 95% interval is
    #: within ``target_precision`` percent (0/None: ``windows`` is the count), while the run's
    #: ``time_budget`` (seconds from its start; None: no budget) lasts.
    target_precision: float | None = None
    max_windows: int | None = None
    time_budget: float | None = None
    #: Windows of a case that a paired group also times (None: ``windows``).
    paired_windows: int | None = None
    seed: int = 1
    #: (mode, batch size) of each paired comparison, and its rounds.
    paired: tuple[tuple[str, int], ...] = ()
    paired_rounds: int = 10
    #: Seconds of timed steps per paired model at least (more rounds for fast blocks), per mode.
    paired_min_time: tuple[tuple[str, float], ...] = ()
    #: Percent either way a version ratio's interval may span before a block stops, and the
    #: most seconds of timed steps per model for it, per mode (0/empty: no such rule).
    paired_width: float = 0.0
    paired_max_time: tuple[tuple[str, float], ...] = ()
    #: LoadGen scenarios, and the settings of their runs.
    scenarios: tuple[str, ...] = ()
    #: The versions LoadGen runs (None: the axes' versions).
    loadgen_versions: tuple[str, ...] | None = None
    loadgen_duration: float = 5.0
    latency_bound_ms: float = 15.0
    sample_count: int = 1024
    #: Input pipelines measured alone, and the generated data set they read.
    pipelines: tuple[str, ...] = ()
    stages: tuple[str, ...] = STAGES
    workers: tuple[int, ...] = (1, 2)
    data_images: int = 512
    #: A/B run: stack B's SPEC (resnet.engine.stacks), and stack A's (None: the sweep's own).
    ab: str | None = None
    ab_a: str | None = None
    #: Sessions of fresh workers per A/B case (the stack started first alternating).
    ab_sessions: int = 2

    @property
    def most_windows(self) -> int:
        """The most windows a case may run in: ``max_windows`` when adaptive, else ``windows``."""
        return max(self.windows, self.max_windows or 0) if self.target_precision else self.windows

    def paired_time(self, mode: str) -> float | None:
        """Seconds of timed steps per model of ``mode``'s paired groups at least (None: rounds only)."""
        return dict(self.paired_min_time).get(mode)

    def paired_cap(self, mode: str) -> float | None:
        """Seconds of timed steps per model of ``mode``'s paired groups at most, for --paired-width."""
        return dict(self.paired_max_time).get(mode)


@dataclass(frozen=True)
class RunPlan:
    """A run's axes and settings, on one Keras backend."""

    axes: Axes
    settings: Settings
    backend: str = "tensorflow"

    def cases(self) -> list[Case]:
        """Every plain case of the run."""
        return self.axes.cases(self.backend)

    def to_dict(self) -> dict[str, Any]:
        """Axes and settings as plain values in one mapping, for the journal header and the JSON."""
        both = {**dataclasses.asdict(self.axes), **dataclasses.asdict(self.settings)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in both.items()}


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


def window_order(
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


def resolve(options: dict[str, Any], backend: str = "tensorflow") -> RunPlan:
    """Combine a profile with explicit typed options (None = not given) into a checked plan.

    A profile's jit setting is the backend's own default (off on TensorFlow and
    PyTorch, on for JAX) unless ``--jit`` is given."""
    profile = options.get("profile") or DEFAULT_PROFILE
    merged: dict[str, Any] = {**DEFAULTS, **PROFILES[parse_profile(profile)]}
    if options.get("jit") is None and backend in BACKEND_JIT and merged["jit"] == (False,):
        merged["jit"] = (BACKEND_JIT[backend][0],)
    merged.update({k: v for k, v in options.items() if v is not None and k != "profile"})
    if options.get("windows") is not None and options.get("target_precision") is None:
        merged["target_precision"] = None  # --windows N fixes the count
    if options.get("batch_sizes") is not None and options.get("training_batch_sizes") is None:
        merged["training_batch_sizes"] = None  # explicit batch sizes hold for training too
    if merged["strategy"] == "multiworker":
        workers = tf_config_workers()
        if options.get("replicas") is None:
            merged["replicas"] = (workers,)
        elif merged["replicas"] != (workers,):
            raise UsageError(
                f"--replicas: with --strategy multiworker it is the cluster's size, {workers} "
                "workers in TF_CONFIG (one replica each)"
            )
    merged["devices"] = merged.get("devices") or default_devices()
    axes = Axes(**{f.name: merged[f.name] for f in dataclasses.fields(Axes) if f.name in merged})
    settings = Settings(**{f.name: merged[f.name] for f in dataclasses.fields(Settings) if f.name in merged})
    return check(RunPlan(axes, settings, backend), options)


def check(run: RunPlan, options: dict[str, Any]) -> RunPlan:
    """The options checked against each other and against this machine, before any case
    starts: a UsageError names what does not fit. A paired comparison the profile set
    (not ``--paired``) that the run's modes or batch sizes leave out is dropped."""
    axes, settings = run.axes, run.settings
    cores = available_cores()
    if not options.get("allow_oversubscribe"):
        for flag, values in (
            ("--threads", axes.threads),
            ("--workers", settings.workers if settings.pipelines else ()),
        ):
            over = [v for v in values if v and v > cores]
            if over:
                raise UsageError(
                    f"{flag} {over[0]}: this run may use {cores} core{'s' * (cores > 1)}; give at most "
                    f"{cores} (or --allow-oversubscribe to measure more threads than cores on purpose)"
                )
    fits = [(m, b) for m, b in settings.paired if m in axes.modes and b in axes.batches(m)]
    if options.get("paired") is not None and fits != list(settings.paired):
        mode, batch = next(p for p in settings.paired if p not in fits)
        where = (
            f"mode {mode} is not in --modes {','.join(axes.modes)}"
            if mode not in axes.modes
            else f"batch {batch} is not among the run's {mode} batch sizes "
            f"({','.join(map(str, axes.batches(mode)))})"
        )
        raise UsageError(
            f"--paired {mode}:{batch}: {where}; pair what the run measures, or give --paired off"
        )
    if settings.target_precision and settings.max_windows and settings.max_windows < settings.windows:
        raise UsageError(
            f"--max-windows {settings.max_windows} is below --windows {settings.windows}, the least a "
            "case runs in with --target-precision; give at least as many"
        )
    minimum, maximum = dict(settings.paired_min_time), dict(settings.paired_max_time)
    for mode, cap in maximum.items():
        if mode in minimum and cap < minimum[mode]:
            raise UsageError(
                f"--paired-max-time {mode}:{cap:g} is below --paired-min-time {mode}:{minimum[mode]:g}; "
                "the most time cannot be less than the least"
            )
    if settings.scenarios:
        need = settings.sample_count * axes.image_size**2 * 3 * 4
        have = available_memory_bytes()
        if need > have:
            raise UsageError(
                f"--sample-count {settings.sample_count}: the query sample library of {axes.image_size}px "
                f"float32 images would need {need / 2**30:.1f} GiB; this machine has {have / 2**30:.1f} GiB "
                "available"
            )
    return dataclasses.replace(run, settings=dataclasses.replace(settings, paired=tuple(fits)))

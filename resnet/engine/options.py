"""The sweep's options, typed where they come in, and the profiles that preset them.

Each option has one parser that turns its text into a typed value or raises
:class:`UsageError` with one line naming the option and what is valid; ``pytest
bench`` registers these parsers as the options' types (as pytest-benchmark types
its own), and profiles hold typed values, so nothing downstream re-parses text.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from resnet.schema import (
    ALL_VERSIONS,
    BACKENDS,
    DATA,
    MIN_IMAGE,
    MODES,
    PEERS,
    PIPELINES,
    PRECISIONS,
    RUNTIMES,
    SCENARIOS,
    STAGES,
    STRATEGIES,
    Case,
)
from resnet.specs import VERSIONS

if TYPE_CHECKING:
    from resnet.engine.paired import PairedGroup


class UsageError(ValueError):
    """A bad option value: one line that names it and what is valid."""


#: The jit (XLA) settings each backend can run; the first is its default.
BACKEND_JIT: dict[str, tuple[bool, ...]] = {"tensorflow": (False, True), "jax": (True,), "torch": (False,)}
JIT_REASON = {
    ("jax", False): "JAX steps are always XLA-compiled: jit=off does not apply to the jax backend",
    ("torch", True): "jit=on (torch.compile) is not supported for Keras models on the torch backend: Keras "
    "runs them eagerly (the torchvision-resnet50 peer does run under torch.compile)",
}
#: The longest a case may take, seconds (a day).
MAX_CASE_TIMEOUT = 86_400.0


# -- parsers: text -> typed value ------------------------------------------------
def _items(text: Any, option: str) -> list[str]:
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    if not items:
        raise UsageError(f"{option} is empty; give a comma-separated list")
    return items


def choices(option: str, valid: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    """A parser of a comma-separated list of names out of ``valid``."""

    def parse(text: Any) -> tuple[str, ...]:
        items = _items(text, option)
        for item in items:
            if item not in valid:
                raise UsageError(f"{option}: unknown value {item!r}; valid: {', '.join(valid)}")
        return tuple(dict.fromkeys(items))

    return parse


def _positive_int(item: str, option: str) -> int:
    try:
        value = int(item)
    except ValueError:
        value = 0
    if value < 1 or str(value) != item.strip().lstrip("+"):
        raise UsageError(f"{option}: {item!r} is not a positive integer")
    return value


def positive_ints(option: str) -> Callable[[Any], tuple[int, ...]]:
    """A parser of a comma-separated list of positive integers (an axis)."""

    def parse(text: Any) -> tuple[int, ...]:
        return tuple(dict.fromkeys(_positive_int(i, option) for i in _items(text, option)))

    return parse


def one_int(option: str, minimum: int) -> Callable[[Any], int]:
    """A parser of exactly one integer of at least ``minimum``."""

    def parse(text: Any) -> int:
        items = _items(text, option)
        if len(items) != 1:
            raise UsageError(f"{option} takes one value, not a list ({text!r})")
        try:
            value = int(items[0])
        except ValueError:
            raise UsageError(f"{option}: {items[0]!r} is not an integer") from None
        if value < minimum:
            what = "too small; the smallest is" if option == "--image-size" else "less than"
            raise UsageError(f"{option}: {value} is {what} {minimum}")
        return value

    return parse


def seconds(option: str, maximum: float) -> Callable[[Any], float]:
    """A parser of a finite number of seconds in (0, maximum] (a trailing ``s`` is allowed)."""

    def parse(text: Any) -> float:
        raw = str(text).strip()
        try:
            value = float(raw.removesuffix("s"))
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= maximum):
            raise UsageError(f"{option}: {raw!r} is not a number of seconds between 0 and {maximum:g}")
        return value

    return parse


def parse_devices(text: Any) -> tuple[str, ...]:
    """``cpu``, ``gpu``, ``gpu:0``, ... (``gpu`` means ``gpu:0``)."""
    out = []
    for item in _items(text, "--devices"):
        item = item.lower()
        if item == "gpu":
            item = "gpu:0"
        kind, _, index = item.partition(":")
        ok = (kind == "cpu" and index in ("", "0")) or (kind == "gpu" and index.isdigit())
        if not ok:
            raise UsageError(f"--devices: unknown device {item!r}; valid: cpu, gpu, gpu:0, gpu:1, ...")
        out.append("cpu" if kind == "cpu" else item)
    return tuple(dict.fromkeys(out))


def parse_jit(text: Any) -> tuple[bool, ...]:
    """``off``, ``on`` or both."""
    names = {"off": False, "on": True, "false": False, "true": True, "0": False, "1": True}
    out = []
    for item in _items(text, "--jit"):
        if item.lower() not in names:
            raise UsageError(f"--jit: unknown value {item!r}; valid: off, on")
        out.append(names[item.lower()])
    return tuple(dict.fromkeys(out))


def parse_threads(text: Any) -> tuple[int | None, ...]:
    """Thread counts (an axis); empty means every core."""
    if not str(text).strip():
        return (None,)
    return positive_ints("--threads")(text)


def parse_warmup(text: Any) -> int:
    """A non-negative number of warm-up rounds."""
    raw = str(text).strip()
    if not raw.isdigit():
        raise UsageError(f"--warmup-rounds: {raw!r} is not a non-negative integer")
    return int(raw)


def parse_paired(text: Any) -> tuple[tuple[str, int], ...]:
    """``inference:32,training:8`` -> ((mode, batch size), ...); ``off`` for none."""
    raw = str(text).strip()
    if raw.lower() in ("off", "none", ""):
        return ()
    out = []
    for item in _items(raw, "--paired"):
        mode, sep, batch = item.partition(":")
        if not sep or mode not in MODES:
            raise UsageError(f"--paired: {item!r} is not MODE:BATCH; e.g. inference:32,training:8 (or off)")
        out.append((mode, _positive_int(batch, "--paired")))
    return tuple(dict.fromkeys(out))


def seconds_per_mode(option: str) -> Callable[[Any], tuple[tuple[str, float], ...]]:
    """A parser of ``50`` (every mode) or ``inference:50,training:25`` -> ((mode, seconds),
    ...): a bare number sets every mode, a later ``MODE:SECONDS`` overrides it; ``off`` for none."""
    one = seconds(option, 3600.0)

    def parse(text: Any) -> tuple[tuple[str, float], ...]:
        raw = str(text).strip()
        if raw.lower() in ("off", "none", ""):
            return ()
        out: dict[str, float] = {}
        for item in _items(raw, option):
            mode, sep, value = item.rpartition(":")
            if sep and mode not in MODES:
                raise UsageError(
                    f"{option}: {item!r} names no mode; give SECONDS or MODE:SECONDS,... "
                    f"with MODE one of {', '.join(MODES)} (e.g. inference:50,training:25)"
                )
            out.update({m: one(value) for m in ((mode,) if sep else MODES)})
        return tuple(out.items())

    return parse


def percent(option: str, maximum: float) -> Callable[[Any], float]:
    """A parser of a percentage in (0, maximum] (a trailing ``%`` is allowed); ``off``: 0, no rule."""

    def parse(text: Any) -> float:
        raw = str(text).strip()
        if raw.lower() in ("off", "none"):
            return 0.0
        try:
            value = float(raw.removesuffix("%"))
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= maximum):
            raise UsageError(f"{option}: {raw!r} is not a percentage between 0 and {maximum:g} (or off)")
        return value

    return parse


def parse_scenarios(text: Any) -> tuple[str, ...]:
    """LoadGen scenarios: ``single-stream,multi-stream,offline,server``; ``off`` for none."""
    if str(text).strip().lower() in ("off", "none", ""):
        return ()
    return choices("--scenarios", SCENARIOS)(text)


def milliseconds(option: str) -> Callable[[Any], float]:
    """A parser of a finite, positive number of milliseconds (a trailing ``ms`` is allowed)."""

    def parse(text: Any) -> float:
        raw = str(text).strip()
        try:
            value = float(raw.removesuffix("ms"))
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise UsageError(f"{option}: {raw!r} is not a positive number of milliseconds")
        return value

    return parse


def parse_strategy(text: Any) -> str:
    """``mirrored`` or ``multiworker``."""
    (value,) = choices("--strategy", STRATEGIES)(text)[:1]
    return value


@dataclass(frozen=True)
class Option:
    """One sweep option: its flag, the Axes field it sets, its parser and help."""

    flag: str
    dest: str
    parse: Callable[[Any], Any]
    help: str


#: Every option that sets an axis or a timing setting, in the order ``--help`` lists them.
OPTIONS: tuple[Option, ...] = (
    Option(
        "--versions",
        "versions",
        choices("--versions", ALL_VERSIONS),
        "versions: v1,v1.5,v2 (references keras-v1, keras-v2; peer torchvision-resnet50)",
    ),
    Option("--modes", "modes", choices("--modes", MODES), "inference,training"),
    Option("--batch-sizes", "batch_sizes", positive_ints("--batch-sizes"), "batch sizes, e.g. 1,8,32"),
    Option(
        "--training-batch-sizes",
        "training_batch_sizes",
        positive_ints("--training-batch-sizes"),
        "batch sizes of the training cases (default: --batch-sizes)",
    ),
    Option("--precisions", "precisions", choices("--precisions", PRECISIONS), ",".join(PRECISIONS)),
    Option("--devices", "devices", parse_devices, "cpu,gpu:0,... (default: every device found)"),
    Option("--jit", "jit", parse_jit, "XLA compilation: off, on or off,on"),
    Option(
        "--runtimes",
        "runtimes",
        choices("--runtimes", RUNTIMES),
        "what runs inference cases: keras (default), onnxruntime, openvino (exported, parity-checked)",
    ),
    Option("--image-size", "image_size", one_int("--image-size", MIN_IMAGE), f"image side (>= {MIN_IMAGE})"),
    Option("--threads", "threads", parse_threads, "intra-op threads (and cores) per case: an axis, e.g. 1,2"),
    Option("--rounds", "rounds", one_int("--rounds", 1), "timed rounds per case"),
    Option("--warmup-rounds", "warmup_rounds", parse_warmup, "untimed rounds after compilation"),
    Option(
        "--min-time",
        "min_time",
        seconds("--min-time", 3600.0),
        "seconds of timed steps per case at least: more rounds than --rounds when steps are short",
    ),
    Option(
        "--repeat",
        "repeat",
        one_int("--repeat", 1),
        "windows per case: each case is measured this many times, spread over the run in a "
        "seeded shuffled order, so drift falls on every case alike",
    ),
    Option("--seed", "seed", one_int("--seed", 0), "seed of the windows' and paired rounds' order"),
    Option(
        "--paired",
        "paired",
        parse_paired,
        "paired comparisons, MODE:BATCH,...: our versions in every precision stepped alternately "
        "in one process (version cost, mixed-precision speed-up with intervals); off for none",
    ),
    Option(
        "--paired-rounds",
        "paired_rounds",
        one_int("--paired-rounds", 2),
        "rounds of a paired comparison (per precision block, at least)",
    ),
    Option(
        "--paired-min-time",
        "paired_min_time",
        seconds_per_mode("--paired-min-time"),
        "seconds of timed steps per model of a paired comparison at least: more rounds for "
        "a precision whose steps are short; SECONDS, or MODE:SECONDS,... per mode (off: none)",
    ),
    Option(
        "--paired-width",
        "paired_width",
        percent("--paired-width", 50.0),
        "after its minimum, a precision block goes on while a version ratio's 95%% interval is "
        "wider than this many percent either way, up to --paired-max-time (off: stop at the minimum)",
    ),
    Option(
        "--paired-max-time",
        "paired_max_time",
        seconds_per_mode("--paired-max-time"),
        "with --paired-width: seconds of timed steps per model at most; SECONDS or MODE:SECONDS,...",
    ),
    Option(
        "--paired-windows",
        "paired_windows",
        one_int("--paired-windows", 1),
        "windows of a case that a paired group also times (default: --repeat): its speed is "
        "measured interleaved there; its own windows give memory, compile time and the figure",
    ),
    Option("--data", "data", choices("--data", DATA), "training data: synthetic (on the device), jpeg"),
    Option(
        "--pipelines",
        "pipelines",
        choices("--pipelines", PIPELINES),
        "input pipelines to measure alone (bench/test_pipeline.py): tfdata, pil, torchvision-gpu",
    ),
    Option("--stages", "stages", choices("--stages", STAGES), "pipeline stages: decode, train, eval"),
    Option("--workers", "workers", positive_ints("--workers"), "pipeline workers (and cores), e.g. 1,2"),
    Option("--data-images", "data_images", one_int("--data-images", 16), "images in the generated data set"),
    Option(
        "--scenarios",
        "scenarios",
        parse_scenarios,
        "MLPerf LoadGen scenarios (bench/test_loadgen.py): single-stream,multi-stream,offline,server; off",
    ),
    Option(
        "--loadgen-duration",
        "loadgen_duration",
        seconds("--loadgen-duration", 3600.0),
        "seconds each LoadGen run lasts at least (MLPerf asks 600 for a submission)",
    ),
    Option(
        "--loadgen-versions",
        "loadgen_versions",
        choices("--loadgen-versions", ALL_VERSIONS),
        "the versions LoadGen runs (default: --versions)",
    ),
    Option(
        "--latency-bound", "latency_bound_ms", milliseconds("--latency-bound"), "Server p99 bound, ms (15)"
    ),
    Option(
        "--sample-count",
        "sample_count",
        one_int("--sample-count", 8),
        "images the LoadGen query sample library holds on the device (MLPerf: 1024)",
    ),
    Option("--strategy", "strategy", parse_strategy, "mirrored (local devices) or multiworker (TF_CONFIG)"),
    Option(
        "--replicas",
        "replicas",
        positive_ints("--replicas"),
        "data-parallel replicas (TensorFlow MirroredStrategy, JAX DataParallel): an axis, e.g. 1,2,4",
    ),
)
parse_case_timeout = seconds("--case-timeout", MAX_CASE_TIMEOUT)


@dataclass(frozen=True)
class Axes:
    """The values of every axis of a run (their product is the set of cases)."""

    versions: tuple[str, ...]
    modes: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    precisions: tuple[str, ...]
    devices: tuple[str, ...]
    jit: tuple[bool, ...]
    image_size: int
    threads: tuple[int | None, ...]
    rounds: int
    warmup_rounds: int
    replicas: tuple[int, ...] = (1,)
    strategy: str = "mirrored"
    #: Seconds of timed steps per case (per window) at least (more rounds if needed).
    min_time: float | None = None
    #: What runs inference cases (training cases are Keras's always).
    runtimes: tuple[str, ...] = ("keras",)
    #: Training data (an axis of training cases), and the input pipelines measured alone.
    data: tuple[str, ...] = ("synthetic",)
    pipelines: tuple[str, ...] = ()
    stages: tuple[str, ...] = STAGES
    workers: tuple[int, ...] = (1, 2)
    data_images: int = 512
    #: Batch sizes of the training cases (None: ``batch_sizes``).
    training_batch_sizes: tuple[int, ...] | None = None
    #: Windows per case, and the seed of their shuffled order.
    repeat: int = 1
    #: Windows of a case that a paired group also times (None: ``repeat``).
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
    #: The versions LoadGen runs (None: ``versions``).
    loadgen_versions: tuple[str, ...] | None = None
    loadgen_duration: float = 5.0
    latency_bound_ms: float = 15.0
    sample_count: int = 1024

    def batches(self, mode: str) -> tuple[int, ...]:
        """The batch sizes of ``mode``'s cases."""
        return (self.training_batch_sizes or self.batch_sizes) if mode == "training" else self.batch_sizes

    def cases(self, backend: str) -> list[Case]:
        """Every case of the run, versions outermost; runtimes other than Keras apply to
        inference cases only."""
        return [
            Case(v, m, b, p, d, j, self.image_size, t, backend, r, self.strategy, runtime=rt, data=data)
            for v in self.versions
            for m in self.modes
            for b in self.batches(m)
            for p in self.precisions
            for d in self.devices
            for j in self.jit
            for t in self.threads
            for r in self.replicas
            for rt in (self.runtimes if m == "inference" else ("keras",))
            for data in (self.data if m == "training" else ("synthetic",))
        ]

    def pipeline_cases(self) -> list[tuple[str, str, int]]:
        """(pipeline, stage, workers) of every input-pipeline case."""
        return [(p, s, w) for p in self.pipelines for s in self.stages for w in self.workers]

    def paired_time(self, mode: str) -> float | None:
        """Seconds of timed steps per model of ``mode``'s paired groups at least (None: rounds only)."""
        return dict(self.paired_min_time).get(mode)

    def paired_cap(self, mode: str) -> float | None:
        """Seconds of timed steps per model of ``mode``'s paired groups at most, for --paired-width."""
        return dict(self.paired_max_time).get(mode)

    def windows_of(self, case: Case) -> int:
        """How many windows ``case`` runs in: ``paired_windows`` for a model that one of
        the run's paired groups also steps, else ``repeat``."""
        if self.paired_windows is None:
            return self.repeat
        timed = {g.case(v, p) for g in self.paired_groups(case.backend) for v, p in g.members}
        return self.paired_windows if case in timed else self.repeat

    def paired_groups(self, backend: str) -> list[PairedGroup]:
        """One paired comparison per (mode, batch) of ``paired`` and device: our versions
        of the run in each of its precisions (at least two models)."""
        from resnet.engine.paired import PairedGroup

        ours = tuple(v for v in VERSIONS if v in self.versions)
        groups = [
            PairedGroup(
                mode, batch, d, self.jit[0], self.image_size, self.threads[0], backend, ours, self.precisions
            )
            for mode, batch in self.paired
            for d in self.devices
        ]
        return [g for g in groups if len(g.members) >= 2]

    def loadgen_cases(self, backend: str) -> list[Case]:
        """One LoadGen case per model (not the peers: LoadGen drives a Keras model's
        compiled inference step), precision, device and scenario; its batch size is the
        largest batch the scenario's SUT runs."""
        from resnet.engine.loadgen import LoadGenSettings

        settings = LoadGenSettings()
        batch = {"single-stream": 1, "multi-stream": settings.multi_stream_samples,
                 "offline": settings.offline_batch, "server": settings.max_batch}  # fmt: skip
        return [
            Case(
                v,
                "inference",
                batch[s],
                p,
                d,
                self.jit[0],
                self.image_size,
                self.threads[0],
                backend,
                scenario=s,
            )
            for v in (self.loadgen_versions or self.versions)
            if v not in PEERS
            for p in self.precisions
            for d in self.devices
            for s in self.scenarios
        ]

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for the journal header and the JSON."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


#: Profiles set every axis at once, as typed values; explicit options override them.
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "versions": ("v1", "v1.5", "v2"),
        "modes": MODES,
        "batch_sizes": (2,),
        "precisions": ("float32",),
        "jit": (False,),
        "image_size": 32,
        "rounds": 3,
        "warmup_rounds": 1,
        "repeat": 2,
        "paired": (("inference", 2),),
        "paired_rounds": 6,
        "scenarios": ("offline",),
        "loadgen_versions": ("v1.5",),
        "loadgen_duration": 1.0,
        "sample_count": 64,
    },
    "quick": {
        "versions": ("v1", "v1.5", "v2"),
        "modes": MODES,
        "batch_sizes": (1, 8, 32),
        "training_batch_sizes": (8,),
        "precisions": ("float32", "mixed_bfloat16"),
        "jit": (False,),
        "image_size": 224,
        "rounds": 3,
        "warmup_rounds": 1,
        "min_time": 1.0,
        "repeat": 2,
        "paired": (("inference", 32), ("training", 8)),
        "paired_rounds": 8,
        "paired_min_time": (("inference", 50.0), ("training", 25.0)),
        "paired_width": 3.0,
        "paired_max_time": (("training", 50.0),),
        "paired_windows": 1,
    },
    "full": {
        "versions": ("v1", "v1.5", "v2", "keras-v1", "keras-v2"),
        "modes": MODES,
        "batch_sizes": (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
        "precisions": PRECISIONS,
        "jit": (False, True),
        "image_size": 224,
        "rounds": 10,
        "warmup_rounds": 2,
        "repeat": 3,
        "paired": (("inference", 32), ("training", 32)),
        "paired_rounds": 20,
        "paired_min_time": (("inference", 60.0), ("training", 60.0)),
        "scenarios": SCENARIOS,
        "loadgen_duration": 60.0,
    },
}
DEFAULT_PROFILE = "quick"
DEFAULTS: dict[str, Any] = {"threads": (None,), "replicas": (1,), "strategy": "mirrored", "min_time": None}


def parse_profile(text: Any) -> str:
    """A profile name."""
    name = str(text).strip()
    if name not in PROFILES:
        raise UsageError(f"--profile: unknown profile {name!r}; valid: {', '.join(PROFILES)}")
    return name


def parse_options(raw: dict[str, Any]) -> dict[str, Any]:
    """Text options (None: not given) -> typed values, each by its option's parser."""
    parsers = {o.dest: o.parse for o in OPTIONS} | {"profile": parse_profile}
    return {k: (None if v is None else parsers[k](v)) for k, v in raw.items()}


def default_devices() -> tuple[str, ...]:
    """``cpu`` plus every NVIDIA GPU that nvidia-smi lists (checked again per case)."""
    from resnet.engine.machine import nvidia_gpus

    return ("cpu", *(f"gpu:{i}" for i in range(len(nvidia_gpus()))))


def resolve_axes(options: dict[str, Any], backend: str = "tensorflow") -> Axes:
    """Combine a profile with explicit typed options (None = not given) into Axes.

    A profile's jit setting is the backend's own default (off on TensorFlow and
    PyTorch, on for JAX) unless ``--jit`` is given."""
    profile = options.get("profile") or DEFAULT_PROFILE
    merged: dict[str, Any] = {**DEFAULTS, **PROFILES[parse_profile(profile)]}
    if options.get("jit") is None and backend in BACKEND_JIT and merged["jit"] == (False,):
        merged["jit"] = (BACKEND_JIT[backend][0],)
    merged.update({k: v for k, v in options.items() if v is not None and k != "profile"})
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
    names = {f.name for f in dataclasses.fields(Axes)}
    axes = Axes(**{k: v for k, v in merged.items() if k in names})
    return check_axes(axes, options)


def available_cores() -> int:
    """The cores this process may run on (its affinity), else every logical core."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def available_memory_bytes() -> int:
    """Memory a new allocation can have now (psutil's ``available``)."""
    import psutil

    return int(psutil.virtual_memory().available)


def check_axes(axes: Axes, options: dict[str, Any]) -> Axes:
    """The options checked against each other and against this machine, before any case
    starts: a UsageError names what does not fit. A paired comparison the profile set
    (not ``--paired``) that the run's modes or batch sizes leave out is dropped."""
    cores = available_cores()
    if not options.get("allow_oversubscribe"):
        for flag, values in (
            ("--threads", axes.threads),
            ("--workers", axes.workers if axes.pipelines else ()),
        ):
            over = [v for v in values if v and v > cores]
            if over:
                raise UsageError(
                    f"{flag} {over[0]}: this run may use {cores} core{'s' * (cores > 1)}; give at most "
                    f"{cores} (or --allow-oversubscribe to measure more threads than cores on purpose)"
                )
    fits = [(m, b) for m, b in axes.paired if m in axes.modes and b in axes.batches(m)]
    if options.get("paired") is not None and fits != list(axes.paired):
        mode, batch = next(p for p in axes.paired if p not in fits)
        where = (
            f"mode {mode} is not in --modes {','.join(axes.modes)}"
            if mode not in axes.modes
            else f"batch {batch} is not among the run's {mode} batch sizes "
            f"({','.join(map(str, axes.batches(mode)))})"
        )
        raise UsageError(
            f"--paired {mode}:{batch}: {where}; pair what the run measures, or give --paired off"
        )
    minimum, maximum = dict(axes.paired_min_time), dict(axes.paired_max_time)
    for mode, cap in maximum.items():
        if mode in minimum and cap < minimum[mode]:
            raise UsageError(
                f"--paired-max-time {mode}:{cap:g} is below --paired-min-time {mode}:{minimum[mode]:g}; "
                "the most time cannot be less than the least"
            )
    if axes.scenarios:
        need = axes.sample_count * axes.image_size**2 * 3 * 4
        have = available_memory_bytes()
        if need > have:
            raise UsageError(
                f"--sample-count {axes.sample_count}: the query sample library of {axes.image_size}px "
                f"float32 images would need {need / 2**30:.1f} GiB; this machine has {have / 2**30:.1f} GiB "
                "available"
            )
    return dataclasses.replace(axes, paired=tuple(fits))


def tf_config_workers() -> int:
    """The number of workers in TF_CONFIG; a UsageError when it is missing or malformed."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        raise UsageError(
            "--strategy multiworker needs TF_CONFIG (cluster.worker list and task) in the environment"
        )
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task = config["task"]
        index = int(task["index"])
        ok = isinstance(workers, list) and workers and task["type"] in ("worker", "chief") and index >= 0
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise UsageError(
            'TF_CONFIG is malformed; expected {"cluster": {"worker": ["host:port", ...]}, '
            '"task": {"type": "worker", "index": N}}'
        )
    if index >= len(workers):
        raise UsageError(f"TF_CONFIG task index {index} is out of range for {len(workers)} workers")
    return len(workers)


def current_backend() -> str:
    """The Keras backend this run uses (KERAS_BACKEND, default tensorflow)."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow").strip() or "tensorflow"
    if backend not in BACKENDS:
        raise UsageError(f"KERAS_BACKEND={backend!r} is not supported; valid: {', '.join(BACKENDS)}")
    installed = installed_backends()
    if backend not in installed:
        raise UsageError(
            f"KERAS_BACKEND={backend!r} is not installed; installed: {', '.join(installed) or 'none'}"
        )
    return backend


def installed_backends() -> list[str]:
    """The Keras backends whose library can be imported here."""
    import importlib.util

    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]

"""Benchmark axes, profiles and cases: parsing and validation, no measuring."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from resnet.specs import VERSIONS

MODES = ("inference", "training")
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
#: keras.applications models run through the same engine, to compare against.
REFERENCE_VERSIONS = {
    "keras-v1": "keras.applications.ResNet50 (reference, not ours)",
    "keras-v2": "keras.applications.ResNet50V2 (reference, not ours)",
}
#: Peers: other libraries' ResNet-50s (see resnet/engine/peers.py); labelled as not ours.
PEER_VERSIONS = {
    "torchvision-resnet50": "torchvision.models.resnet50, v1.5 layout (peer, not ours; torch backend)",
}
ALL_VERSIONS = (*VERSIONS, *REFERENCE_VERSIONS, *PEER_VERSIONS)
BACKENDS = ("tensorflow", "jax", "torch")
MIN_IMAGE = 32
#: The jit (XLA) settings each backend can run; the first is its default.
BACKEND_JIT: dict[str, tuple[bool, ...]] = {
    "tensorflow": (False, True),
    "jax": (True,),
    "torch": (False,),
}
JIT_REASON = {
    ("jax", False): "JAX steps are always XLA-compiled: jit=off does not apply to the jax backend",
    (
        "torch",
        True,
    ): "jit=on (torch.compile) is not supported for Keras models on the torch backend: Keras runs "
    "them eagerly (the torchvision-resnet50 peer does run under torch.compile)",
}


class UsageError(ValueError):
    """A bad option value: one line that names it and what is valid."""


@dataclass(frozen=True)
class Case:
    """One measured configuration."""

    version: str
    mode: str
    batch_size: int
    precision: str
    device: str
    jit: bool
    image_size: int
    threads: int | None
    backend: str
    #: Data-parallel replicas (MirroredStrategy, or DataParallel on JAX); batch_size is per replica.
    replicas: int = 1
    #: "mirrored" (local devices) or "multiworker" (one replica per worker of TF_CONFIG).
    strategy: str = "mirrored"

    @property
    def global_batch(self) -> int:
        """Images per step over all replicas."""
        return self.batch_size * self.replicas

    @property
    def id(self) -> str:
        """A readable id: ``v1.5-training-bs32-mixed_bfloat16-cpu``."""
        parts = [self.version, self.mode, f"bs{self.batch_size}", self.precision, self.device]
        if self.jit:
            parts.append("compiled" if self.backend == "torch" else "xla")  # torch.compile is not XLA
        if self.threads:
            parts.append(f"t{self.threads}")
        if self.image_size != 224:
            parts.append(f"{self.image_size}px")
        if self.replicas != 1:
            parts.append(f"r{self.replicas}")
        if self.strategy != "mirrored":
            parts.append(self.strategy)
        return "-".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The case as plain JSON-ready values."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Case:
        """The inverse of :meth:`to_dict` (extra keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


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
    #: Seconds of timed steps per case at least (more rounds than ``rounds`` if needed).
    min_time: float | None = None

    def cases(self, backend: str) -> list[Case]:
        """Every case of the run, versions outermost."""
        return [
            Case(v, m, b, p, d, j, self.image_size, t, backend, r, self.strategy)
            for v in self.versions
            for m in self.modes
            for b in self.batch_sizes
            for p in self.precisions
            for d in self.devices
            for j in self.jit
            for t in self.threads
            for r in self.replicas
        ]

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for the journal header and the JSON."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


#: Profiles set every axis at once; explicit options override them.
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "versions": "v1,v1.5,v2",
        "modes": "inference,training",
        "batch_sizes": "2",
        "precisions": "float32",
        "jit": "off",
        "image_size": "32",
        "rounds": "3",
        "warmup_rounds": "1",
    },
    "quick": {
        "versions": "v1,v1.5,v2",
        "modes": "inference,training",
        "batch_sizes": "1,8,32",
        "precisions": "float32,mixed_bfloat16",
        "jit": "off",
        "image_size": "224",
        "rounds": "5",
        "warmup_rounds": "1",
    },
    "full": {
        "versions": "v1,v1.5,v2,keras-v1,keras-v2",
        "modes": "inference,training",
        "batch_sizes": "1,2,4,8,16,32,64,128,256,512,1024",
        "precisions": "float32,mixed_float16,mixed_bfloat16",
        "jit": "off,on",
        "image_size": "224",
        "rounds": "10",
        "warmup_rounds": "2",
    },
}
DEFAULT_PROFILE = "quick"


def _items(text: str, option: str) -> list[str]:
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    if not items:
        raise UsageError(f"{option} is empty; give a comma-separated list")
    return items


def _choices(text: str, option: str, valid: tuple[str, ...]) -> tuple[str, ...]:
    items = _items(text, option)
    for item in items:
        if item not in valid:
            raise UsageError(f"{option}: unknown value {item!r}; valid: {', '.join(valid)}")
    return tuple(dict.fromkeys(items))


def _positive_ints(text: str, option: str) -> tuple[int, ...]:
    out = []
    for item in _items(text, option):
        try:
            value = int(item)
        except ValueError:
            value = 0
        if value < 1 or str(value) != item.lstrip("+"):
            raise UsageError(f"{option}: {item!r} is not a positive integer")
        out.append(value)
    return tuple(dict.fromkeys(out))


def parse_devices(text: str) -> tuple[str, ...]:
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


def parse_jit(text: str) -> tuple[bool, ...]:
    """``off``, ``on`` or both."""
    names = {"off": False, "on": True, "false": False, "true": True, "0": False, "1": True}
    out = []
    for item in _items(text, "--jit"):
        if item.lower() not in names:
            raise UsageError(f"--jit: unknown value {item!r}; valid: off, on")
        out.append(names[item.lower()])
    return tuple(dict.fromkeys(out))


def default_devices() -> str:
    """``cpu`` plus every NVIDIA GPU that nvidia-smi lists (checked again per case)."""
    from resnet.engine.machine import nvidia_gpus

    return ",".join(["cpu", *(f"gpu:{i}" for i in range(len(nvidia_gpus())))])


def resolve_axes(options: dict[str, Any], backend: str = "tensorflow") -> Axes:
    """Combine a profile with explicit options (None = not given) into validated axes.

    A profile's jit setting is the backend's own default (off on TensorFlow and
    PyTorch, on for JAX) unless ``--jit`` is given."""
    profile = options.get("profile") or DEFAULT_PROFILE
    if profile not in PROFILES:
        raise UsageError(f"--profile: unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    merged = dict(PROFILES[profile])
    merged.setdefault("threads", "")
    merged.setdefault("devices", "")
    merged.setdefault("replicas", "1")
    merged.setdefault("strategy", "mirrored")
    if options.get("jit") is None and backend in BACKEND_JIT and merged["jit"] == "off":
        merged["jit"] = "on" if BACKEND_JIT[backend][0] else "off"
    for key, value in options.items():
        if value is not None and key != "profile":
            merged[key] = value
    strategy = str(merged["strategy"])
    if strategy not in STRATEGIES:
        raise UsageError(f"--strategy: unknown value {strategy!r}; valid: {', '.join(STRATEGIES)}")
    if strategy == "multiworker":
        workers = tf_config_workers()
        if options.get("replicas") is None:
            merged["replicas"] = str(workers)
        elif _positive_ints(merged["replicas"], "--replicas") != (workers,):
            raise UsageError(
                f"--replicas: with --strategy multiworker it is the cluster's size, {workers} "
                "workers in TF_CONFIG (one replica each)"
            )
    devices = merged["devices"] or default_devices()
    threads: tuple[int | None, ...] = (None,)
    if str(merged["threads"]).strip():
        threads = _positive_ints(merged["threads"], "--threads")
    (image_size,) = _positive_ints(str(merged["image_size"]), "--image-size")[:1]
    if image_size < MIN_IMAGE:
        raise UsageError(f"--image-size: {image_size} is too small; the smallest is {MIN_IMAGE}")
    (rounds,) = _positive_ints(str(merged["rounds"]), "--rounds")[:1]
    warmup = str(merged["warmup_rounds"]).strip()
    if not warmup.isdigit():
        raise UsageError(f"--warmup-rounds: {warmup!r} is not a non-negative integer")
    min_time = None
    if merged.get("min_time") not in (None, ""):
        text = str(merged["min_time"]).strip().removesuffix("s")
        try:
            min_time = float(text)
        except ValueError:
            min_time = -1.0
        if not 0 < min_time <= 3600:
            raise UsageError(
                f"--min-time: {merged['min_time']!r} is not a number of seconds between 0 and 3600"
            )
    return Axes(
        versions=_choices(merged["versions"], "--versions", ALL_VERSIONS),
        modes=_choices(merged["modes"], "--modes", MODES),
        batch_sizes=_positive_ints(merged["batch_sizes"], "--batch-sizes"),
        precisions=_choices(merged["precisions"], "--precisions", PRECISIONS),
        devices=parse_devices(devices),
        jit=parse_jit(merged["jit"]),
        image_size=image_size,
        threads=threads,
        rounds=rounds,
        warmup_rounds=int(warmup),
        replicas=_positive_ints(merged["replicas"], "--replicas"),
        strategy=strategy,
        min_time=min_time,
    )


STRATEGIES = ("mirrored", "multiworker")


def tf_config_workers() -> int:
    """The number of workers in TF_CONFIG; a UsageError when it is missing or malformed."""
    import json

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

"""The one schema: every case axis and every field of a result row.

Data flows one way: spec -> model -> measured case -> result rows -> tables, plots,
comparisons.  The engine (both sides of the worker process), the journal, the
results loader, the reports, ``compare``, ``machines`` and ``dashboard`` take their
names from here; nothing else lists them.  This module imports no deep-learning
library, so the parent process and the command-line tools stay light.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resnet.specs import VERSIONS

# -- the values an axis can take ----------------------------------------------
MODES = ("inference", "training")
#: Keras dtype policies a case can run under; each model gets its own policy.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
#: Precisions only a deployment runtime runs (a model quantized by its tool), never Keras.
QUANTIZED = ("int8",)
#: Every precision a case can ask for (``--precisions``).
CASE_PRECISIONS = (*PRECISIONS, *QUANTIZED)
#: The compute dtype of each precision (the peak's matrix product).
COMPUTE_DTYPE = {
    "float32": "float32", "mixed_float16": "float16", "mixed_bfloat16": "bfloat16", "int8": "int8",
}  # fmt: skip
#: The machine-speed probe's dtype per precision: the compute dtype, but int8 cases probe
#: float32 (the backends have no int8 matrix product; VNNI's int8 dot products run on the
#: same vector units as float32's FMA).
PROBE_DTYPE = {**COMPUTE_DTYPE, "int8": "float32"}
BACKENDS = ("tensorflow", "jax", "torch")
STRATEGIES = ("mirrored", "multiworker")
#: MLPerf LoadGen scenarios (resnet/engine/kinds/loadgen.py), and each one's headline figure.
SCENARIOS = ("single-stream", "multi-stream", "offline", "server")
#: What runs an inference step (resnet/engine/kinds/runtimes.py).
RUNTIMES = ("keras", "onnxruntime", "openvino")
#: How a deployment runtime is driven: one synchronous request at a time (its latency
#: configuration), or several in flight at once as the vendor advises for throughput.
RUNTIME_CONFIGS = ("latency", "throughput")
#: Where training data comes from, and the input pipelines (resnet/engine/kinds/pipelines.py).
DATA = ("synthetic", "jpeg")
PIPELINES = ("tfdata", "pil", "torchvision-gpu")
STAGES = ("decode", "train", "eval")
SCENARIO_METRIC = {
    "single-stream": "lg_p90_ms",
    "multi-stream": "lg_p99_ms",
    "offline": "samples_per_sec",
    "server": "server_peak_qps",
}
#: Models that are not ours, measured through the same engine, and our version of the
#: same layout: keras.applications references and other libraries' peers.
REFERENCES = {"keras-v1": "v1", "keras-v2": "v2"}
PEERS = {"torchvision-resnet50": "v1.5"}
OURS_FOR = {**REFERENCES, **PEERS}
DESCRIPTIONS = {
    "keras-v1": "keras.applications.ResNet50 (reference, not ours)",
    "keras-v2": "keras.applications.ResNet50V2 (reference, not ours)",
    "torchvision-resnet50": "torchvision.models.resnet50, v1.5 layout (peer, not ours; torch backend)",
}
ALL_VERSIONS = (*VERSIONS, *REFERENCES, *PEERS)
MIN_IMAGE = 32
#: What a case ended as.  "oom" only with evidence of running out of memory.
#: "invalid": a row whose figures cannot be (NaN, infinite or negative), set by the loader.
STATUSES = ("ok", "skipped", "oom", "timeout", "error", "invalid", "pending")
#: What a case's ``stability`` says of its windows (resnet.stats.stability).
STABILITIES = ("stable", "unstable", "unknown")
#: What a row measures: a throughput case, a model build, a goal (a ratio measured
#: within one worker), a paired comparison, an A/B comparison of two software stacks
#: ("ab"), or a measurement of the tool itself.
#: A "window" row is one window of a case measured in several (``--repeat``); its case row
#: combines them.
KINDS = ("case", "window", "build", "goal", "paired", "ab", "pipeline", "loader")


def device_index(device: str) -> int:
    """The index of ``gpu:N`` (0 for ``cpu``)."""
    return int(device.partition(":")[2] or 0)


def is_gpu(device: str) -> bool:
    """Whether ``device`` names a GPU (``gpu:N``)."""
    return device.startswith("gpu")


def placed_on(device: str, placed: str) -> bool:
    """Whether a tensor the backend reports as ``placed`` (``/job:localhost/.../GPU:0``,
    ``cuda:0``, ``TFRT_CPU_0``, ...) is on the kind of device ``device`` asked for."""
    text = placed.lower()
    return ("gpu" in text or "cuda" in text) if is_gpu(device) else "cpu" in text


# -- the case -------------------------------------------------------------------
def _axis(default: Any = dataclasses.MISSING, *, id: Callable[[Any, Case], str | None] | None = None) -> Any:
    """A case axis; ``id`` gives its part of the case id (None: not in the id)."""
    return dataclasses.field(default=default, metadata={"id": id})


def _jit_id(jit: bool, case: Case) -> str | None:
    if not jit:
        return None
    return "compiled" if case.backend == "torch" else "xla"  # torch.compile is not XLA


@dataclass(frozen=True)
class Case:
    """One measured configuration: every axis of the suite, typed.

    The id names every axis that is not at its default, in ID_ORDER:
    ``v1.5-training-bs32-mixed_bfloat16-cpu-xla-t2-64px-r2``.
    """

    version: str = _axis(id=lambda v, c: v)
    mode: str = _axis(id=lambda v, c: v)
    batch_size: int = _axis(id=lambda v, c: f"bs{v}")
    precision: str = _axis(id=lambda v, c: v)
    device: str = _axis(id=lambda v, c: v)
    jit: bool = _axis(id=_jit_id)
    image_size: int = _axis(224, id=lambda v, c: None if v == 224 else f"{v}px")
    threads: int | None = _axis(None, id=lambda v, c: f"t{v}" if v else None)
    backend: str = _axis("tensorflow", id=lambda v, c: None)  # one backend per run
    #: Data-parallel replicas (MirroredStrategy, or DataParallel on JAX); batch_size is per replica.
    replicas: int = _axis(1, id=lambda v, c: None if v == 1 else f"r{v}")
    #: "mirrored" (local devices) or "multiworker" (one replica per worker of TF_CONFIG).
    strategy: str = _axis("mirrored", id=lambda v, c: None if v == "mirrored" else v)
    #: A LoadGen scenario (single-stream, multi-stream, offline, server); None: timed steps.
    scenario: str | None = _axis(None, id=lambda v, c: f"lg-{v}" if v else None)
    #: What runs the inference step: Keras itself, or the model exported to a deployment runtime.
    runtime: str = _axis("keras", id=lambda v, c: None if v == "keras" else v)
    #: Training data: random tensors already on the device, or JPEG files through an input pipeline.
    data: str = _axis("synthetic", id=lambda v, c: None if v == "synthetic" else v)
    #: A deployment runtime's configuration (RUNTIME_CONFIGS); Keras's steps are "latency".
    runtime_config: str = _axis("latency", id=lambda v, c: None if v == "latency" else v)

    @property
    def global_batch(self) -> int:
        """Images per step over all replicas."""
        return self.batch_size * self.replicas

    @property
    def id(self) -> str:
        """A readable id that names every axis set away from its default (in ID_ORDER)."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        parts = [fields[name].metadata["id"](getattr(self, name), self) for name in ID_ORDER]
        return "-".join(p for p in parts if p)

    def replace(self, **changes: Any) -> Case:
        """A copy with some axes changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The axes as plain JSON-ready values."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Case:
        """The inverse of :meth:`to_dict`: axes missing from ``data`` take their defaults
        (rows of older runs); other keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names and v is not None}
        if "threads" in data:
            values["threads"] = data["threads"] or None
        return cls(**values)


#: The case axes, in the constructor's order.
AXES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Case))
#: The order in which axes appear in a case id (ids of older runs must stay the same).
ID_ORDER = (
    "version", "mode", "batch_size", "precision", "device", "jit", "threads", "image_size", "backend",
    "replicas", "strategy", "runtime", "runtime_config", "data", "scenario",
)  # fmt: skip
#: The axes that have a default, and its value (rows of older runs lack some of them).
AXIS_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(Case) if f.default is not dataclasses.MISSING
}


# -- the row --------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """One field of a result row.

    Attributes:
        name: the key in the row (and the DataFrame column).
        role: "id" (names the row), "axis" (a case axis), "metric" (a measured
            figure), "info" (what it ran on, why it failed), or "samples" (raw data).
        type: the JSON type(s) a value may have (None is always allowed but for
            required fields).
        unit: the unit of a figure ("" when none).
        better: for metrics, which direction is better: "higher" or "lower".
        doc: one line for the reader.
    """

    name: str
    role: str
    type: tuple[type, ...]
    unit: str = ""
    better: str | None = None
    doc: str = ""
    #: Whether a negative value is meaningful (a difference); other figures are >= 0.
    signed: bool = False


_NUM = (int, float)
_STR = (str,)
_AXIS_TYPES = {
    "batch_size": (int,),
    "image_size": (int,),
    "replicas": (int,),
    "threads": (int,),
    "jit": (bool,),
}

ROW_FIELDS: tuple[Field, ...] = (
    Field("case_id", "id", _STR, doc="the case's id (Case.id), or the goal's or build's name"),
    Field("kind", "id", _STR, doc="case, build, goal, paired or loader"),
    Field("status", "id", _STR, doc="ok, skipped, oom, timeout, error"),
    Field("reason", "info", _STR, doc="why a case did not finish"),
    *(Field(name, "axis", _AXIS_TYPES.get(name, _STR)) for name in AXES),
    Field(
        "global_batch",
        "axis",
        (int,),
        "images",
        doc="images per step over all replicas (and, in a runtime's throughput configuration, requests)",
    ),
    Field("images_per_sec", "metric", _NUM, "images/s", "higher", "global batch over the median step"),
    Field("images_per_sec_mean", "metric", _NUM, "images/s", "higher", "global batch over the mean step"),
    Field("images_per_sec_best", "metric", _NUM, "images/s", "higher", "global batch over the fastest step"),
    Field("latency_ms_p50", "metric", _NUM, "ms", "lower", "median step time"),
    Field("latency_ms_p90", "metric", _NUM, "ms", "lower", "90th percentile of step times"),
    Field("latency_ms_p99", "metric", _NUM, "ms", "lower", "99th percentile of step times"),
    Field("compile_s", "metric", _NUM, "s", "lower", "first call: trace, compile and first run"),
    Field("build_s", "metric", _NUM, "s", "lower", "building the model"),
    Field(
        "peak_host_rss_mb",
        "metric",
        _NUM,
        "MiB",
        "lower",
        "peak resident memory of the process memory_scope names",
    ),
    Field(
        "memory_scope",
        "info",
        _STR,
        doc="what peak_host_rss_mb covers: worker (the case's whole worker: backend, model, inputs) or "
        "runtime process (a process holding only the runtime, its compiled model and its inputs)",
    ),
    Field(
        "worker_peak_rss_mb",
        "metric",
        _NUM,
        "MiB",
        "lower",
        "a runtime case's worker (TensorFlow, the Keras twin, export and parity) beside its own",
    ),
    Field("peak_device_mem_mb", "metric", _NUM, "MiB", "lower", "peak device memory (GPUs)"),
    Field("params_total", "metric", (int,), "parameters"),
    Field("params_trainable", "metric", (int,), "parameters"),
    Field("params_non_trainable", "metric", (int,), "parameters"),
    Field("gmacs_per_image", "metric", _NUM, "GMAC", doc="multiply-accumulates of one forward pass"),
    Field("achieved_tflops", "metric", _NUM, "TFLOP/s", "higher", "training counts 3x the forward work"),
    Field("device_peak_tflops", "metric", _NUM, "TFLOP/s", doc="the fastest matrix product measured"),
    Field("device_peak_source", "info", _STR, doc="which library's matrix product gave the peak"),
    Field("device_peak_size", "metric", (int,), doc="the side of the square matrices of that product"),
    Field(
        "device_peak_analytic_tflops",
        "metric",
        _NUM,
        "TFLOP/s",
        doc="cores x clock x vector lanes x FMA units x 2 (derived, not measured)",
    ),
    Field("utilization", "metric", _NUM, "", "higher", "achieved over the measured peak"),
    Field(
        "above_peak",
        "info",
        (bool,),
        doc="the counted work ran faster than the measured peak (a runtime doing less arithmetic than "
        "counted, e.g. Winograd): no utilization is given",
    ),
    Field("harness_overhead_ms", "metric", _NUM, "ms", "lower", "per step: parent's minus worker's", True),
    Field("joules_per_image", "metric", _NUM, "J", "lower", "from NVML or RAPL; never estimated"),
    Field("replicas_in_sync", "metric", (int,), "replicas"),
    Field("scaling_efficiency", "metric", _NUM, "", "higher", "N replicas over N x one replica"),
    Field("rounds", "metric", (int,), "steps", doc="timed steps"),
    Field("warmup_steps", "metric", (int,), "steps", doc="untimed steps until the step time was steady"),
    Field("warmup_s", "metric", _NUM, "s", doc="seconds of those warm-up steps"),
    Field("warmup_steady", "info", (bool,), doc="the step time became steady within the warm-up's cap"),
    Field("timed_s", "metric", _NUM, "s", doc="seconds of timed steps"),
    Field("wall_s", "metric", _NUM, "s", doc="the whole case, worker start included"),
    Field("device_name", "info", _STR, doc="where the output tensor was placed, as the backend names it"),
    Field("energy_source", "info", _STR, doc="nvml, rapl or none"),
    Field("goal", "info", _STR, doc="the goal a ratio row measures"),
    Field("reference", "info", _STR, doc="what a goal's ratio is taken against"),
    Field("reference_images_per_sec", "metric", _NUM, "images/s", "higher"),
    Field("ratio", "metric", _NUM, "", "higher", "median of per-round ratios, ours over the reference"),
    Field("ratio_of_medians", "metric", _NUM, "", "higher"),
    Field("rows", "metric", (int,), "rows", doc="rows loaded (loader benchmark)"),
    # -- how sure a figure is (resnet/stats.py) --
    Field("window", "id", (int,), doc="which window of its case a window row is (1..windows)"),
    Field("windows", "metric", (int,), "windows", doc="windows a case was measured in"),
    Field("samples_s", "samples", (list,), "s", doc="timed step times, one list per window"),
    Field("window_started", "samples", (list,), "s", doc="unix time each window's timed steps began"),
    Field("window_images_per_sec", "samples", (list,), "images/s", doc="each window's median images/s"),
    Field("images_per_sec_ci_low", "metric", _NUM, "images/s", doc="95% interval, low end"),
    Field("images_per_sec_ci_high", "metric", _NUM, "images/s", doc="95% interval, high end"),
    Field("latency_ms_p50_ci_low", "metric", _NUM, "ms", doc="95% interval, low end"),
    Field("latency_ms_p50_ci_high", "metric", _NUM, "ms", doc="95% interval, high end"),
    Field("latency_p90_supported", "info", (bool,), doc="enough steps for p90's 95% interval (36)"),
    Field("latency_p99_supported", "info", (bool,), doc="enough steps for p99's 95% interval (368)"),
    Field(
        "stability",
        "info",
        _STR,
        doc="stable, unstable or unknown: whether the windows differ beyond what their steps explain "
        "(F test of log step times, 1%, > 5% apart; > 25% apart always unstable; stable only where "
        "a 10% difference would have shown)",
    ),
    Field("unstable", "info", (bool,), doc="stability is 'unstable' (kept for older readers)"),
    Field("unstable_p", "metric", _NUM, doc="p-value of the stability test across windows"),
    Field("window_spread", "metric", _NUM, doc="(max - min of window medians) / pooled median"),
    Field(
        "windows_stop", "info", _STR, doc="why the case ran this many windows: fixed, precision, budget, max"
    ),
    Field(
        "rerun_spread_pct",
        "metric",
        _NUM,
        "%",
        doc="how far a rerun's figure may land (95%): the run's window-to-window spread pooled over "
        "its cases, for this case's windows (written at the end of the sweep)",
    ),
    Field(
        "ci_widened",
        "info",
        (bool,),
        doc="the figure's 95% interval was widened to the run's window-to-window spread pooled over its "
        "cases, for this case's windows (its own few windows agreed more than the machine does; "
        "written at the end of the sweep)",
    ),
    Field(
        "images_per_sec_rerun_low", "metric", _NUM, "images/s", doc="where a rerun's figure lands, 95%: low"
    ),
    Field(
        "images_per_sec_rerun_high", "metric", _NUM, "images/s", doc="where a rerun's figure lands, 95%: high"
    ),
    Field(
        "images_per_sec_speed_adjusted",
        "metric",
        _NUM,
        "images/s",
        doc="images/s at the run's median machine speed (over machine_speed_rel); shown only where it "
        "narrows the window-to-window spread",
    ),
    Field(
        "machine_speed_gflops", "metric", _NUM, "GFLOP/s", doc="probe readings around and between the steps"
    ),
    Field("machine_speed_series", "samples", (list,), doc="[unix time, GFLOP/s] of every probe reading"),
    Field(
        "machine_speed_dtype", "info", _STR, doc="the probe's compute dtype: the case's (float32, bfloat16)"
    ),
    Field("machine_speed_rel", "metric", _NUM, doc="probe over its run's median, per device and dtype"),
    Field("drifted", "info", (bool,), doc="the probe ran more than 10% off the run's median"),
    # -- LoadGen scenarios (resnet/engine/kinds/loadgen.py) --
    Field("samples_per_sec", "metric", _NUM, "samples/s", "higher", "LoadGen's samples per second"),
    Field("server_peak_qps", "metric", _NUM, "queries/s", "higher", "highest Server rate meeting the bound"),
    Field("lg_p50_ms", "metric", _NUM, "ms", "lower", "LoadGen's 50th percentile latency"),
    Field("lg_p90_ms", "metric", _NUM, "ms", "lower", "LoadGen's 90th percentile latency"),
    Field("lg_p99_ms", "metric", _NUM, "ms", "lower", "LoadGen's 99th percentile latency"),
    Field("lg_p999_ms", "metric", _NUM, "ms", "lower", "LoadGen's 99.9th percentile latency"),
    Field("lg_mean_ms", "metric", _NUM, "ms", "lower", "LoadGen's mean latency"),
    Field("queries", "metric", (int,), "samples", doc="samples LoadGen issued and the SUT answered"),
    Field("duration_s", "metric", _NUM, "s", doc="the LoadGen run's length (MLPerf asks 600 s)"),
    Field("valid", "info", (bool,), doc="LoadGen called the run VALID"),
    Field("invalid_reason", "info", _STR, doc="why LoadGen called it INVALID"),
    Field("target_qps", "metric", _NUM, "queries/s", doc="the Server rate of the chosen run"),
    Field("latency_bound_ms", "metric", _NUM, "ms", doc="the Server p99 bound"),
    Field("max_batch", "metric", (int,), "samples", doc="the batching queue's largest batch"),
    Field("batch_timeout_ms", "metric", _NUM, "ms", doc="the batching queue's time-out"),
    Field("mean_batch", "metric", _NUM, "samples", doc="the batches the SUT ran, on average"),
    Field("sample_count", "metric", (int,), "samples", doc="the query sample library on the device"),
    Field("server_search", "samples", (list,), doc="[target QPS, p99 ms, valid, meets bound] per run"),
    Field("loadgen_logs", "info", _STR, doc="where the LoadGen log files of the case are"),
    Field("note", "info", _STR, doc="how to read the row (LoadGen: not an MLPerf submission)"),
    # -- deployment runtimes (resnet/engine/kinds/runtimes.py) --
    Field("runtime_version", "info", _STR, doc="the runtime's version"),
    Field(
        "requests",
        "info",
        (int,),
        doc="inference requests in flight per step: 1 (latency), or the runtime's own count (throughput)",
    ),
    Field("export_s", "metric", _NUM, "s", "lower", "exporting the model (0 when it came from the cache)"),
    Field("exported_from", "info", _STR, doc="which Keras model was exported (mixed: its float32 twin)"),
    Field("quantized_by", "info", _STR, doc="int8: the tool that quantized the export and its version"),
    Field("quantize_s", "metric", _NUM, "s", "lower", "int8: quantizing (0 when it came from the cache)"),
    Field("parity_on", "info", _STR, doc="the images parity was checked on (int8: held-out generated ones)"),
    Field("parity_max_rel_err", "metric", _NUM, doc="largest difference from Keras's logits / their largest"),
    Field("parity_top1_agreement", "metric", _NUM, doc="share of images whose top-1 class agrees with Keras"),
    Field("parity_tolerance", "metric", _NUM, doc="the largest relative difference the precision allows"),
    # -- input pipelines (resnet/engine/kinds/pipelines.py) --
    Field("pipeline", "info", _STR, doc="tfdata, pil or torchvision-gpu"),
    Field("stage", "info", _STR, doc="decode, train (augmentation) or eval (preprocessing)"),
    Field("workers", "metric", (int,), "cores", doc="parallel calls / worker processes (and cores)"),
    Field("images_per_sec_per_core", "metric", _NUM, "images/s", "higher", "images/s over the workers"),
    Field(
        "synthetic_images_per_sec",
        "metric",
        _NUM,
        "images/s",
        "higher",
        "the same step on tensors on the device",
    ),
    Field(
        "input_bound_fraction", "metric", _NUM, "", "lower", "1 - end-to-end over synthetic images/s", True
    ),
    Field("data_dir", "info", _STR, doc="the generated data set read"),
    # -- paired comparisons (resnet/engine/kinds/paired.py) --
    Field(
        "comparison",
        "info",
        _STR,
        doc="what a paired ratio compares: version, precision, runtime, peer (across processes) or ab",
    ),
    Field("numerator", "info", _STR, doc="the version or precision over ..."),
    Field("denominator", "info", _STR, doc="... this one (v1, float32)"),
    Field("ratio_ci_low", "metric", _NUM, doc="95% interval of the ratio, low end"),
    Field("ratio_ci_high", "metric", _NUM, doc="95% interval of the ratio, high end"),
    Field("differs", "info", (bool,), doc="the ratio's interval excludes 1"),
    Field("pairs", "metric", (int,), "rounds", doc="alternating rounds behind a paired ratio"),
    Field("numerator_images_per_sec", "metric", _NUM, "images/s", "higher"),
    Field("denominator_images_per_sec", "metric", _NUM, "images/s", "higher"),
    # -- A/B runs of two software stacks (resnet/engine/kinds/ab.py) --
    Field("stack_a", "info", _STR, doc="stack A of an A/B row: versions, where resnet came from, settings"),
    Field("stack_b", "info", _STR, doc="stack B of an A/B row (its ratio is B's images/s over A's)"),
)
FIELDS: dict[str, Field] = {f.name: f for f in ROW_FIELDS}
#: Every metric with a direction: what ``compare`` can gate on and ``dashboard`` plots.
METRICS: dict[str, str] = {f.name: f.better for f in ROW_FIELDS if f.role == "metric" and f.better}
#: Fields every row must carry, of any kind.
REQUIRED = ("case_id", "kind", "status")
#: Fields a row of each kind must carry besides REQUIRED.
REQUIRED_BY_KIND: dict[str, tuple[str, ...]] = {
    "case": ("version", "mode", "batch_size", "precision", "device", "backend"),
    "build": ("version", "backend"),
    "goal": ("goal",),
    "window": ("version", "mode", "batch_size", "precision", "device", "backend", "window"),
    "paired": ("mode", "batch_size", "device", "backend", "comparison", "numerator", "denominator"),
    "ab": ("version", "mode", "batch_size", "precision", "device", "backend", "numerator", "denominator"),
    "loader": (),
    "pipeline": ("pipeline", "stage", "workers", "batch_size"),
}
#: Metrics that are computed from the timed step times (their noise is the steps').
TIMED = frozenset(
    {"images_per_sec", "images_per_sec_mean", "images_per_sec_best", "utilization", "achieved_tflops"}
    | {"latency_ms_p50", "latency_ms_p90", "latency_ms_p99"}
)


def new_row(case: Case, kind: str = "case", case_id: str | None = None) -> dict[str, Any]:
    """A row for ``case`` with every field present, metrics empty, status ``pending``."""
    row: dict[str, Any] = dict.fromkeys(FIELDS)
    row.update(case.to_dict())
    row.update(case_id=case_id or case.id, kind=kind, status="pending", global_batch=case.global_batch)
    return row


def row_problems(row: Any) -> list[str]:
    """What is wrong with ``row`` against the schema (an empty list: nothing)."""
    if not isinstance(row, dict):
        return [f"a row must be an object, not {type(row).__name__}"]
    problems = [f"missing field {name!r}" for name in REQUIRED if row.get(name) is None]
    kind = row.get("kind")
    if kind is not None and (not isinstance(kind, str) or kind not in KINDS):
        problems.append(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        kind = None
    status = row.get("status")
    if status is not None and (not isinstance(status, str) or status not in STATUSES):
        problems.append(f"status {status!r} is not one of {', '.join(STATUSES)}")
    if isinstance(row.get("stability"), str) and row["stability"] not in STABILITIES:
        problems.append(f"stability {row['stability']!r} is not one of {', '.join(STABILITIES)}")
    for name in REQUIRED_BY_KIND.get(kind, ()):
        if row.get(name) is None:
            problems.append(f"missing field {name!r}")
    for name, value in row.items():
        field = FIELDS.get(name)
        if field is None or value is None:
            continue
        ok = isinstance(value, field.type) and not (isinstance(value, bool) and bool not in field.type)
        if not ok:
            problems.append(f"field {name!r} is {value!r}, not {'/'.join(t.__name__ for t in field.type)}")
    return problems


#: The smallest value an integer axis or count may take (a batch of 0 measures nothing).
MINIMUM: dict[str, int] = {
    "batch_size": 1, "global_batch": 1, "image_size": 1, "replicas": 1, "window": 1, "windows": 1,
}  # fmt: skip


def is_number(value: Any) -> bool:
    """Whether a raw value is a number as a row holds one (an int or a float, not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def finite(value: Any) -> float | None:
    """A figure as a finite float (a NumPy number included); None for an empty cell, text, a
    bool, NaN or infinity: the one rule every reader applies before using a figure."""
    if value is None or isinstance(value, (bool, str)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _numbers(value: Any) -> bool:
    return isinstance(value, list) and all(is_number(v) for v in value)


#: The shape of each raw-data field, checked on load: a predicate and its description.
SHAPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "samples_s": (
        lambda v: isinstance(v, list) and all(_numbers(w) for w in v),
        "a list of lists of numbers",
    ),
    "window_started": (_numbers, "a list of numbers"),
    "window_images_per_sec": (
        lambda v: isinstance(v, list) and all(x is None or is_number(x) for x in v),
        "a list of numbers",
    ),
    "machine_speed_series": (
        lambda v: isinstance(v, list) and all(_numbers(p) and len(p) == 2 for p in v),
        "a list of [unix time, GFLOP/s] pairs",
    ),
    "server_search": (
        lambda v: isinstance(v, list) and all(isinstance(r, list) for r in v),
        "a list of lists",
    ),
}
#: Samples that are times or speeds: every value must be finite and positive.
POSITIVE_SAMPLES = ("samples_s", "window_images_per_sec")


def shape_problems(row: dict[str, Any]) -> list[str]:
    """Raw-data fields of the wrong shape, and integer fields below their minimum."""
    problems = []
    for name, (ok, what) in SHAPES.items():
        value = row.get(name)
        if value is not None and not ok(value):
            problems.append(f"field {name!r} is not {what}")
    for name, least in MINIMUM.items():
        value = row.get(name)
        if is_number(value) and value < least:
            problems.append(f"field {name!r} is {value!r}; it is at least {least}")
    threads = row.get("threads")
    if is_number(threads) and threads < 0:
        problems.append(f"field 'threads' is {threads!r}; it is a positive count (or empty: every core)")
    return problems


def invalid_samples(row: dict[str, Any]) -> list[str]:
    """Samples no measurement can give: a step time or speed that is NaN, infinite, zero or
    negative (``name`` each)."""
    bad = []
    for name in POSITIVE_SAMPLES:
        value = row.get(name)
        if not isinstance(value, list):
            continue
        flat = [x for w in value for x in (w if isinstance(w, list) else [w]) if x is not None]
        if any(not (math.isfinite(x) and x > 0) for x in flat):
            bad.append(name)
    series = row.get("machine_speed_series")
    if isinstance(series, list) and any(not all(math.isfinite(x) for x in p) or p[1] <= 0 for p in series):
        bad.append("machine_speed_series")
    return bad


#: Facts of ``machine_info`` the tools read, and the JSON types each may have.
MACHINE_INFO: dict[str, tuple[type, ...]] = {
    "cpu_model": (str,), "cpu_flags": (list,), "cpu_cores_logical": (int,), "cpu_cores_physical": (int,),
    "cpu_affinity": (int,), "memory_gb": (int, float), "gpus": (list,), "versions": (dict,),
    "keras_backend": (str,), "cpu_family": (int,), "cpu_model_number": (int,), "cpu_stepping": (int,),
    "cpu_vendor": (str,), "cpu_caches_kb": (dict,), "label": (str,), "cpu_mhz": (int, float),
}  # fmt: skip


def machine_problems(info: Any) -> list[str]:
    """What is wrong with a run's ``machine_info`` (an empty list: nothing)."""
    if not isinstance(info, dict):
        return [f"machine_info is {type(info).__name__}, not an object"]
    problems = []
    for name, types in MACHINE_INFO.items():
        value = info.get(name)
        if value is None:
            continue
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            problems.append(f"machine_info.{name} is {value!r}, not {'/'.join(t.__name__ for t in types)}")
    flags = info.get("cpu_flags")
    if isinstance(flags, list) and not all(isinstance(f, str) for f in flags):
        problems.append("machine_info.cpu_flags is not a list of strings")
    gpus = info.get("gpus")
    if isinstance(gpus, list):
        for n, gpu in enumerate(gpus):
            if not isinstance(gpu, dict) or not all(isinstance(v, (str, int, float)) for v in gpu.values()):
                problems.append(f"machine_info.gpus[{n}] is {gpu!r}, not an object of names and values")
                break
    versions = info.get("versions")
    if isinstance(versions, dict) and not all(v is None or isinstance(v, str) for v in versions.values()):
        problems.append("machine_info.versions holds a value that is not a version string")
    return problems


def invalid_figures(row: dict[str, Any]) -> list[str]:
    """The metrics of ``row`` that no measurement can give: NaN, infinite, or negative
    where only a difference may be negative (``name=value`` each)."""
    bad = []
    for name, value in row.items():
        field = FIELDS.get(name)
        if field is None or field.role != "metric" or not isinstance(value, (int, float)):
            continue
        if isinstance(value, bool) or (math.isfinite(value) and (value >= 0 or field.signed)):
            continue
        bad.append(f"{name}={value!r}")
    return bad


def benchmark_group(row: dict[str, Any]) -> str:
    """The pytest-benchmark group of a row: what its case shares with the cases it may be set
    beside (``inference-bs32-float32-cpu``: every version and runtime of it); a build, a goal,
    a pipeline stage or a LoadGen scenario has its own."""
    kind = row.get("kind")
    if kind in ("build", "goal"):
        return str(kind)
    if kind == "pipeline":
        return f"pipeline-{row.get('stage')}"
    group = str(row.get("case_id", "")).split("@w")[0].removeprefix(f"{row.get('version')}-")
    runtime = row.get("runtime")
    return group.replace(f"-{runtime}", "") if runtime and runtime != "keras" else group

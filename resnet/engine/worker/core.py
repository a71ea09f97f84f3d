"""The model core of the worker process: the backend, the case's model, its compiled
steps, warm-up, the drift probe, the peak probe and what a finished case reports.

Kinds of measurement whose step is not a Keras model's own (a peer library, a deployment
runtime) register a step source with :func:`step_source`; a training feed other than
tensors on the device (JPEG files) registers with :func:`training_feed`.  Each command's
case arrives as its axes and is typed (:class:`resnet.schema.Case`) here, at the boundary.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable
from typing import Any

from resnet.engine.backends import BACKEND_JIT, JIT_REASON
from resnet.engine.errors import CaseFailure
from resnet.engine.worker.protocol import command
from resnet.schema import COMPUTE_DTYPE, QUANTIZED, REFERENCES, Case, is_gpu, placed_on

#: Steps that are not a Keras model's own: (applies to the case, build, whether the
#: backend's jit settings apply), tried in order.  ``build(core, case, images, labels)``
#: gives ``(step, args, size, host)``: ``host`` names where a step that returns NumPy
#: results runs (a runtime's), None for a step on the backend's tensors.
STEP_SOURCES: list[tuple[Callable[[Case], bool], Callable[..., tuple], bool]] = []
#: Training data other than tensors on the device, by ``Case.data``: ``feed(core, case,
#: train_step) -> step`` (a step that takes no arguments and pulls its own batch).
TRAINING_FEEDS: dict[str, Callable[..., Callable[[], Any]]] = {}


def step_source(applies: Callable[[Case], bool], jit: bool = True) -> Callable[[Callable], Callable]:
    """Register the decorated builder for the cases ``applies`` selects."""

    def register(fn: Callable) -> Callable:
        STEP_SOURCES.append((applies, fn, jit))
        return fn

    return register


def training_feed(data: str) -> Callable[[Callable], Callable]:
    """Register the decorated feed for training cases with ``Case.data == data``."""

    def register(fn: Callable) -> Callable:
        TRAINING_FEEDS[data] = fn
        return fn

    return register


def peak_rss_mb(status: str = "/proc/self/status") -> float:
    """Peak resident memory of this process, MiB: Linux's VmHWM (this program's own, from its
    start), else getrusage's ru_maxrss (which Linux carries over from the process that
    started this one, through fork and exec: a small process started by a large one reads
    the large one's peak)."""
    try:
        with open(status) as lines:
            for line in lines:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class WorkerCore:
    """The worker process's state: the backend, the case's model and its compiled steps."""

    def __init__(self) -> None:
        self.backend: Any = None
        self.case: Case | None = None
        self.steps: dict[str, tuple[Any, tuple]] = {}
        self.traces_after_warmup = 0
        self.step_times: list[float] = []
        self.energy: Any = None
        self.joules_at_warm: float | None = None
        #: The generated data set (input pipelines, --data jpeg), from the sweep.
        self.data_dir: str | None = os.environ.get("RESNET_BENCH_DATA")
        #: Slots whose step returns NumPy results (a runtime's): where it runs.
        self.host_steps: dict[str, str] = {}
        #: What a kind keeps between its commands (LoadGen's serving state, ...).
        self.state: dict[str, Any] = {}
        #: Images one step of the main slot holds.
        self.images_per_step = 1

    # -- set-up ---------------------------------------------------------------
    def start(self, threads: int | None) -> dict[str, Any]:
        from resnet.engine.backends import get_backend

        self.backend = get_backend()
        used = self.backend.set_threads(threads)
        import keras

        versions = {"backend": keras.backend.backend(), "keras": keras.__version__, **self.backend.versions()}
        return {"threads": used, "devices": self.backend.devices(), **versions}

    def check_device(self, device: str) -> None:
        """A CaseFailure ("skipped") when the backend does not see ``device``."""
        seen = self.backend.devices()
        if device not in seen:
            kind = "GPU" if is_gpu(device) else "device"
            raise CaseFailure(
                "skipped",
                f"no {kind} {device} found by the {self.backend.name} backend (it sees: {', '.join(seen)})",
            )

    def check_precision(self, case: Case) -> None:
        """A CaseFailure ("skipped") for a precision only a deployment runtime runs (int8)
        asked of Keras."""
        if case.precision in QUANTIZED and case.runtime == "keras":
            raise CaseFailure(
                "skipped",
                f"{case.precision} runs through a deployment runtime's quantized model (--runtimes "
                "openvino,onnxruntime); Keras has no int8 convolution to time",
            )

    def check_jit(self, case: Case) -> None:
        """A CaseFailure ("skipped") when the backend cannot run the case's jit setting."""
        if case.jit not in BACKEND_JIT[self.backend.name]:
            raise CaseFailure("skipped", JIT_REASON[(self.backend.name, case.jit)])

    def model(self, case: Case) -> Any:
        """The case's Keras model: ours, or a keras.applications reference."""
        import keras

        import resnet

        shape = (case.image_size, case.image_size, 3)
        if case.version in REFERENCES:
            from resnet.specs import get_spec
            from resnet.weights import reference_name

            # The reference models follow the global policy: this process runs one
            # case only, so setting it here cannot leak into another case.
            keras.config.set_dtype_policy(case.precision)
            app = reference_name(get_spec(REFERENCES[case.version]))
            return getattr(keras.applications, app)(weights=None, input_shape=shape)
        return resnet.build(case.version, input_shape=shape, dtype=case.precision)

    def built(self, case: Case, scoped: bool = True) -> tuple[Any, dict[str, Any]]:
        """Build the model on the case's device (``scoped``; a distribution strategy
        places it otherwise); returns it with its size and build time."""
        import contextlib

        import resnet

        t0 = time.perf_counter()
        with self.backend.build_scope(case.device) if scoped else contextlib.nullcontext():
            model = self.model(case)
        seconds = time.perf_counter() - t0
        params = resnet.count_params(model)
        return model, {
            "build_s": seconds,
            "params_total": params.total,
            "params_trainable": params.trainable,
            "params_non_trainable": params.non_trainable,
            "gmacs_per_image": resnet.count_flops(model).gmacs,
        }

    def setup(self, case: Case, slot: str = "main") -> dict[str, Any]:
        """Build, place inputs, compile and run the first step (timed as compile_s).

        ``slot`` names the step: a second model ("reference") can live in the same
        process, so that two models are compared under identical conditions."""
        import numpy as np

        if slot == "main" or self.case is None:
            self.case = case  # the first model's case names the device (paired groups)
        device = case.device
        self.check_device(device)
        source = next(((fn, jit) for applies, fn, jit in STEP_SOURCES if applies(case)), None)
        self.check_precision(case)
        if source is None or source[1]:
            self.check_jit(case)
        rng = np.random.default_rng(0)
        shape = (case.global_batch, case.image_size, case.image_size, 3)
        images = rng.standard_normal(shape, dtype=np.float32)
        labels = rng.integers(0, 1000, shape[0]).astype("int32")
        if source is not None:
            step, args, size, host = source[0](self, case, images, labels)
            if host is not None:
                self.host_steps[slot] = host
        elif case.replicas > 1 or case.strategy != "mirrored":
            step, args, size = self.data_parallel(case, images, labels)
        else:
            step, args, size = self.keras_step(case, images, labels)
        self.steps[slot] = (step, args)
        if slot == "main":  # images a step holds (a runtime's throughput step: several requests)
            self.images_per_step = case.global_batch * size.get("requests", 1)
        self.backend.reset_peak_memory(device)
        t0 = time.perf_counter()
        out = step(*args)
        self.wait(slot, out)
        compile_s = time.perf_counter() - t0 + size.pop("load_s", 0.0)
        placed = self.host_steps.get(slot) or self.backend.placement(out)
        if not placed_on(device, placed):
            raise CaseFailure("error", f"asked for {device} but the step ran on {placed}")
        return {"compile_s": compile_s, "device_name": placed, **size}

    def keras_step(self, case: Case, images: Any, labels: Any) -> tuple:
        """The Keras model's own compiled step on the case's device: ``(step, args, size)``."""
        model, size = self.built(case)
        device = case.device
        x = self.backend.put(images, device)
        if case.mode == "inference":
            return self.backend.inference_step(model, device, case.jit), (x,), size
        y = self.backend.put(labels, device)
        self.compile(model, case)
        step = self.backend.training_step(model, device, case.jit, x, y)
        if case.data in TRAINING_FEEDS:
            self.steps["synthetic"] = (step, (x, y))  # the same step on tensors on the device
            return TRAINING_FEEDS[case.data](self, case, step), (), size
        return step, (x, y), size

    def compile(self, model: Any, case: Case) -> None:
        """SGD with momentum (loss-scaled for float16) and the classification loss."""
        import keras

        optimizer: Any = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        if case.precision == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")

    def data_parallel(self, case: Case, images: Any, labels: Any) -> tuple:
        """Model and step under a data-parallel strategy; inputs split per replica."""
        replicas = case.replicas
        try:
            strategy = self.backend.data_parallel(case.device, replicas, case.strategy)
        except (NotImplementedError, LookupError) as err:
            raise CaseFailure("skipped", str(err)) from None
        with strategy.scope():
            model, size = self.built(case, scoped=False)
            if case.mode == "training":
                self.compile(model, case)
                model.optimizer.build(model.trainable_variables)
        x = self.backend.distribute_batch(strategy, images, replicas)
        args: tuple = (x,)
        if case.mode == "training":
            args = (x, self.backend.distribute_batch(strategy, labels, replicas))
        with strategy.scope():
            step = self.backend.distributed_steps(strategy, model, case.mode, case.jit, args)
        if strategy.num_replicas_in_sync != replicas:
            raise CaseFailure(
                "error", f"asked for {replicas} replicas, the strategy has {strategy.num_replicas_in_sync}"
            )
        size["replicas_in_sync"] = strategy.num_replicas_in_sync
        return step, args, size

    # -- steps ----------------------------------------------------------------
    def wait(self, slot: str, out: Any) -> None:
        """Wait for a step's result (a runtime's NumPy result is complete when returned)."""
        if slot not in self.host_steps:
            self.backend.wait(out)

    def run_step(self, slot: str = "main") -> float:
        step, args = self.steps[slot]
        t0 = time.perf_counter()
        self.wait(slot, step(*args))
        seconds = time.perf_counter() - t0
        if slot == "main":
            self.step_times.append(seconds)
        return seconds

    def timed_loop(self, slot: str, n: int) -> list[float]:
        """``n`` steps of ``slot`` in a tight loop, no protocol in between."""
        step, args = self.steps[slot]
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            self.wait(slot, step(*args))
            times.append(time.perf_counter() - t0)
        return times

    def mark_warm(self) -> dict[str, Any]:
        """End of warm-up: later traces are retraces; step times start afresh."""
        from resnet.engine.energy import counter_for

        self.traces_after_warmup = self.backend.trace_count()
        self.step_times = []
        self.energy = counter_for(self.case.device)
        self.joules_at_warm = self.energy.read()
        return {"traces": self.traces_after_warmup}

    def finish(self) -> dict[str, Any]:
        """Memory, energy and retraces of the finished case (a retrace fails it)."""
        traces = self.backend.trace_count()
        if traces != self.traces_after_warmup:
            raise CaseFailure(
                "error",
                f"the step was retraced after warm-up ({self.traces_after_warmup} -> {traces} traces)",
            )
        times = self.step_times
        joules = None
        if self.energy is not None and self.joules_at_warm is not None and times:
            now = self.energy.read()
            if now is not None:
                joules = (now - self.joules_at_warm) / (len(times) * self.images_per_step)
        return {
            "joules_per_image": joules,
            "energy_source": getattr(self.energy, "source", "none"),
            **self.host_memory(),
            "peak_device_mem_mb": self.backend.peak_memory_mb(self.case.device),
            "worker_step_s": times,
            "traces": traces,
        }

    def host_memory(self) -> dict[str, Any]:
        """The case's peak host memory: this worker's, or where the case's step source
        measures its own elsewhere (a runtime's, in a process holding only the runtime),
        that figure, with this worker's beside it."""
        own = self.state.pop("own_memory", None)
        if own is None or own[0] != self.case:
            return {"peak_host_rss_mb": peak_rss_mb(), "memory_scope": "worker"}
        figures = own[1]()
        if figures.get("frameworks_loaded"):
            raise CaseFailure(
                "error",
                "the runtime's own memory was measured in a process that loaded "
                + ", ".join(figures["frameworks_loaded"]),
            )
        return {
            "peak_host_rss_mb": figures["peak_rss_mb"],
            "memory_scope": "runtime process",
            "worker_peak_rss_mb": peak_rss_mb(),
        }

    def probe(self, dtype: str = "float32", seconds: float = 0.25) -> dict[str, Any]:
        """The machine-speed probe: a fixed matrix product in ``dtype`` (the case's compute
        dtype: bfloat16 takes the backend's bf16 path, AMX tiles where oneDNN has them) on the
        case's device (1024 on a CPU, 4096 on a GPU), repeated for about ``seconds``; GFLOP/s
        of the median repetition.  The same work in every window of a case, so its speed
        tracks the machine's for that kind of arithmetic."""
        if self.case is None:
            raise CaseFailure("error", "probe before setup: no device yet")
        device = self.case.device
        n = 4096 if is_gpu(device) else 1024
        first = self.backend.matmul_seconds(device, dtype, n, 3)  # also warms threads and caches
        reps = max(3, min(100, int(seconds / max(min(first), 1e-6))))
        # A dtype this device runs slowly (float16 emulated on a CPU) keeps its first readings.
        times = sorted(
            first if 3 * min(first) >= seconds else self.backend.matmul_seconds(device, dtype, n, reps)
        )
        return {"gflops": 2 * n**3 / times[len(times) // 2] / 1e9, "n": n, "reps": len(times), "dtype": dtype}

    def matmul_peak(self, device: str, precision: str, seconds: float) -> dict[str, Any]:
        """Peak matrix-product rate on ``device`` in the precision's compute dtype: on a CPU
        the fastest of the backend's, PyTorch's and OpenVINO's (resnet.engine.worker.peaks),
        with the library named and the analytic figure beside it."""
        from resnet.engine.worker.peaks import SIZES, analytic_tflops, cpu_peaks

        self.check_device(device)
        dtype = COMPUTE_DTYPE[precision]

        def backend_tflops(n: int) -> float:
            times = self.backend.matmul_seconds(device, dtype, n, 2)
            reps = max(3, min(50, int(seconds / len(SIZES) / max(min(times), 1e-6))))
            return 2 * n**3 / min(self.backend.matmul_seconds(device, dtype, n, reps)) / 1e12

        analytic = None
        if dtype == "int8":  # the backends have no int8 matrix product: the libraries' only
            from resnet.engine.worker.peaks import int8_peaks

            found = int8_peaks(seconds)
            if not found:
                raise CaseFailure("skipped", "no int8 matrix product here (it takes torch or openvino)")
        elif is_gpu(device):
            found = {self.backend.name: (backend_tflops(8192), 8192)}
        else:
            from resnet.engine.machine import cpu_flags, cpu_identity

            found = cpu_peaks(backend_tflops, self.backend.name, dtype, seconds)
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
            analytic = analytic_tflops({**cpu_identity(), "cpu_flags": cpu_flags()}, dtype, cores)
        source = max(found, key=lambda name: found[name][0])
        return {"tflops": found[source][0], "size": found[source][1], "source": source,
                "by_library": {name: tflops for name, (tflops, _) in found.items()},
                "analytic_tflops": analytic, "dtype": dtype}  # fmt: skip


# -- the core's commands ----------------------------------------------------------
command("start")(lambda core, msg: core.start(msg.get("threads")))
command("setup")(lambda core, msg: core.setup(Case.from_dict(msg["case"]), msg.get("slot", "main")))
command("step")(lambda core, msg: {"seconds": core.run_step(msg.get("slot", "main"))})
command("warm")(lambda core, msg: core.mark_warm())
command("finish")(lambda core, msg: core.finish())
command("probe")(lambda core, msg: core.probe(msg.get("dtype", "float32"), msg.get("seconds", 0.25)))
command("matmul_peak")(
    lambda core, msg: core.matmul_peak(msg["device"], msg["precision"], msg.get("seconds", 2.0))
)

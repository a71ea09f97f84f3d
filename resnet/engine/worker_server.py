"""The worker process: builds one case's model, compiles its step and runs steps
on command, so that each case has its own process (host memory, thread settings,
precision policy, crashes).

Protocol: one JSON object per line on stdin; one JSON reply per line on the
original stdout (the worker's own stdout and stderr go to stderr).  Replies are
``{"ok": true, ...}`` or ``{"ok": false, "status": "error|oom|skipped", "reason": ...}``.
Started by :class:`resnet.engine.worker_client.WorkerClient` as
``python -m resnet.engine.worker_server``; each command's case arrives as its axes and
is typed (:class:`resnet.schema.Case`) here, at the boundary.
"""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import sys
import time
import traceback
from typing import Any

from resnet.engine.options import BACKEND_JIT, JIT_REASON
from resnet.engine.worker_client import CaseFailure
from resnet.schema import COMPUTE_DTYPE, PEERS, REFERENCES, Case, is_gpu, placed_on


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:300]}" if text else type(err).__name__


#: Exception types the frameworks raise when memory runs out: TensorFlow's
#: ResourceExhaustedError, PyTorch's (CUDA) OutOfMemoryError, Python's MemoryError.
OOM_TYPES = frozenset({"ResourceExhaustedError", "OutOfMemoryError", "MemoryError"})
#: XLA (JAX) reports out-of-memory as a runtime error with this status code.
XLA_OOM_STATUS = "RESOURCE_EXHAUSTED"
#: The seed of the models exported to deployment runtimes: every worker builds the same weights.
EXPORT_SEED = 1234


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is the framework's own out-of-memory error (never a guess from
    words in a message: "room" or "bloom" are not out of memory)."""
    if any(cls.__name__ in OOM_TYPES for cls in type(err).__mro__):
        return True
    runtime = any(cls.__name__ in ("XlaRuntimeError", "JaxRuntimeError") for cls in type(err).__mro__)
    return runtime and str(err).lstrip().startswith(XLA_OOM_STATUS)


def peak_rss_mb() -> float:
    """Peak resident memory of this process, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class WorkerServer:
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
        #: Slots whose step is a deployment runtime's (NumPy results): where it runs.
        self.host_steps: dict[str, str] = {}
        #: Serving (LoadGen): its settings, the sample library on the device, the SUT's step.
        self.serving: Any = None
        self.library: Any = None
        self.serve_run: Any = None

    # -- set-up ---------------------------------------------------------------
    def start(self, threads: int | None) -> dict[str, Any]:
        from resnet.engine.backends import get_backend

        self.backend = get_backend()
        used = self.backend.set_threads(threads)
        return {"threads": used, "devices": self.backend.devices(), **self._versions()}

    def _versions(self) -> dict[str, Any]:
        import keras

        return {
            "backend": keras.backend.backend(),
            "keras": keras.__version__,
            **self.backend.versions(),
        }

    def _check_device(self, device: str) -> None:
        seen = self.backend.devices()
        if device not in seen:
            kind = "GPU" if is_gpu(device) else "device"
            raise CaseFailure(
                "skipped",
                f"no {kind} {device} found by the {self.backend.name} backend (it sees: {', '.join(seen)})",
            )

    def _model(self, case: Case) -> Any:
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

    def _built(self, case: Case, scoped: bool = True) -> tuple[Any, dict[str, Any]]:
        """Build the model on the case's device (``scoped``; a distribution strategy
        places it otherwise); returns it with its size and build time."""
        import contextlib

        import resnet

        t0 = time.perf_counter()
        with self.backend.build_scope(case.device) if scoped else contextlib.nullcontext():
            model = self._model(case)
        seconds = time.perf_counter() - t0
        params = resnet.count_params(model)
        return model, {
            "build_s": seconds,
            "params_total": params.total,
            "params_trainable": params.trainable,
            "params_non_trainable": params.non_trainable,
            "gmacs_per_image": resnet.count_flops(model).gmacs,
        }

    def build(self, case: Case) -> dict[str, Any]:
        """Build the model once (for build-time cases); returns its size."""
        if case.version in PEERS:
            import numpy as np

            s = case.image_size
            return self._peer(case, np.zeros((1, s, s, 3), "float32"), np.zeros(1, "int32"))[2]
        return self._built(case)[1]

    def _peer(self, case: Case, images: Any, labels: Any) -> tuple:
        """A peer model's ``(step, args, size)`` (resnet/engine/peers.py)."""
        from resnet.engine.peers import PeerUnavailable, build_peer

        if case.replicas > 1:
            raise CaseFailure("skipped", f"{case.version} is a single-device peer: --replicas does not apply")
        try:
            return build_peer(case, images, labels)
        except PeerUnavailable as err:
            raise CaseFailure("skipped", str(err)) from None

    def setup(self, case: Case, slot: str = "main") -> dict[str, Any]:
        """Build, place inputs, compile and run the first step (timed as compile_s).

        ``slot`` names the step: a second model ("reference") can live in the same
        process, so that two models are compared under identical conditions."""
        import numpy as np

        if slot == "main" or self.case is None:
            self.case = case  # the first model's case names the device (paired groups)
        device = case.device
        self._check_device(device)
        peer = case.version in PEERS
        if case.jit not in BACKEND_JIT[self.backend.name] and not peer:
            raise CaseFailure("skipped", JIT_REASON[(self.backend.name, case.jit)])
        rng = np.random.default_rng(0)
        shape = (case.global_batch, case.image_size, case.image_size, 3)
        images = rng.standard_normal(shape, dtype=np.float32)
        labels = rng.integers(0, 1000, shape[0]).astype("int32")
        if peer:
            step, args, size = self._peer(case, images, labels)
        elif case.runtime != "keras":
            step, args, size = self._runtime(case, images)
            self.host_steps[slot] = size.pop("device_name")
        elif case.replicas > 1 or case.strategy != "mirrored":
            step, args, size, model = self._data_parallel(case, images, labels)
        else:
            model, size = self._built(case)
            x = self.backend.put(images, device)
            if case.mode == "inference":
                step, args = self.backend.inference_step(model, device, case.jit), (x,)
            else:
                y = self.backend.put(labels, device)
                self._compile(model, case)
                step, args = self.backend.training_step(model, device, case.jit, x, y), (x, y)
                if case.data == "jpeg":
                    self.steps["synthetic"] = (step, args)  # the same step on tensors on the device
                    step, args = self._jpeg_training(case, step), ()
        self.steps[slot] = (step, args)
        self.backend.reset_peak_memory(device)
        t0 = time.perf_counter()
        out = step(*args)
        self._wait(slot, out)
        compile_s = time.perf_counter() - t0 + size.pop("load_s", 0.0)
        placed = self.host_steps.get(slot) or self.backend.placement(out)
        if not placed_on(device, placed):
            raise CaseFailure("error", f"asked for {device} but the step ran on {placed}")
        return {"compile_s": compile_s, "device_name": placed, **size}

    def _jpeg_training(self, case: Case, train: Any) -> Any:
        """Training fed from JPEG files: TensorFlow's data pipeline or a PIL process pool (other
        backends) decodes and augments batches on the host's cores; each step takes the
        next batch to the device and trains on it."""
        from resnet.engine import pipelines

        if not self.data_dir:
            raise CaseFailure("error", "--data jpeg needs a data set (the sweep makes one: --data-images)")
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if self.backend.name == "tensorflow":
            iterator = iter(
                pipelines.tf_dataset(self.data_dir, "train", cores, case.batch_size, size=case.image_size)
            )

            def next_batch() -> tuple[Any, Any]:
                images, labels = next(iterator)
                return self.backend.put(images, case.device), self.backend.put(labels, case.device)

        else:
            import numpy as np

            pull = pipelines.PilPuller(self.data_dir, "train", cores, case.batch_size, case.image_size)
            labels = np.zeros(case.batch_size, "int32")

            def next_batch() -> tuple[Any, Any]:
                return self.backend.put(pull(), case.device), self.backend.put(labels, case.device)

        return lambda: train(*next_batch())

    def pipeline_setup(
        self, pipeline: str, stage: str, workers: int, batch: int, device: str, size: int
    ) -> dict[str, Any]:
        """An input pipeline alone: each step pulls one batch of ``stage`` images."""
        from resnet.engine import pipelines

        if not self.data_dir:
            raise CaseFailure("error", "input-pipeline cases need a data set (the sweep makes one)")
        try:
            if pipeline == "tfdata":
                pull = pipelines.tf_puller(self.data_dir, stage, workers, batch, size)
            elif pipeline == "pil":
                pull = pipelines.PilPuller(self.data_dir, stage, workers, batch, size)
            else:
                pull = pipelines.torchvision_gpu_puller(self.data_dir, stage, device, batch)
        except pipelines.PipelineUnavailable as err:
            raise CaseFailure("skipped", str(err)) from None
        self.case = Case("pipeline", "inference", batch, "float32", device, False)
        self.steps["main"] = (pull, ())
        self.host_steps["main"] = f"{pipeline} ({workers} workers)"
        t0 = time.perf_counter()
        first = pull()
        return {
            "compile_s": time.perf_counter() - t0,
            "device_name": self.host_steps["main"],
            "shape": list(first.shape),
        }

    def synthetic(self, n: int) -> dict[str, Any]:
        """``n`` steps of a jpeg case's training step on tensors already on the device."""
        step, args = self.steps["synthetic"]
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            self.backend.wait(step(*args))
            times.append(time.perf_counter() - t0)
        return {"times": times}

    def _wait(self, slot: str, out: Any) -> None:
        """Wait for a step's result (a runtime's NumPy result is complete when returned)."""
        if slot not in self.host_steps:
            self.backend.wait(out)

    def _runtime(self, case: Case, images: Any) -> tuple:
        """A deployment runtime's step: the Keras model's float32 twin exported (cached),
        loaded by the runtime in the case's precision, and parity-checked against Keras on
        the case's own batch.  Returns ``(step, args, size)``; size carries the runtime's
        facts and ``load_s`` (loading and compiling in the runtime)."""
        import numpy as np

        from resnet.engine import runtimes

        if case.mode != "inference":
            raise CaseFailure("skipped", f"{case.runtime} runs inference only")
        if self.backend.name != "tensorflow":
            raise CaseFailure(
                "skipped",
                f"exporting to {case.runtime} uses Keras's TensorFlow exporters: run --runtimes under "
                f"KERAS_BACKEND=tensorflow, not {self.backend.name}",
            )
        try:
            runtimes.require(case.runtime)
        except runtimes.RuntimeUnavailable as err:
            raise CaseFailure("skipped", str(err)) from None
        twin = case.replace(precision="float32", runtime="keras")
        import keras

        # The same weights in every worker, so one export serves every case of the model;
        # the key holds their digest, so an export of other weights is never reused.
        keras.utils.set_random_seed(EXPORT_SEED)
        model, size = self._built(twin)
        key = runtimes.export_key(
            _spec_text(case.version), case.image_size, case.runtime, runtimes.weights_digest(model)
        )
        path, export_s, _ = runtimes.cached_export(model, key, case.runtime)
        t0 = time.perf_counter()
        try:
            run, info = runtimes.load(case.runtime, path, case.precision, case.threads, case.device)
        except runtimes.RuntimeUnavailable as err:
            raise CaseFailure("skipped", str(err)) from None
        load_s = time.perf_counter() - t0
        reference = np.asarray(model(images, training=False))
        err, top1 = runtimes.parity(reference, run(images))
        tolerance = runtimes.TOLERANCE[case.precision]
        if not err <= tolerance:
            raise CaseFailure(
                "error",
                f"parity: {case.runtime} {case.precision} differs from Keras by {err:.2e} of the logits' "
                f"scale (tolerance {tolerance:g}; top-1 agreement {top1:.0%})",
            )
        size.update(
            runtime_version=info["runtime_version"],
            device_name=info["device_name"],
            export_s=export_s,
            exported_from="float32 twin" if case.precision != "float32" else "the model itself",
            parity_max_rel_err=err,
            parity_top1_agreement=top1,
            parity_tolerance=tolerance,
            load_s=load_s,
        )
        return (lambda x: run(x)), (images,), size

    def _compile(self, model: Any, case: Case) -> None:
        import keras

        optimizer: Any = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        if case.precision == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")

    def _data_parallel(self, case: Case, images: Any, labels: Any) -> tuple:
        """Model and step under a data-parallel strategy; inputs split per replica."""
        replicas = case.replicas
        try:
            strategy = self.backend.data_parallel(case.device, replicas, case.strategy)
        except (NotImplementedError, LookupError) as err:
            raise CaseFailure("skipped", str(err)) from None
        with strategy.scope():
            model, size = self._built(case, scoped=False)
            if case.mode == "training":
                self._compile(model, case)
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
        return step, args, size, model

    # -- steps ----------------------------------------------------------------
    def run_step(self, slot: str = "main") -> float:
        step, args = self.steps[slot]
        t0 = time.perf_counter()
        self._wait(slot, step(*args))
        seconds = time.perf_counter() - t0
        if slot == "main":
            self.step_times.append(seconds)
        return seconds

    def mark_warm(self) -> dict[str, Any]:
        """End of warm-up: later traces are retraces; step times start afresh."""
        from resnet.engine.energy import counter_for

        self.traces_after_warmup = self.backend.trace_count()
        self.step_times = []
        self.energy = counter_for(self.case.device)
        self.joules_at_warm = self.energy.read()
        return {"traces": self.traces_after_warmup}

    # -- serving: LoadGen scenarios (resnet/engine/loadgen.py) -----------------
    def serve_setup(self, case: Case, settings: dict[str, Any]) -> dict[str, Any]:
        """Build the model, hold the query sample library's images on the device, and
        compile the inference step for every batch size the scenarios' SUT runs (a
        batch is padded up to the next): compile time is that of all of them."""
        import numpy as np

        from resnet.engine.loadgen import LoadGenSettings, LoadGenUnavailable, import_loadgen

        try:
            import_loadgen()
        except LoadGenUnavailable as err:
            raise CaseFailure("skipped", str(err)) from None
        self.case = case
        self._check_device(case.device)
        if case.jit not in BACKEND_JIT[self.backend.name]:
            raise CaseFailure("skipped", JIT_REASON[(self.backend.name, case.jit)])
        self.serving = LoadGenSettings(**settings)
        model, size = self._built(case)
        rng = np.random.default_rng(0)
        s = case.image_size
        images = rng.standard_normal((self.serving.sample_count, s, s, 3), dtype=np.float32)
        self.library = self.backend.put(images, case.device)
        step = self.backend.inference_step(model, case.device, case.jit)
        sizes = self.serving.batch_sizes()
        t0 = time.perf_counter()
        for batch in sizes:
            out = step(self.backend.take(self.library, [0] * batch))
            self.backend.wait(out)
        compile_s = time.perf_counter() - t0
        placed = self.backend.placement(out)
        if not placed_on(case.device, placed):
            raise CaseFailure("error", f"asked for {case.device} but the step ran on {placed}")

        def run(indices: list[int]) -> None:
            batch = next(b for b in sizes if b >= len(indices))
            padded = indices + [indices[-1]] * (batch - len(indices))
            self.backend.wait(step(self.backend.take(self.library, padded)))

        self.serve_run = run
        return {"compile_s": compile_s, "device_name": placed, "batch_sizes": list(sizes), **size}

    def loadgen(self, scenario: str, log_dir: str) -> dict[str, Any]:
        """Run one LoadGen scenario over the compiled step; Server searches for its peak
        rate after a short Offline run has estimated the capacity."""
        from pathlib import Path

        from resnet.engine.loadgen import find_server_peak, import_loadgen, run_scenario

        lg = import_loadgen()
        logs = Path(log_dir)
        settings = self.serving
        # What one query takes the SUT, so that LoadGen sizes each run to its duration.
        samples = {"single-stream": 1, "multi-stream": settings.multi_stream_samples}.get(
            scenario, settings.offline_batch
        )
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            self.serve_run(list(range(samples)))
            times.append(time.perf_counter() - t0)
        expected = sorted(times)[1]
        if scenario != "server":
            out = run_scenario(lg, scenario, self.serve_run, settings, logs, expected_latency_s=expected)
            return {**out, "server_search": None}
        probe = dataclasses.replace(settings, duration_s=max(1.0, settings.duration_s / 2))
        capacity = run_scenario(
            lg, "offline", self.serve_run, probe, logs / "capacity-offline", expected_latency_s=expected
        )
        out, search = find_server_peak(lg, self.serve_run, settings, logs, capacity["samples_per_second"])
        best = search.best()
        out["server_peak_qps"] = best[0] if best else None
        out["server_search"] = [list(r) for r in search.runs]
        return out

    def bare_loop(self, n: int) -> dict[str, Any]:
        """``n`` steps in a tight loop, no protocol in between: the harness-free time."""
        step, args = self.steps["main"]
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            self._wait("main", step(*args))
            times.append(time.perf_counter() - t0)
        return {"times": times}

    def finish(self) -> dict[str, Any]:
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
                images = self.case.global_batch
                joules = (now - self.joules_at_warm) / (len(times) * images)
        return {
            "joules_per_image": joules,
            "energy_source": getattr(self.energy, "source", "none"),
            "peak_host_rss_mb": peak_rss_mb(),
            "peak_device_mem_mb": self.backend.peak_memory_mb(self.case.device),
            "worker_step_s": times,
            "traces": traces,
        }

    def probe(self) -> dict[str, Any]:
        """The drift probe: a fixed float32 matrix product on the case's device (1024 on
        a CPU, 4096 on a GPU), repeated for about a quarter of a second; GFLOP/s of the
        median repetition.  The same work in every case, so its speed tracks the machine."""
        if self.case is None:
            raise CaseFailure("error", "probe before setup: no device yet")
        device = self.case.device
        n = 4096 if is_gpu(device) else 1024
        first = self.backend.matmul_seconds(device, "float32", n, 3)  # also warms threads and caches
        reps = max(3, min(100, int(0.25 / max(min(first), 1e-6))))
        times = sorted(self.backend.matmul_seconds(device, "float32", n, reps))
        return {"gflops": 2 * n**3 / times[len(times) // 2] / 1e9, "n": n, "reps": reps}

    def peak(self, device: str, precision: str, seconds: float) -> dict[str, Any]:
        """Peak matrix-product rate on ``device`` in the precision's compute dtype."""
        self._check_device(device)
        dtype = COMPUTE_DTYPE[precision]
        n = 8192 if device != "cpu" else 4096
        times = self.backend.matmul_seconds(device, dtype, n, 2)
        reps = max(3, min(50, int(seconds / max(min(times), 1e-6))))
        times = self.backend.matmul_seconds(device, dtype, n, reps)
        return {"tflops": 2 * n**3 / min(times) / 1e12, "n": n, "dtype": dtype, "reps": reps}


def _spec_text(version: str) -> str:
    """What identifies a model's architecture, for the export cache's key."""
    from resnet.specs import VERSIONS, get_spec

    return repr(get_spec(version)) if version in VERSIONS else version


def serve(inp: Any, out: Any) -> None:
    """Answer commands until ``exit`` or end of input."""
    server = WorkerServer()
    for line in inp:
        msg = json.loads(line)
        cmd = msg.get("cmd")
        try:
            if cmd == "start":
                reply = server.start(msg.get("threads"))
            elif cmd == "build":
                reply = server.build(Case.from_dict(msg["case"]))
            elif cmd == "setup":
                reply = server.setup(Case.from_dict(msg["case"]), msg.get("slot", "main"))
            elif cmd == "step":
                reply = {"seconds": server.run_step(msg.get("slot", "main"))}
            elif cmd == "warm":
                reply = server.mark_warm()
            elif cmd == "bare_loop":
                reply = server.bare_loop(int(msg["n"]))
            elif cmd == "finish":
                reply = server.finish()
            elif cmd == "pipeline_setup":
                reply = server.pipeline_setup(
                    msg["pipeline"],
                    msg["stage"],
                    int(msg["workers"]),
                    int(msg["batch"]),
                    msg["device"],
                    msg["size"],
                )
            elif cmd == "synthetic":
                reply = server.synthetic(int(msg["n"]))
            elif cmd == "serve_setup":
                reply = server.serve_setup(Case.from_dict(msg["case"]), msg["settings"])
            elif cmd == "loadgen":
                reply = server.loadgen(msg["scenario"], msg["log_dir"])
            elif cmd == "probe":
                reply = server.probe()
            elif cmd == "peak":
                reply = server.peak(msg["device"], msg["precision"], msg.get("seconds", 2.0))
            elif cmd == "sleep":  # for tests of the runner's time-outs
                time.sleep(float(msg["seconds"]))
                reply = {}
            elif cmd == "raise":  # for tests of how failures are labelled
                error = {"MemoryError": MemoryError, "RuntimeError": RuntimeError}[msg["kind"]]
                raise error(msg.get("message", ""))
            elif cmd == "crash":  # for tests of a worker that dies
                os._exit(int(msg.get("code", 1)))
            elif cmd == "exit":
                out.write(json.dumps({"ok": True}) + "\n")
                out.flush()
                return
            else:
                raise CaseFailure("error", f"unknown command {cmd!r}")
            reply = {"ok": True, **reply}
        except CaseFailure as err:
            reply = {"ok": False, "status": err.status, "reason": err.reason}
        except Exception as err:
            traceback.print_exc(file=sys.stderr)
            status = "oom" if is_out_of_memory(err) else "error"
            reply = {"ok": False, "status": status, "reason": _one_line(err)}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def end_with_parent() -> None:
    """Make sure this worker never outlives the sweep that started it: the kernel sends
    SIGKILL when the parent dies (Linux's parent-death signal), and a watchdog thread
    exits if the process is handed to another parent (any platform)."""
    import ctypes
    import signal
    import threading

    parent = int(os.environ.get("RESNET_BENCH_PARENT_PID") or os.getppid())
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(3)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


def main() -> None:
    """Entry point: keep the protocol on the original stdout, everything else on stderr."""
    end_with_parent()
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin, proto)
    # Every reply is written and every command's files are closed: skip the interpreter's
    # teardown of TensorFlow, JAX or PyTorch (about a second a worker, hundreds per sweep).
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()

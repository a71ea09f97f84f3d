"""The worker process: builds one case's model, compiles its step and runs steps
on command, so that each case has its own process (host memory, thread settings,
precision policy, crashes).

Protocol: one JSON object per line on stdin; one JSON reply per line on the
original stdout (the worker's own stdout and stderr go to stderr).  Replies are
``{"ok": true, ...}`` or ``{"ok": false, "status": "error|oom|skipped", "reason": ...}``.
Started by :class:`resnet.engine.runner.Worker` as ``python -m resnet.engine.worker``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from typing import Any

from resnet.engine.config import BACKEND_JIT, JIT_REASON, PEER_VERSIONS

#: Compute dtype of each precision, for the matrix-product peak probe.
COMPUTE_DTYPE = {"float32": "float32", "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


class CaseError(Exception):
    """A case that cannot run; ``status`` is "skipped", "oom" or "error"."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:300]}" if text else type(err).__name__


def _is_oom(err: BaseException) -> bool:
    text = f"{type(err).__name__} {err}".lower()
    return any(k in text for k in ("resourceexhausted", "out of memory", "oom", "memoryerror"))


def peak_rss_mb() -> float:
    """Peak resident memory of this process, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Session:
    """The state of one worker: the backend, the model and its compiled step."""

    def __init__(self) -> None:
        self.backend: Any = None
        self.case: dict[str, Any] = {}
        self.steps: dict[str, tuple[Any, tuple]] = {}
        self.traces_after_warmup = 0
        self.step_times: list[float] = []
        self.energy: Any = None
        self.joules_at_warm: float | None = None

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
            kind = "GPU" if device.startswith("gpu") else "device"
            raise CaseError(
                "skipped",
                f"no {kind} {device} found by the {self.backend.name} backend (it sees: {', '.join(seen)})",
            )

    def _model(self, case: dict[str, Any]) -> Any:
        import keras

        import resnet

        shape = (case["image_size"], case["image_size"], 3)
        version = case["version"]
        if version.startswith("keras-"):
            # The reference models follow the global policy: this process runs one
            # case only, so setting it here cannot leak into another case.
            keras.config.set_dtype_policy(case["precision"])
            app = {"keras-v1": "ResNet50", "keras-v2": "ResNet50V2"}[version]
            return getattr(keras.applications, app)(weights=None, input_shape=shape)
        return resnet.build(version, input_shape=shape, dtype=case["precision"])

    def _built(self, case: dict[str, Any], scoped: bool = True) -> tuple[Any, dict[str, Any]]:
        """Build the model on the case's device (``scoped``; a distribution strategy
        places it otherwise); returns it with its size and build time."""
        import contextlib

        import resnet

        t0 = time.perf_counter()
        with self.backend.build_scope(case["device"]) if scoped else contextlib.nullcontext():
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

    def build(self, case: dict[str, Any]) -> dict[str, Any]:
        """Build the model once (for build-time cases); returns its size."""
        if case["version"] in PEER_VERSIONS:
            import numpy as np

            s = case["image_size"]
            return self._peer(case, np.zeros((1, s, s, 3), "float32"), np.zeros(1, "int32"))[2]
        return self._built(case)[1]

    def _peer(self, case: dict[str, Any], images: Any, labels: Any) -> tuple:
        """A peer model's ``(step, args, size)`` (resnet/engine/peers.py)."""
        from resnet.engine.peers import PeerUnavailable, build_peer

        if int(case.get("replicas") or 1) > 1:
            raise CaseError(
                "skipped", f"{case['version']} is a single-device peer: --replicas does not apply"
            )
        try:
            return build_peer(case, images, labels)
        except PeerUnavailable as err:
            raise CaseError("skipped", str(err)) from None

    def setup(self, case: dict[str, Any], slot: str = "main") -> dict[str, Any]:
        """Build, place inputs, compile and run the first step (timed as compile_s).

        ``slot`` names the step: a second model ("reference") can live in the same
        process, so that two models are compared under identical conditions."""
        import numpy as np

        if slot == "main":
            self.case = case
        device = case["device"]
        self._check_device(device)
        peer = case["version"] in PEER_VERSIONS
        if case["jit"] not in BACKEND_JIT[self.backend.name] and not peer:
            raise CaseError("skipped", JIT_REASON[(self.backend.name, case["jit"])])
        replicas = int(case.get("replicas") or 1)
        rng = np.random.default_rng(0)
        shape = (case["batch_size"] * replicas, case["image_size"], case["image_size"], 3)
        images = rng.standard_normal(shape, dtype=np.float32)
        labels = rng.integers(0, 1000, shape[0]).astype("int32")
        if peer:
            step, args, size = self._peer(case, images, labels)
        elif replicas > 1 or case.get("strategy", "mirrored") != "mirrored":
            step, args, size, model = self._data_parallel(case, replicas, images, labels)
        else:
            model, size = self._built(case)
            x = self.backend.put(images, device)
            if case["mode"] == "inference":
                step, args = self.backend.inference_step(model, device, case["jit"]), (x,)
            else:
                y = self.backend.put(labels, device)
                self._compile(model, case)
                step, args = self.backend.training_step(model, device, case["jit"], x, y), (x, y)
        self.steps[slot] = (step, args)
        self.backend.reset_peak_memory(device)
        t0 = time.perf_counter()
        out = step(*args)
        self.backend.wait(out)
        compile_s = time.perf_counter() - t0
        placed = self.backend.placement(out)
        want = "CPU" if device == "cpu" else "GPU"
        if want.lower() not in placed.lower() and not (want == "GPU" and "cuda" in placed.lower()):
            raise CaseError("error", f"asked for {device} but the step ran on {placed}")
        return {"compile_s": compile_s, "device_name": placed, **size}

    def _compile(self, model: Any, case: dict[str, Any]) -> None:
        import keras

        optimizer: Any = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        if case["precision"] == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")

    def _data_parallel(self, case: dict[str, Any], replicas: int, images: Any, labels: Any) -> tuple:
        """Model and step under a data-parallel strategy; inputs split per replica."""
        try:
            strategy = self.backend.data_parallel(case["device"], replicas, case.get("strategy", "mirrored"))
        except (NotImplementedError, LookupError) as err:
            raise CaseError("skipped", str(err)) from None
        with strategy.scope():
            model, size = self._built(case, scoped=False)
            if case["mode"] == "training":
                self._compile(model, case)
                model.optimizer.build(model.trainable_variables)
        x = self.backend.distribute_batch(strategy, images, replicas)
        args: tuple = (x,)
        if case["mode"] == "training":
            args = (x, self.backend.distribute_batch(strategy, labels, replicas))
        with strategy.scope():
            step = self.backend.distributed_steps(strategy, model, case["mode"], case["jit"], args)
        if strategy.num_replicas_in_sync != replicas:
            raise CaseError(
                "error", f"asked for {replicas} replicas, the strategy has {strategy.num_replicas_in_sync}"
            )
        size["replicas_in_sync"] = strategy.num_replicas_in_sync
        return step, args, size, model

    # -- steps ----------------------------------------------------------------
    def run_step(self, slot: str = "main") -> float:
        step, args = self.steps[slot]
        t0 = time.perf_counter()
        self.backend.wait(step(*args))
        seconds = time.perf_counter() - t0
        if slot == "main":
            self.step_times.append(seconds)
        return seconds

    def mark_warm(self) -> dict[str, Any]:
        """End of warm-up: later traces are retraces; step times start afresh."""
        from resnet.engine.energy import counter_for

        self.traces_after_warmup = self.backend.trace_count()
        self.step_times = []
        self.energy = counter_for(self.case["device"])
        self.joules_at_warm = self.energy.read()
        return {"traces": self.traces_after_warmup}

    def bare_loop(self, n: int) -> dict[str, Any]:
        """``n`` steps in a tight loop, no protocol in between: the harness-free time."""
        step, args = self.steps["main"]
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            self.backend.wait(step(*args))
            times.append(time.perf_counter() - t0)
        return {"times": times}

    def finish(self) -> dict[str, Any]:
        traces = self.backend.trace_count()
        if traces != self.traces_after_warmup:
            raise CaseError(
                "error",
                f"the step was retraced after warm-up ({self.traces_after_warmup} -> {traces} traces)",
            )
        times = self.step_times
        joules = None
        if self.energy is not None and self.joules_at_warm is not None and times:
            now = self.energy.read()
            if now is not None:
                images = self.case["batch_size"] * int(self.case.get("replicas") or 1)
                joules = (now - self.joules_at_warm) / (len(times) * images)
        return {
            "joules_per_image": joules,
            "energy_source": getattr(self.energy, "source", "none"),
            "peak_host_rss_mb": peak_rss_mb(),
            "peak_device_mem_mb": self.backend.peak_memory_mb(self.case["device"]),
            "worker_step_s": times,
            "traces": traces,
        }

    def peak(self, device: str, precision: str, seconds: float) -> dict[str, Any]:
        """Peak matrix-product rate on ``device`` in the precision's compute dtype."""
        self._check_device(device)
        dtype = COMPUTE_DTYPE[precision]
        n = 8192 if device != "cpu" else 4096
        times = self.backend.matmul_seconds(device, dtype, n, 2)
        reps = max(3, min(50, int(seconds / max(min(times), 1e-6))))
        times = self.backend.matmul_seconds(device, dtype, n, reps)
        return {"tflops": 2 * n**3 / min(times) / 1e12, "n": n, "dtype": dtype, "reps": reps}


def serve(inp: Any, out: Any) -> None:
    """Answer commands until ``exit`` or end of input."""
    session = Session()
    for line in inp:
        msg = json.loads(line)
        cmd = msg.get("cmd")
        try:
            if cmd == "start":
                reply = session.start(msg.get("threads"))
            elif cmd == "build":
                reply = session.build(msg["case"])
            elif cmd == "setup":
                reply = session.setup(msg["case"], msg.get("slot", "main"))
            elif cmd == "step":
                reply = {"seconds": session.run_step(msg.get("slot", "main"))}
            elif cmd == "warm":
                reply = session.mark_warm()
            elif cmd == "bare_loop":
                reply = session.bare_loop(int(msg["n"]))
            elif cmd == "finish":
                reply = session.finish()
            elif cmd == "peak":
                reply = session.peak(msg["device"], msg["precision"], msg.get("seconds", 2.0))
            elif cmd == "sleep":  # for tests of the runner's time-outs
                time.sleep(float(msg["seconds"]))
                reply = {}
            elif cmd == "crash":  # for tests of a worker that dies
                os._exit(int(msg.get("code", 1)))
            elif cmd == "exit":
                out.write(json.dumps({"ok": True}) + "\n")
                out.flush()
                return
            else:
                raise CaseError("error", f"unknown command {cmd!r}")
            reply = {"ok": True, **reply}
        except CaseError as err:
            reply = {"ok": False, "status": err.status, "reason": err.reason}
        except Exception as err:
            traceback.print_exc(file=sys.stderr)
            status = "oom" if _is_oom(err) else "error"
            reply = {"ok": False, "status": status, "reason": _one_line(err)}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def main() -> None:
    """Entry point: keep the protocol on the original stdout, everything else on stderr."""
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin, proto)


if __name__ == "__main__":
    main()

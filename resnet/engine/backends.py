"""What differs per Keras backend, one class each: threads, devices, placing data,
compiled steps, waiting for results, retrace counts, device memory, matmul probes.

Only the worker process imports this module's backend libraries.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from resnet.schema import device_index, is_gpu


class Backend:
    """The interface; one subclass per backend."""

    name = "base"

    def set_threads(self, n: int | None) -> int:
        """Limit compute threads (and CPU affinity) to ``n``; returns threads in use."""
        if n and hasattr(os, "sched_setaffinity"):
            cores = sorted(os.sched_getaffinity(0))[:n]
            os.sched_setaffinity(0, cores)
        return n or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0)

    def devices(self) -> list[str]:
        """Devices this backend sees: ``cpu``, ``gpu:0``, ..."""
        raise NotImplementedError

    def build_scope(self, device: str) -> Any:
        """The scope that creates a model's variables on ``device``."""
        return keras.device("cpu:0" if device == "cpu" else device)

    def put(self, array: np.ndarray, device: str) -> Any:
        """A copy of ``array`` on ``device``."""
        raise NotImplementedError

    def take(self, array: Any, indices: list[int]) -> Any:
        """The rows ``indices`` of an array on the device, gathered on the device."""
        raise NotImplementedError

    def inference_step(self, model: keras.Model, device: str, jit: bool) -> Callable:
        """A compiled ``step(x) -> output`` on ``device``."""
        raise NotImplementedError

    def training_step(self, model: keras.Model, device: str, jit: bool, x: Any, y: Any) -> Callable:
        """A compiled ``step(x, y) -> loss``: forward, loss, backward, optimizer update."""
        raise NotImplementedError

    def wait(self, out: Any) -> None:
        """Block until ``out`` has been computed."""
        raise NotImplementedError

    def data_parallel(self, device: str, replicas: int, strategy: str = "mirrored") -> Any:
        """A data-parallel strategy over ``replicas`` devices: an object with ``scope()``
        (variables created inside are replicated) and ``num_replicas_in_sync``."""
        raise NotImplementedError(
            f"--replicas > 1 is not supported on the {self.name} backend "
            "(Keras's data parallelism exists for TensorFlow and JAX only)"
        )

    def distributed_steps(
        self, strategy: Any, model: keras.Model, mode: str, jit: bool, args: tuple
    ) -> Callable:
        """``step(*args)`` running one data-parallel step of ``mode`` under ``strategy``."""
        raise NotImplementedError

    def distribute_batch(self, strategy: Any, array: np.ndarray, replicas: int) -> Any:
        """``array`` split along the batch, one slice per replica, on its device."""
        raise NotImplementedError

    def placement(self, out: Any) -> str:
        """Where ``out`` was computed, as the backend names it."""
        raise NotImplementedError

    def trace_count(self) -> int:
        """How many times the steps made so far were traced or compiled."""
        return 0

    def reset_peak_memory(self, device: str) -> None:
        """Start a new peak for ``device``'s memory (no-op on CPU)."""

    def peak_memory_mb(self, device: str) -> float | None:
        """Peak device memory since the reset, in MiB; None on CPU."""
        return None

    def matmul_seconds(self, device: str, dtype: str, n: int, reps: int) -> list[float]:
        """Times of ``reps`` n x n x n matrix products in ``dtype`` on ``device``."""
        raise NotImplementedError

    def versions(self) -> dict[str, Any]:
        """Backend library, CUDA and cuDNN versions."""
        return {}


class TensorFlowBackend(Backend):
    """TensorFlow: tf.function steps, tf.device placement."""

    name = "tensorflow"

    def __init__(self) -> None:
        import tensorflow as tf

        self.tf = tf
        self._functions: list[Any] = []

    def set_threads(self, n: int | None) -> int:
        used = super().set_threads(n)
        if n:
            self.tf.config.threading.set_intra_op_parallelism_threads(n)
            self.tf.config.threading.set_inter_op_parallelism_threads(n)
        return used

    def devices(self) -> list[str]:
        gpus = self.tf.config.list_physical_devices("GPU")
        return ["cpu", *(f"gpu:{i}" for i in range(len(gpus)))]

    def _scope(self, device: str) -> Any:
        return self.tf.device(f"/GPU:{device_index(device)}" if is_gpu(device) else "/CPU:0")

    def put(self, array: np.ndarray, device: str) -> Any:
        with self._scope(device):
            return self.tf.identity(self.tf.constant(array))

    def take(self, array: Any, indices: list[int]) -> Any:
        with self.tf.device(array.device):
            return self.tf.gather(array, indices)

    def _function(self, fn: Callable, jit: bool) -> Any:
        f = self.tf.function(fn, jit_compile=jit, reduce_retracing=False, autograph=False)
        self._functions.append(f)
        return f

    def inference_step(self, model: keras.Model, device: str, jit: bool) -> Callable:
        f = self._function(lambda x: model(x, training=False), jit)

        def step(x: Any) -> Any:
            with self._scope(device):
                return f(x)

        return step

    def training_step(self, model: keras.Model, device: str, jit: bool, x: Any, y: Any) -> Callable:
        with self._scope(device):
            model.optimizer.build(model.trainable_variables)
        f = self._function(lambda x, y: model.train_step((x, y))["loss"], jit)

        def step(x: Any, y: Any) -> Any:
            with self._scope(device):
                return f(x, y)

        return step

    def wait(self, out: Any) -> None:
        for t in self._local(out):
            t.numpy()

    def placement(self, out: Any) -> str:
        return ",".join(str(t.device) for t in self._local(out))

    def _local(self, out: Any) -> list:
        """Every tensor of ``out``; per-replica values give one tensor per replica."""
        tf = self.tf
        flat = []
        for item in tf.nest.flatten(out):
            if isinstance(item, tf.distribute.DistributedValues):
                flat.extend(item.values)
            else:
                flat.append(item)
        return flat

    def data_parallel(self, device: str, replicas: int, strategy: str = "mirrored") -> Any:
        """MirroredStrategy over ``replicas`` logical CPUs (the CPU split before TensorFlow
        starts) or over GPUs ``device``, ``device+1``, ...; or MultiWorkerMirroredStrategy
        over the workers of TF_CONFIG (one replica each, on ``device``)."""
        tf = self.tf
        if strategy == "multiworker":
            options = tf.distribute.experimental.CommunicationOptions(
                implementation=tf.distribute.experimental.CommunicationImplementation.RING,
                timeout_seconds=120,
            )
            return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        if device == "cpu":
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)]
            )
            names = [f"/cpu:{i}" for i in range(replicas)]
            ops = tf.distribute.ReductionToOneDevice()
        else:
            first = device_index(device)
            count = len(tf.config.list_physical_devices("GPU"))
            if first + replicas > count:
                raise LookupError(
                    f"{replicas} replicas from {device} need {first + replicas} GPUs; found {count}"
                )
            names = [f"/gpu:{first + i}" for i in range(replicas)]
            ops = None
        return tf.distribute.MirroredStrategy(devices=names, cross_device_ops=ops)

    def distributed_steps(
        self, strategy: Any, model: keras.Model, mode: str, jit: bool, args: tuple
    ) -> Callable:
        if mode == "inference":
            inner = lambda x: model(x, training=False)  # noqa: E731
        else:
            inner = lambda x, y: model.train_step((x, y))["loss"]  # noqa: E731
        f = self._function(lambda *args: strategy.run(inner, args=args), jit)
        return lambda *args: f(*args)

    def distribute_batch(self, strategy: Any, array: np.ndarray, replicas: int) -> Any:
        per = len(array) // replicas
        return strategy.experimental_distribute_values_from_function(
            lambda ctx: self.tf.constant(
                array[ctx.replica_id_in_sync_group * per : (ctx.replica_id_in_sync_group + 1) * per]
            )
        )

    def trace_count(self) -> int:
        return sum(int(f.experimental_get_tracing_count()) for f in self._functions)

    def _tf_device(self, device: str) -> str:
        return f"GPU:{device_index(device)}"

    def reset_peak_memory(self, device: str) -> None:
        if device != "cpu":
            self.tf.config.experimental.reset_memory_stats(self._tf_device(device))

    def peak_memory_mb(self, device: str) -> float | None:
        if device == "cpu":
            return None
        info = self.tf.config.experimental.get_memory_info(self._tf_device(device))
        return info["peak"] / 2**20

    def matmul_seconds(self, device: str, dtype: str, n: int, reps: int) -> list[float]:
        tf = self.tf
        with self._scope(device):
            a = tf.cast(tf.random.normal((n, n)), dtype)
            b = tf.cast(tf.random.normal((n, n)), dtype)
            f = tf.function(lambda a, b: tf.matmul(a, b), autograph=False)
            f(a, b).numpy()
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                f(a, b)[0, 0].numpy()
                times.append(time.perf_counter() - t0)
        return times

    def versions(self) -> dict[str, Any]:
        info = dict(self.tf.sysconfig.get_build_info())
        return {
            "tensorflow": self.tf.__version__,
            "cuda": info.get("cuda_version"),
            "cudnn": info.get("cudnn_version"),
            "tf_intra_op_threads": self.tf.config.threading.get_intra_op_parallelism_threads(),
            "tf_inter_op_threads": self.tf.config.threading.get_inter_op_parallelism_threads(),
        }


class JaxBackend(Backend):
    """JAX: jax.jit over Keras's stateless calls, state donated between steps."""

    name = "jax"

    def __init__(self) -> None:
        import jax

        self.jax = jax
        self._jitted: list[Any] = []

    def set_threads(self, n: int | None) -> int:
        # XLA's CPU thread pool is sized when JAX starts: the worker sets XLA_FLAGS
        # before importing it (see worker.py); affinity does the rest.
        return super().set_threads(n)

    def _device(self, device: str) -> Any:
        if device == "cpu":
            return self.jax.devices("cpu")[0]
        return self.jax.devices("gpu")[device_index(device)]

    def devices(self) -> list[str]:
        try:
            gpus = self.jax.devices("gpu")
        except RuntimeError:
            gpus = []
        return ["cpu", *(f"gpu:{i}" for i in range(len(gpus)))]

    def put(self, array: np.ndarray, device: str) -> Any:
        return self.jax.device_put(array, self._device(device))

    def take(self, array: Any, indices: list[int]) -> Any:
        return self.jax.numpy.take(array, self.jax.numpy.asarray(indices), axis=0)

    def _state(self, variables: list, device: str, place: bool = True) -> list:
        if not place:  # already laid out by a distribution
            return [v.value for v in variables]
        return [self.jax.device_put(v.value, self._device(device)) for v in variables]

    def inference_step(self, model: keras.Model, device: str, jit: bool, place: bool = True) -> Callable:
        tv = self._state(model.trainable_variables, device, place)
        ntv = self._state(model.non_trainable_variables, device, place)
        fn = self.jax.jit(lambda tv, ntv, x: model.stateless_call(tv, ntv, x, training=False)[0])
        self._jitted.append(fn)
        return lambda x: fn(tv, ntv, x)

    def training_step(
        self, model: keras.Model, device: str, jit: bool, x: Any, y: Any, place: bool = True
    ) -> Callable:
        model._symbolic_build(data_batch=(x, y, None))
        state = [
            tuple(
                self._state(vs, device, place)
                for vs in (
                    model.trainable_variables,
                    model.non_trainable_variables,
                    model.optimizer.variables,
                    model.metrics_variables,
                )
            )
        ]
        out_shardings = None
        if not place:
            # As Keras's own trainer does: state keeps its layout from step to step,
            # so the step is compiled once.
            spec = model._get_state_sharding_spec()
            state[0] = self.jax.device_put(state[0], spec)
            out_shardings = (None, spec)
        fn = self.jax.jit(model.train_step, donate_argnums=0, out_shardings=out_shardings)
        self._jitted.append(fn)

        def step(x: Any, y: Any) -> Any:
            logs, state[0] = fn(state[0], (x, y))
            return logs["loss"]

        return step

    def wait(self, out: Any) -> None:
        self.jax.block_until_ready(out)

    def data_parallel(self, device: str, replicas: int, strategy: str = "mirrored") -> Any:
        """keras.distribution.DataParallel over ``replicas`` devices: CPU devices (the
        worker starts JAX with that many host devices) or GPUs ``device``, ``device+1``, ..."""
        if strategy != "mirrored":
            raise NotImplementedError(
                f"--strategy {strategy} is TensorFlow's; on JAX use --strategy mirrored "
                "(keras.distribution.DataParallel over local devices)"
            )
        kind, first = ("gpu" if is_gpu(device) else "cpu"), device_index(device)
        found = self.jax.devices(kind)
        if first + replicas > len(found):
            raise LookupError(
                f"{replicas} replicas from {device} need {first + replicas} {kind.upper()} devices; "
                f"JAX sees {len(found)}"
            )
        distribution = keras.distribution.DataParallel(devices=found[first : first + replicas])
        # One case per worker process, so a global setting cannot leak into another case.
        keras.distribution.set_distribution(distribution)
        return _JaxDataParallel(distribution, replicas)

    def distribute_batch(self, strategy: Any, array: np.ndarray, replicas: int) -> Any:
        layout = strategy.distribution.get_data_layout(array.shape).backend_layout
        return self.jax.device_put(array, layout)

    def distributed_steps(
        self, strategy: Any, model: keras.Model, mode: str, jit: bool, args: tuple
    ) -> Callable:
        # Variables were created replicated under the distribution; the batch is sharded
        # along "batch", so XLA partitions each step and all-reduces the gradients.
        if mode == "inference":
            return self.inference_step(model, "", jit, place=False)
        return self.training_step(model, "", jit, *args, place=False)

    def placement(self, out: Any) -> str:
        leaf = self.jax.tree_util.tree_leaves(out)[0]
        return ",".join(str(d) for d in leaf.devices())

    def trace_count(self) -> int:
        return sum(int(f._cache_size()) for f in self._jitted)

    def peak_memory_mb(self, device: str) -> float | None:
        if device == "cpu":
            return None
        stats = self._device(device).memory_stats() or {}
        peak = stats.get("peak_bytes_in_use")
        return None if peak is None else peak / 2**20

    def matmul_seconds(self, device: str, dtype: str, n: int, reps: int) -> list[float]:
        jnp = self.jax.numpy
        key = self.jax.random.PRNGKey(0)
        dev = self._device(device)
        a = self.jax.device_put(self.jax.random.normal(key, (n, n)).astype(dtype), dev)
        b = self.jax.device_put(self.jax.random.normal(key, (n, n)).astype(dtype), dev)
        f = self.jax.jit(jnp.matmul)
        f(a, b).block_until_ready()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            f(a, b).block_until_ready()
            times.append(time.perf_counter() - t0)
        return times

    def versions(self) -> dict[str, Any]:
        import jaxlib

        return {"jax": self.jax.__version__, "jaxlib": jaxlib.__version__}


class _JaxDataParallel:
    """A keras.distribution.DataParallel seen through the strategy interface the worker uses."""

    def __init__(self, distribution: Any, replicas: int) -> None:
        self.distribution = distribution
        self.num_replicas_in_sync = replicas

    def scope(self) -> Any:
        return self.distribution.scope()


class TorchBackend(Backend):
    """PyTorch: Keras's eager torch layers; CUDA synchronize to wait."""

    name = "torch"

    def __init__(self) -> None:
        import torch

        self.torch = torch

    def set_threads(self, n: int | None) -> int:
        used = super().set_threads(n)
        if n:
            self.torch.set_num_threads(n)
        return used

    def devices(self) -> list[str]:
        n = self.torch.cuda.device_count() if self.torch.cuda.is_available() else 0
        return ["cpu", *(f"gpu:{i}" for i in range(n))]

    def _device(self, device: str) -> str:
        return f"cuda:{device_index(device)}" if is_gpu(device) else "cpu"

    def build_scope(self, device: str) -> Any:
        # Variables built under keras.device() lose their gradients on the torch
        # backend (Keras 3.15): build where torch puts them by default (the first
        # GPU if there is one), and let the placement check catch a mismatch.
        import contextlib

        return contextlib.nullcontext()

    def put(self, array: np.ndarray, device: str) -> Any:
        return self.torch.as_tensor(array, device=self._device(device))

    def take(self, array: Any, indices: list[int]) -> Any:
        return array.index_select(0, self.torch.as_tensor(indices, device=array.device))

    def inference_step(self, model: keras.Model, device: str, jit: bool) -> Callable:
        torch = self.torch

        def step(x: Any) -> Any:
            with torch.no_grad():
                return model(x, training=False)

        return step

    def training_step(self, model: keras.Model, device: str, jit: bool, x: Any, y: Any) -> Callable:
        model._symbolic_build(data_batch=(x, y, None))
        return lambda x, y: model.train_step((x, y))["loss"]

    def wait(self, out: Any) -> None:
        if self.torch.cuda.is_available():
            self.torch.cuda.synchronize()
        for t in keras.tree.flatten(out):
            if hasattr(t, "detach"):
                t.detach().cpu()

    def placement(self, out: Any) -> str:
        leaf = keras.tree.flatten(out)[0]
        return str(getattr(leaf, "device", "cpu"))

    def trace_count(self) -> int:
        # Keras models run eagerly here; a torch.compile'd peer counts its graphs.
        from resnet.engine.peers import compiled_graphs

        return compiled_graphs()

    def reset_peak_memory(self, device: str) -> None:
        if device != "cpu":
            self.torch.cuda.reset_peak_memory_stats(self._device(device))

    def peak_memory_mb(self, device: str) -> float | None:
        if device == "cpu":
            return None
        return self.torch.cuda.max_memory_allocated(self._device(device)) / 2**20

    def matmul_seconds(self, device: str, dtype: str, n: int, reps: int) -> list[float]:
        torch = self.torch
        dt = getattr(torch, dtype)
        a = torch.randn(n, n, device=self._device(device)).to(dt)
        b = torch.randn(n, n, device=self._device(device)).to(dt)
        times = []
        for i in range(reps + 1):
            t0 = time.perf_counter()
            c = a @ b
            self.wait(c)
            if i:
                times.append(time.perf_counter() - t0)
        return times

    def versions(self) -> dict[str, Any]:
        from importlib import metadata

        try:
            vision = metadata.version("torchvision")  # the peer row's library, without importing it
        except metadata.PackageNotFoundError:
            vision = None
        return {"torch": self.torch.__version__, "cuda": self.torch.version.cuda, "torchvision": vision}


BACKEND_CLASSES: dict[str, type[Backend]] = {
    "tensorflow": TensorFlowBackend,
    "jax": JaxBackend,
    "torch": TorchBackend,
}


def get_backend() -> Backend:
    """The implementation for the backend Keras was started with."""
    return BACKEND_CLASSES[keras.backend.backend()]()

"""TensorFlow: tf.function steps (XLA with jit on), tf.device placement."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from resnet.engine.backends.base import Backend
from resnet.schema import device_index, is_gpu


class TensorFlowBackend(Backend):
    """TensorFlow: tf.function steps, tf.device placement."""

    name = "tensorflow"

    def __init__(self) -> None:
        import tensorflow as tf

        self.tf = tf
        self._functions: list[Any] = []
        self._matmuls: dict[tuple, Any] = {}

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
            key = (device, dtype, n)
            if key not in self._matmuls:  # traced once: a probe between steps retraces nothing
                a = tf.cast(tf.random.normal((n, n)), dtype)
                b = tf.cast(tf.random.normal((n, n)), dtype)
                f = tf.function(lambda a, b: tf.matmul(a, b), autograph=False)
                f(a, b).numpy()
                self._matmuls[key] = (f, a, b)
            f, a, b = self._matmuls[key]
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

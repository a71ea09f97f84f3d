"""JAX: jax.jit over Keras's stateless steps (always XLA), state donated between steps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from resnet.engine.backends.base import Backend
from resnet.schema import device_index, is_gpu


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

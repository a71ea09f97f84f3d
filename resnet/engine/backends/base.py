"""The interface every Keras backend implements (resnet.engine.backends has one module
per backend): threads, devices, placing data, compiled steps, waiting for results,
retrace counts, device memory, matmul probes."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import numpy as np


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
        import keras

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

"""PyTorch: Keras's eager torch layers; CUDA synchronize to wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from resnet.engine.backends.base import Backend
from resnet.schema import device_index, is_gpu


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


def compiled_graphs() -> int:
    """Graphs torch.compile has compiled in this process (0 if it never ran)."""
    import sys

    dynamo = sys.modules.get("torch._dynamo.utils")
    if dynamo is None:
        return 0
    return int(dynamo.counters["stats"].get("unique_graphs", 0))

"""What differs per Keras backend, one module each (tensorflow, jax, torch) over one
interface (base): threads, devices, placing data, compiled steps, waiting for results,
retrace counts, device memory, matmul probes.

Only the worker process imports the backend libraries; importing this package does not.
"""

from __future__ import annotations

import importlib

from resnet.engine.backends.base import Backend

#: The jit (XLA) settings each backend can run; the first is its default.
BACKEND_JIT: dict[str, tuple[bool, ...]] = {"tensorflow": (False, True), "jax": (True,), "torch": (False,)}
JIT_REASON = {
    ("jax", False): "JAX steps are always XLA-compiled: jit=off does not apply to the jax backend",
    ("torch", True): "jit=on (torch.compile) is not supported for Keras models on the torch backend: Keras "
    "runs them eagerly (the torchvision-resnet50 peer does run under torch.compile)",
}
#: The class of each backend, by module.
BACKEND_CLASSES = {"tensorflow": "TensorFlowBackend", "jax": "JaxBackend", "torch": "TorchBackend"}


def get_backend() -> Backend:
    """The implementation for the backend Keras was started with."""
    import keras

    name = keras.backend.backend()
    module = importlib.import_module(f"resnet.engine.backends.{name}")
    return getattr(module, BACKEND_CLASSES[name])()


__all__ = ["BACKEND_JIT", "JIT_REASON", "Backend", "get_backend"]

"""A process holding only a deployment runtime, its compiled model and its inputs, for the
runtime's own memory: ``python -m resnet.engine.kinds.runtime_host SPEC`` (SPEC a JSON
object: runtime, path, precision, threads, config, batch, size).

A runtime case is timed in a worker that also holds TensorFlow and the Keras model it
exported and checked parity against (resnet.engine.kinds.runtimes); its resident memory
says more about TensorFlow than about the runtime.  This process imports NumPy and the
runtime only, loads the model file the case ran, runs its step WARM_STEPS times on a batch
like the case's, and prints one JSON line: its peak resident memory, the same before the
model was loaded (the interpreter, NumPy and the runtime's libraries), and whether any
framework was loaded after all (it must not be).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

#: Steps run before the peak is read: a runtime allocates its buffers on the first runs.
WARM_STEPS = 3
#: Modules whose presence would make the figure more than the runtime's.
FRAMEWORKS = ("tensorflow", "keras", "torch", "jax")


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Load and run the model as the spec says; the memory figures (MiB)."""
    from resnet.engine.kinds.runtimes import load, require
    from resnet.engine.worker.core import peak_rss_mb

    require(spec["runtime"], exporter=False)
    before = peak_rss_mb()
    step, _, info = load(spec["runtime"], Path(spec["path"]), spec["precision"], spec.get("threads"), "cpu",
                         spec.get("config", "latency"))  # fmt: skip
    size = int(spec["size"])
    x = np.random.default_rng(0).standard_normal((int(spec["batch"]), size, size, 3), dtype=np.float32)
    for _ in range(WARM_STEPS):
        step(x)
    return {
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": before,
        "frameworks_loaded": [name for name in FRAMEWORKS if name in sys.modules],
        "requests": info["requests"],
    }


def main(argv: list[str]) -> int:
    """Measure the spec given as the one argument; print the figures as one JSON line."""
    print(json.dumps(measure(json.loads(argv[0]))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""ResNet v1, v1.5 and v2 as one Keras 3 family, and the tools that measure them.

The model API is imported lazily, so that the benchmark's parent process and the
command-line tools do not start a deep-learning backend they do not need.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "build": "resnet.builder",
    "feature_info": "resnet.builder",
    "OUTPUTS": "resnet.builder",
    "DTYPES": "resnet.builder",
    "PRECISIONS": "resnet.schema",
    "count_params": "resnet.counting",
    "count_flops": "resnet.counting",
    "FlopCount": "resnet.counting",
    "ParamCount": "resnet.counting",
    "DEPTHS": "resnet.specs",
    "KERAS_V2_LAYOUT": "resnet.specs",
    "VERSIONS": "resnet.specs",
    "ResNetSpec": "resnet.specs",
    "get_spec": "resnet.specs",
    "versions": "resnet.specs",
    "copy_weights": "resnet.weights",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'resnet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

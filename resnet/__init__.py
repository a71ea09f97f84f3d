"""ResNet v1, v1.5 and v2 as one Keras 3 family, and the tools that measure them."""

from resnet.builder import OUTPUTS, PRECISIONS, build, feature_info
from resnet.counting import FlopCount, ParamCount, count_flops, count_params
from resnet.specs import DEPTHS, KERAS_V2_LAYOUT, VERSIONS, ResNetSpec, get_spec, versions
from resnet.weights import copy_weights

__version__ = "0.1.0"

__all__ = [
    "DEPTHS",
    "KERAS_V2_LAYOUT",
    "OUTPUTS",
    "PRECISIONS",
    "VERSIONS",
    "FlopCount",
    "ParamCount",
    "ResNetSpec",
    "build",
    "copy_weights",
    "count_flops",
    "count_params",
    "feature_info",
    "get_spec",
    "versions",
]

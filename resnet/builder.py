"""One builder for every ResNet spec: stem, four convolutional groups, head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import layers

from resnet.blocks import Layers, group
from resnet.schema import PRECISIONS
from resnet.specs import GROUP_FILTERS, ResNetSpec, get_spec

OUTPUTS = ("predictions", "features", "pyramid")
POOLINGS = (None, "avg", "max")
#: What ``build(dtype=...)`` takes: the benchmark's precisions (resnet.schema.PRECISIONS: float32
#: and the mixed policies) and the plain low-precision dtypes.
DTYPES = (*PRECISIONS, "bfloat16", "float16")
MIN_INPUT = 32
PYRAMID_LEVELS = ("C2", "C3", "C4", "C5")


def feature_info(version: str | ResNetSpec = "v1.5", depth: int = 50) -> dict[str, dict[str, int]]:
    """Channels and stride of each pyramid level (C2..C5) of a version."""
    spec = get_spec(version, depth)
    return {
        level: {"channels": c, "stride": s}
        for level, c, s in zip(PYRAMID_LEVELS, spec.group_channels(), spec.group_strides(), strict=True)
    }


def _group_downsampling(spec: ResNetSpec) -> tuple[int, int, int, int]:
    """The stride each group applies (the stem already divides by 4)."""
    return (1, 2, 2, 2) if spec.stride_in_group == "first" else (2, 2, 2, 1)


def _check_input_shape(input_shape: Sequence[Any]) -> tuple[Any, ...]:
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[2] is None:
        raise ValueError(f"input_shape {shape!r} must be (height, width, channels) with channels set")
    for side in shape[:2]:
        if side is not None and (not isinstance(side, int) or side < MIN_INPUT):
            raise ValueError(
                f"input_shape {shape!r} is too small: height and width must be at least {MIN_INPUT} (or None)"
            )
    return shape


def _check_dtype(dtype: Any) -> Any:
    if dtype is None or isinstance(dtype, keras.DTypePolicy):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; valid dtypes: {', '.join(DTYPES)}")
    return keras.DTypePolicy(dtype)


def build(
    version: str | ResNetSpec = "v1.5",
    *,
    depth: int = 50,
    input_shape: Sequence[Any] = (224, 224, 3),
    include_top: bool = True,
    classes: int = 1000,
    pooling: str | None = None,
    classifier_activation: str | None = "softmax",
    outputs: str = "predictions",
    dtype: str | keras.DTypePolicy | None = None,
    weights: str | None = None,
    name: str | None = None,
) -> keras.Model:
    """Build a ResNet as a Keras functional model.

    Args:
        version: "v1", "v1.5", "v2" (see :func:`resnet.versions`) or a ResNetSpec.
        depth: 18, 34, 50, 101 or 152.
        input_shape: (height, width, channels); height and width at least 32 or None.
        include_top: end in the classifier (with ``outputs="predictions"``).
        classes: classifier width.
        pooling: without the top, None (the last feature map), "avg" or "max".
        classifier_activation: activation of the classifier (None for logits).
        outputs: "predictions", "features" (the pooled vector) or "pyramid" (a
            dict of the group outputs C2..C5, see :func:`feature_info`).
        dtype: a dtype policy name for this model only ("float32",
            "mixed_float16", "mixed_bfloat16"); None follows the global policy.
            Under a mixed policy the outputs are float32.
        weights: None, a weights file saved from keras.applications ResNet50/V2
            (or 101/152), or "imagenet" (downloads through keras.applications).
        name: the model's name (default ``resnet50_v1_5`` and so on).
    """
    spec = get_spec(version, depth)
    shape = _check_input_shape(input_shape)
    if outputs not in OUTPUTS:
        raise ValueError(f"unknown outputs {outputs!r}; valid outputs: {', '.join(OUTPUTS)}")
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; valid poolings: None, 'avg', 'max'")
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"classes must be a positive integer, got {classes!r}")
    policy = _check_dtype(dtype)
    L = Layers(spec, policy)

    inputs = keras.Input(shape=shape, name="input_layer")
    x = layers.ZeroPadding2D(3, name="conv1_pad", dtype=policy)(inputs)
    x = L.conv(x, 64, 7, 2, "conv1_conv", before_bn=not spec.preact)
    if not spec.preact:
        x = L.relu(L.bn(x, "conv1_bn"), "conv1_relu")
    x = layers.ZeroPadding2D(1, name="pool1_pad", dtype=policy)(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool", dtype=policy)(x)

    pyramid = {}
    for i, (filters, blocks, stride) in enumerate(
        zip(GROUP_FILTERS, spec.blocks, _group_downsampling(spec), strict=True)
    ):
        x = group(L, x, i + 2, filters, blocks, stride)
        pyramid[PYRAMID_LEVELS[i]] = x
    if spec.preact:
        x = L.relu(L.bn(x, "post_bn"), "post_relu")

    float32 = "float32"
    if outputs == "pyramid":
        out: Any = {
            k: layers.Activation("linear", dtype=float32, name=f"{k}_out")(v) for k, v in pyramid.items()
        }
    elif outputs == "features":
        out = layers.GlobalAveragePooling2D(name="avg_pool", dtype=float32)(x)
    elif include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool", dtype=policy)(x)
        # The classifier runs in float32: softmax in half precision loses mass.
        out = layers.Dense(classes, activation=classifier_activation, name="predictions", dtype=float32)(x)
    elif pooling == "avg":
        out = layers.GlobalAveragePooling2D(name="avg_pool", dtype=float32)(x)
    elif pooling == "max":
        out = layers.GlobalMaxPooling2D(name="max_pool", dtype=float32)(x)
    else:
        out = layers.Activation("linear", dtype=float32, name="feature_map")(x)

    default_name = f"resnet{spec.depth}_{spec.version.replace('.', '_').replace('-', '_')}"
    model = keras.Model(inputs, out, name=name or default_name)
    if weights is not None:
        from resnet.weights import load_weights

        load_weights(model, spec, weights)
    return model

"""Parameter and multiply-accumulate counts, read off the layers of a built model."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import keras


class ParamCount(NamedTuple):
    """Trainable, non-trainable and total parameters."""

    trainable: int
    non_trainable: int
    total: int


def count_params(model: keras.Model) -> ParamCount:
    """Count a model's parameters (batch-norm statistics are non-trainable)."""
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    non_trainable = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    return ParamCount(int(trainable), int(non_trainable), int(trainable + non_trainable))


@dataclass(frozen=True)
class FlopCount:
    """Multiply-accumulates of one forward pass for one image.

    ``macs`` counts convolutions and dense layers (what papers and torchvision
    quote as "FLOPs"); ``other`` lists, per layer class, the output elements of
    the layers not counted (normalization, activations, additions, pooling).
    """

    macs: int
    conv_macs: int
    dense_macs: int
    other: dict[str, int] = field(default_factory=dict)

    @property
    def gmacs(self) -> float:
        """``macs`` in units of 10^9."""
        return self.macs / 1e9

    @property
    def gflops(self) -> float:
        """Floating-point operations, counting a multiply-accumulate as two."""
        return 2 * self.macs / 1e9


def _elements(shape: tuple) -> int:
    dims = [d for d in shape[1:]]
    if any(d is None for d in dims):
        raise ValueError(
            f"count_flops needs a model built for a fixed input size; got an output shape {shape}"
        )
    return math.prod(dims)


def count_flops(model: keras.Model) -> FlopCount:
    """Count multiply-accumulates per image of one forward pass of ``model``."""
    conv = dense = 0
    other: dict[str, int] = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        out_shape = tuple(layer.output.shape)
        if isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            cin = int(layer.input.shape[-1]) // layer.groups
            conv += _elements(out_shape) * kh * kw * cin
        elif isinstance(layer, keras.layers.Dense):
            dense += int(layer.input.shape[-1]) * int(layer.units)
        else:
            name = type(layer).__name__
            other[name] = other.get(name, 0) + _elements(out_shape)
    return FlopCount(macs=conv + dense, conv_macs=conv, dense_macs=dense, other=other)

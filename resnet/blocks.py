"""Residual blocks, chosen from a spec.

Each function takes the tensor, the block's first-conv filters, its stride and a
layer-name prefix (``conv3_block1``), and adds layers named as keras.applications
names them (``conv3_block1_2_conv``), so weight files map across by name.

``L`` is a :class:`Layers` factory that carries the spec and the dtype policy into
every layer, so a model's precision never depends on the global policy.
"""

from __future__ import annotations

from typing import Any

from keras import layers

from resnet.specs import ResNetSpec


class Layers:
    """Builds the few layer kinds a ResNet uses, with one spec and one dtype policy."""

    def __init__(self, spec: ResNetSpec, dtype: Any = None) -> None:
        self.spec = spec
        self.dtype = dtype

    def conv(self, x: Any, filters: int, kernel: int, stride: int, name: str, *, before_bn: bool) -> Any:
        """A convolution; 3x3 convs pad by one pixel on each side when they must."""
        use_bias = self.spec.conv_bias or not before_bn
        padding = "valid"
        if kernel == 3:
            if stride > 1 or self.spec.explicit_pad:
                # "same" pads stride-2 convs asymmetrically; pad symmetrically.
                x = layers.ZeroPadding2D(1, name=f"{name[:-5]}_pad", dtype=self.dtype)(x)
            else:
                padding = "same"
        return layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding=padding,
            use_bias=use_bias,
            name=name,
            dtype=self.dtype,
        )(x)

    def bn(self, x: Any, name: str) -> Any:
        """Batch normalization over the channel axis."""
        return layers.BatchNormalization(axis=-1, epsilon=self.spec.bn_epsilon, name=name, dtype=self.dtype)(
            x
        )

    def relu(self, x: Any, name: str) -> Any:
        """ReLU activation."""
        return layers.ReLU(name=name, dtype=self.dtype)(x)

    def add(self, a: Any, b: Any, name: str) -> Any:
        """Element-wise sum of the shortcut and the residual branch."""
        return layers.Add(name=name, dtype=self.dtype)([a, b])

    def subsample(self, x: Any, stride: int, name: str) -> Any:
        """A strided 1x1 max-pool: keras.applications v2's identity shortcut."""
        return layers.MaxPooling2D(1, strides=stride, name=name, dtype=self.dtype)(x)


def _channels(x: Any) -> int:
    return int(x.shape[-1])


def _shortcut(L: Layers, x: Any, out_channels: int, stride: int, name: str, *, bn: bool) -> Any:
    """Projection when the channels change, subsampling when only the size does."""
    if _channels(x) != out_channels:
        s = L.conv(x, out_channels, 1, stride, f"{name}_0_conv", before_bn=bn)
        return L.bn(s, f"{name}_0_bn") if bn else s
    if stride > 1:
        return L.subsample(x, stride, f"{name}_0_pool")
    return x


def bottleneck_v1(L: Layers, x: Any, filters: int, stride: int, name: str) -> Any:
    """Post-activation bottleneck (v1 and v1.5): 1x1, 3x3, 1x1, add, ReLU."""
    s1, s3 = (stride, 1) if L.spec.stride_in_block == "1x1" else (1, stride)
    shortcut = _shortcut(L, x, 4 * filters, stride, name, bn=True)
    x = L.conv(x, filters, 1, s1, f"{name}_1_conv", before_bn=True)
    x = L.relu(L.bn(x, f"{name}_1_bn"), f"{name}_1_relu")
    x = L.conv(x, filters, 3, s3, f"{name}_2_conv", before_bn=True)
    x = L.relu(L.bn(x, f"{name}_2_bn"), f"{name}_2_relu")
    x = L.conv(x, 4 * filters, 1, 1, f"{name}_3_conv", before_bn=True)
    x = L.bn(x, f"{name}_3_bn")
    x = L.add(shortcut, x, f"{name}_add")
    return L.relu(x, f"{name}_out")


def bottleneck_v2(L: Layers, x: Any, filters: int, stride: int, name: str) -> Any:
    """Pre-activation bottleneck (v2): BN-ReLU, then 1x1, 3x3, 1x1; projection from
    the pre-activated input."""
    s1, s3 = (stride, 1) if L.spec.stride_in_block == "1x1" else (1, stride)
    preact = L.relu(L.bn(x, f"{name}_preact_bn"), f"{name}_preact_relu")
    source = preact if _channels(x) != 4 * filters else x
    shortcut = _shortcut(L, source, 4 * filters, stride, name, bn=False)
    x = L.conv(preact, filters, 1, s1, f"{name}_1_conv", before_bn=True)
    x = L.relu(L.bn(x, f"{name}_1_bn"), f"{name}_1_relu")
    x = L.conv(x, filters, 3, s3, f"{name}_2_conv", before_bn=True)
    x = L.relu(L.bn(x, f"{name}_2_bn"), f"{name}_2_relu")
    x = L.conv(x, 4 * filters, 1, 1, f"{name}_3_conv", before_bn=False)
    return L.add(shortcut, x, f"{name}_out")


def basic_v1(L: Layers, x: Any, filters: int, stride: int, name: str) -> Any:
    """Post-activation basic block (depth 18/34): 3x3, 3x3, add, ReLU."""
    shortcut = _shortcut(L, x, filters, stride, name, bn=True)
    x = L.conv(x, filters, 3, stride, f"{name}_1_conv", before_bn=True)
    x = L.relu(L.bn(x, f"{name}_1_bn"), f"{name}_1_relu")
    x = L.conv(x, filters, 3, 1, f"{name}_2_conv", before_bn=True)
    x = L.bn(x, f"{name}_2_bn")
    x = L.add(shortcut, x, f"{name}_add")
    return L.relu(x, f"{name}_out")


def basic_v2(L: Layers, x: Any, filters: int, stride: int, name: str) -> Any:
    """Pre-activation basic block (depth 18/34)."""
    preact = L.relu(L.bn(x, f"{name}_preact_bn"), f"{name}_preact_relu")
    source = preact if _channels(x) != filters else x
    shortcut = _shortcut(L, source, filters, stride, name, bn=False)
    x = L.conv(preact, filters, 3, stride, f"{name}_1_conv", before_bn=True)
    x = L.relu(L.bn(x, f"{name}_1_bn"), f"{name}_1_relu")
    x = L.conv(x, filters, 3, 1, f"{name}_2_conv", before_bn=False)
    return L.add(shortcut, x, f"{name}_out")


def block_fn(spec: ResNetSpec):
    """The block function a spec calls for."""
    table = {
        ("bottleneck", False): bottleneck_v1,
        ("bottleneck", True): bottleneck_v2,
        ("basic", False): basic_v1,
        ("basic", True): basic_v2,
    }
    return table[(spec.block, spec.preact)]


def group(L: Layers, x: Any, index: int, filters: int, blocks: int, stride: int) -> Any:
    """A convolutional group ``conv{index}``: ``blocks`` blocks of one configuration,
    downsampling by ``stride`` in its first or last block, as the spec says."""
    fn = block_fn(L.spec)
    where = 1 if L.spec.stride_in_group == "first" else blocks
    for b in range(1, blocks + 1):
        x = fn(L, x, filters, stride if b == where else 1, f"conv{index}_block{b}")
    return x

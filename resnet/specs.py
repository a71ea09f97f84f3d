"""Frozen descriptions of the ResNet versions: what the builder reads, nothing else.

A :class:`ResNetSpec` says where the downsampling stride sits (in the block and in
the group), whether the blocks are pre-activation (v2), which convolutions carry a
bias, and how many blocks each convolutional group holds.  One builder turns any
spec into a Keras model, so v1, v1.5 and v2 are three specs, not three copies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

BlockKind = Literal["basic", "bottleneck"]

#: depth -> (block kind, blocks per group).  Filters double from group to group.
DEPTHS: dict[int, tuple[BlockKind, tuple[int, int, int, int]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
}

#: Filters of the first convolution of a block, per group (conv2 .. conv5).
GROUP_FILTERS = (64, 128, 256, 512)


@dataclass(frozen=True)
class ResNetSpec:
    """Everything that tells one ResNet version from another.

    Attributes:
        version: short name ("v1", "v1.5", "v2").
        description: one line for listings.
        preact: pre-activation blocks (batch norm and ReLU before each conv), v2.
        stride_in_block: which convolution of a bottleneck block downsamples:
            "1x1" (the first, v1) or "3x3" (the middle one, v1.5 and v2).
        stride_in_group: which block of a group downsamples: "first" (the
            notebook, keras-hub, timm) or "last" (keras.applications ResNet50V2).
        conv_bias: whether a convolution followed by batch norm has a bias.
            A convolution not followed by batch norm always has one.
        explicit_pad: pad every 3x3 conv with a ZeroPadding2D layer (the
            keras.applications v2 layout).  Stride-2 3x3 convs are always padded
            explicitly and symmetrically.
        bn_epsilon: batch-norm epsilon (keras.applications uses 1.001e-5).
        depth: number of weighted layers.
        block: "basic" (two 3x3 convs, depth 18/34) or "bottleneck".
        blocks: blocks per group, conv2 .. conv5.
    """

    version: str
    description: str
    preact: bool
    stride_in_block: Literal["1x1", "3x3"]
    stride_in_group: Literal["first", "last"]
    conv_bias: bool
    explicit_pad: bool
    bn_epsilon: float = 1.001e-5
    depth: int = 50
    block: BlockKind = "bottleneck"
    blocks: tuple[int, int, int, int] = DEPTHS[50][1]

    @property
    def expansion(self) -> int:
        """Output channels of a block over its first conv's filters."""
        return 4 if self.block == "bottleneck" else 1

    def replace(self, **changes: object) -> ResNetSpec:
        """A copy with some fields changed (``depth`` also resets block and blocks)."""
        if "depth" in changes:
            depth = changes["depth"]
            check_depth(depth)
            block, blocks = DEPTHS[depth]  # type: ignore[index]
            changes.setdefault("block", block)
            changes.setdefault("blocks", blocks)
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def group_strides(self) -> tuple[int, int, int, int]:
        """Output stride of each group (C2 .. C5) relative to the input."""
        if self.stride_in_group == "first":
            return (4, 8, 16, 32)
        # Stride in the last block of groups conv2..conv4: conv2's output is
        # already downsampled, conv5 keeps its input's resolution.
        return (8, 16, 32, 32)

    def group_channels(self) -> tuple[int, int, int, int]:
        """Output channels of each group (C2 .. C5)."""
        return tuple(f * self.expansion for f in GROUP_FILTERS)  # type: ignore[return-value]


VERSIONS: dict[str, ResNetSpec] = {
    "v1": ResNetSpec(
        version="v1",
        description="post-activation bottlenecks, stride in the first 1x1 conv (keras.applications.ResNet50)",
        preact=False,
        stride_in_block="1x1",
        stride_in_group="first",
        conv_bias=True,
        explicit_pad=False,
    ),
    "v1.5": ResNetSpec(
        version="v1.5",
        description="v1 with the stride moved to the 3x3 conv "
        "(torchvision, NVIDIA): ~0.5% more accurate, more compute",
        preact=False,
        stride_in_block="3x3",
        stride_in_group="first",
        conv_bias=True,
        explicit_pad=False,
    ),
    "v2": ResNetSpec(
        version="v2",
        description="pre-activation blocks (BN-ReLU before each conv), "
        "stride in the first block of each group",
        preact=True,
        stride_in_block="3x3",
        stride_in_group="first",
        conv_bias=False,
        explicit_pad=True,
    ),
}

#: The layout of keras.applications.ResNet50V2 (stride in the last block of a
#: group, outputs at strides 8/16/32/32).  Not a benchmarked version: it exists
#: so that v2 can be checked numerically against keras.applications.
KERAS_V2_LAYOUT: ResNetSpec = VERSIONS["v2"].replace(
    version="v2-keras",
    description="keras.applications.ResNet50V2 layout: stride in the last block of a group",
    stride_in_group="last",
)


def check_depth(depth: object) -> None:
    """Raise ValueError unless ``depth`` is a supported depth."""
    if depth not in DEPTHS or isinstance(depth, bool):
        raise ValueError(f"unknown depth {depth!r}; valid depths: {', '.join(map(str, DEPTHS))}")


def get_spec(version: str | ResNetSpec = "v1.5", depth: int = 50) -> ResNetSpec:
    """The spec of ``version`` at ``depth``; a ResNetSpec passes through unchanged."""
    if isinstance(version, ResNetSpec):
        return version if version.depth == depth else version.replace(depth=depth)
    if version not in VERSIONS:
        raise ValueError(f"unknown version {version!r}; valid versions: {', '.join(VERSIONS)}")
    check_depth(depth)
    base = VERSIONS[version]
    return base if depth == base.depth else base.replace(depth=depth)


def versions() -> dict[str, str]:
    """The benchmarked versions, each with a one-line description."""
    return {name: spec.description for name, spec in VERSIONS.items()}

"""``resnet-bench make-data``: a generated ImageNet-like JPEG data set."""

from __future__ import annotations

import argparse

from resnet.commands.common import positive

HELP = "write a generated ImageNet-like JPEG data set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", help="where to write it (jpeg/<class>/, tfrecord/, dataset.json)")
    parser.add_argument("--images", type=positive("--images"), required=True, help="how many images")
    parser.add_argument(
        "--seed", type=int, default=0, help="the set is deterministic from its seed (default 0)"
    )
    parser.add_argument("--shards", type=positive("--shards"), default=4, help="TFRecord shards (default 4)")
    parser.add_argument("--force", action="store_true", help="replace an earlier set made by make-data")


def run(args: argparse.Namespace) -> int:
    """Write a generated ImageNet-like JPEG data set (folder tree and TFRecord shards)."""
    from resnet.data import make_dataset

    stats = make_dataset(args.directory, args.images, seed=args.seed, shards=args.shards, force=args.force)
    size = f"{stats['mean_width']:.0f}x{stats['mean_height']:.0f}"
    print(
        f"{stats['images']} images in {args.directory}: mean {stats['mean_kb']} KiB "
        f"(10-90%: {stats['p10_kb']}-{stats['p90_kb']} KiB), {size} on average, "
        f"{stats['bits_per_pixel']} bits per pixel, {stats['tfrecord_shards']} TFRecord shards"
    )
    return 0

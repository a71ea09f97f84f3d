"""``resnet-bench options``: the options reference of ``pytest bench`` (docs/options.md)."""

from __future__ import annotations

import argparse

HELP = "the options reference of pytest bench (docs/options.md)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, help="write it there (default: print it)")


def run(args: argparse.Namespace) -> int:
    """Print the reference, or write it to ``--out`` (replacing only an earlier one)."""
    from resnet.engine.options import options_reference
    from resnet.outputs import check_file, write_file

    text = options_reference()
    if not args.out:
        print(text, end="")
        return 0
    check_file(args.out, text.splitlines()[0])
    print(f"options reference: {write_file(args.out, text)}")
    return 0

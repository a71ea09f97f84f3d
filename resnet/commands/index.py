"""``resnet-bench index``: results/README.md from the runs' machine.json and NOTES.md."""

from __future__ import annotations

import argparse

from resnet.commands.common import fail, is_directory

HELP = "results/README.md from the runs' machine.json and NOTES.md"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", help="the results folder (results/)")
    parser.add_argument("--out", default=None, help="where to write it (default: DIRECTORY/README.md)")


def run(args: argparse.Namespace) -> int:
    """results/README.md from the machine.json and NOTES.md files under a results folder."""
    from resnet.analysis.index import write_index

    if not is_directory(args.directory):
        return fail(f"{args.directory}: not a results folder")
    path = write_index(args.directory, args.out)
    print(f"index: {path} ({len(path.read_text().splitlines())} lines)")
    return 0

"""``resnet-bench machine``: this machine's facts and name; ``--write`` files its
``<folder>/<slug>/machine.json`` (as asv's ``asv machine``), which names every run filed
under that folder. (``machines``, plural, is the procurement table over many.)"""

from __future__ import annotations

import argparse

HELP = "this machine's facts and name; --write files its machine.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default=None, help="the machine's label (default: derived from its facts)")
    parser.add_argument(
        "--write", default=None, metavar="DIR", help="write DIR/<slug>/machine.json (e.g. results)"
    )


def run(args: argparse.Namespace) -> int:
    """Print this machine's file, or write it under ``--write``."""
    from resnet.engine.machine import machine_info
    from resnet.runs import machine_file

    data = machine_file.describe(machine_info(), args.name)
    if not args.write:
        print(machine_file.text_of(data), end="")
        return 0
    path, label, written = machine_file.write(args.write, data, renamed=bool(args.name))
    print(f"{label}: {path}" if written else f"{label}: {path} (already there, kept)")
    return 0

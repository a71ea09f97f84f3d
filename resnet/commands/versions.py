"""``resnet-bench versions``: the versions with a line each."""

from __future__ import annotations

import argparse

HELP = "list the versions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def run(args: argparse.Namespace) -> int:
    """List the versions (ours, the references and the peer) with a one-line description each."""
    from resnet.schema import DESCRIPTIONS
    from resnet.specs import versions

    for name, text in {**versions(), **DESCRIPTIONS}.items():
        print(f"{name:20s} {text}")
    return 0

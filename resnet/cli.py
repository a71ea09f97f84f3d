"""The ``resnet-bench`` command: builds the parser from :mod:`resnet.commands` (a module
per sub-command) and dispatches to it.

Every bad input ends the same way: one line on stderr naming the file (and line, for
journals) and the problem, exit code 2, and whatever was readable still reported. A
command raises a :class:`resnet.errors.BenchError` for it, caught here once. ``compare``
and ``history`` exit 1 only for a regression, so a CI gate can tell bad input from a
slowdown.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from resnet.commands import COMMANDS
from resnet.commands.common import Parser, fail, version_line


def build_parser() -> argparse.ArgumentParser:
    """The parser of every sub-command, each module's own options on the shared groups."""
    parser = Parser(prog="resnet-bench", description="ResNet-50 v1/v1.5/v2 benchmark tools")
    parser.add_argument("--version", action="version", version=version_line())
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"resnet.commands.{module_name}")
        command = sub.add_parser(name, help=module.HELP)
        module.add_arguments(command)
        command.set_defaults(fn=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resnet-bench`` console script."""
    from resnet.errors import BenchError
    from resnet.parallel import jobs

    args = build_parser().parse_args(argv)
    try:
        jobs()  # RESNET_BENCH_JOBS checked before any work
        return int(args.fn(args))
    except BenchError as err:
        return fail(str(err))
    except OSError as err:  # writing an output failed (disk full, permissions, ...)
        return fail(f"{err.filename or ''}: {err.strerror or err}".lstrip(": "))


if __name__ == "__main__":
    sys.exit(main())

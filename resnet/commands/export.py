"""``resnet-bench export``: runs for Bencher, github-action-benchmark, CSV or OpenMetrics."""

from __future__ import annotations

import argparse
from pathlib import Path

from resnet.commands.common import add_store_options, runs

HELP = "a run for Bencher, github-action-benchmark, CSV or OpenMetrics"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from resnet.analysis.export import FORMATS

    parser.add_argument("files", nargs="*", help="runs (JSON or journals)")
    add_store_options(parser)
    parser.add_argument(
        "--format",
        required=True,
        choices=FORMATS,
        help="bmf (Bencher), github-action-benchmark (customBiggerIsBetter: images/s), "
        "github-action-benchmark-smaller (customSmallerIsBetter: latency, memory), csv, openmetrics",
    )
    parser.add_argument("--out", default=None, help="write it there (default: print it)")


def run(args: argparse.Namespace) -> int:
    """The runs in one export format, printed or written to ``--out`` (replacing only an
    export of the same format)."""
    from resnet.analysis.export import export, is_export
    from resnet.outputs import OutputError, check_inputs, write_file

    if args.out:
        out = Path(args.out)
        check_inputs(out, args.files)
        if out.is_dir() or (out.exists() and not is_export(out, args.format)):
            raise OutputError(
                f"--out {out}: exists and is not an export of this format; it is left untouched"
            )
    df, errors = runs(args, args.files)
    if df.empty:
        return 2
    text = export(df, args.format)
    if args.out:
        write_file(args.out, text)
        print(f"{args.format}: {args.out}")
    else:
        print(text, end="")
    return 2 if errors else 0

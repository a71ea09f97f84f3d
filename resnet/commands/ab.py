"""``resnet-bench ab``: the verdict of an A/B run (``pytest bench --ab``) read again from its
JSON, journal or store: each case's B over A, the run-wide B over A, the gate."""

from __future__ import annotations

import argparse

import pandas as pd

from resnet.commands.common import add_store_options

HELP = "an A/B run's verdict: each case's B/A and the run-wide B/A with intervals, and the gate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="the A/B run (JSON or journal; with --db: a run id, latest)")
    add_store_options(parser)
    parser.add_argument(
        "--fail-on",
        default=None,
        metavar="CHANGE",
        help="exit 1 when B's images/s is below A's by more than this beyond its 95%% interval, in "
        "a case or run-wide: --fail-on=-5%% (or images_per_sec:-5%%)",
    )
    parser.add_argument(
        "--markdown", default=None, metavar="FILE", help='append a short summary, e.g. "$GITHUB_STEP_SUMMARY"'
    )


def run(args: argparse.Namespace) -> int:
    """Print the run's A/B table and run-wide line; with --fail-on, exit 1 on a regression."""
    from resnet.analysis import ab
    from resnet.commands.common import fail
    from resnet.commands.compare import side

    threshold = ab.parse_ab_threshold(args.fail_on) if args.fail_on else None
    frame = side(args, args.run)
    table, wide = ab.case_table(frame, threshold), ab.run_wide(frame, threshold)
    if table.empty:
        return fail(f"{args.run} holds no A/B rows: record one with pytest bench --ab SPEC")
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 20):
        print(table.to_string(index=False))
    stacks = ab.stacks_line(frame)
    for line in stacks:
        print(line)
    print(ab.wide_line(wide) if wide else "run-wide B/A: no case finished")
    failed = ab.failed(table, wide) if threshold is not None else False
    if threshold is not None:
        print(f"A/B gate ({threshold.limit:+g}% on images/s): " + ("FAILED" if failed else "passed"))
    if args.markdown:
        ab.append(args.markdown, ab.ab_markdown(table, wide, failed, stacks, args.run))
    return 1 if failed else 0

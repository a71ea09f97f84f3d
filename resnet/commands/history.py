"""``resnet-bench history``: change points over a history of runs, and the gate on its
newest run."""

from __future__ import annotations

import argparse

import pandas as pd

from resnet.commands.common import (
    add_store_options,
    fail,
    folder_history,
    history,
    inputs,
    is_directory,
    one_threshold,
)

HELP = "change points over a directory of runs (CI gate on the latest)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory", nargs="?", help="directory of runs (e.g. .benchmarks/ from --benchmark-autosave)"
    )
    add_store_options(parser)
    parser.add_argument(
        "--metric", default="images_per_sec", help="the figure to follow (default images_per_sec)"
    )
    parser.add_argument(
        "--fail-on",
        "--fail-on-new",  # its name before compare's and dashboard's spelling was adopted
        dest="fail_on",
        action="append",
        metavar="METRIC:CHANGE",
        help="exit 1 when the latest run starts a change beyond this, e.g. images_per_sec:-5%% "
        "(compare's syntax; one metric)",
    )
    parser.add_argument("--out", default=None, help="also write the change points as CSV")
    parser.add_argument(
        "--markdown", default=None, metavar="FILE", help='append a short summary, e.g. "$GITHUB_STEP_SUMMARY"'
    )


def run(args: argparse.Namespace) -> int:
    """Change points over a directory of runs or a store's; exit 1 when the latest run starts
    a change beyond --fail-on (in the bad direction)."""
    from resnet.analysis.compare import parse_threshold
    from resnet.analysis.history import CSV_HEADER, MIN_RUNS, change_points, new_changes
    from resnet.analysis.pages import csv_text
    from resnet.analysis.summary import append, history_markdown
    from resnet.outputs import check_file, write_file
    from resnet.runs import LoadError
    from resnet.schema import METRICS

    threshold = parse_threshold(one_threshold(args.fail_on, "history")) if args.fail_on else None
    metric = threshold.metric if threshold else args.metric
    if metric not in METRICS:
        return fail(f"--metric {metric!r} is not a figure with a direction; valid: {', '.join(METRICS)}")
    with history(args, metric) as (frame, samples):
        if frame is None and not is_directory(args.directory):
            return fail(f"{args.directory}: not a directory of runs")
        if args.out:
            check_file(args.out, CSV_HEADER, inputs(args.directory))
        errors: list[LoadError] = []
        df = frame
        if df is None:
            df, errors = folder_history(args.directory)
        if df.empty:
            raise LoadError(args.directory, "no readable runs in this directory")
        table, notes = change_points(df, metric, threshold.limit if threshold else None, samples)
    runs = df.groupby("machine")["run"].nunique()
    print(f"{df['run'].nunique()} runs, {df['case_id'].nunique()} cases; metric {metric}")
    for item in notes["too_short"]:
        print(f"too short for change points: {item}")
    for item in notes["outliers"]:
        print(f"outlier run (not a change): {item}")
    if table.empty:
        print("no change points" + ("" if (runs >= MIN_RUNS).any() else f" (fewer than {MIN_RUNS} runs)"))
    else:
        with pd.option_context("display.width", 220, "display.max_columns", 20, "display.max_rows", 500):
            print(table.to_string(index=False))
    if args.out:
        write_file(args.out, csv_text(table, index=False))
    new = new_changes(df, table, threshold)
    for item in new:
        print(f"NEW CHANGE at the latest run: {item}")
    if args.markdown:
        runs_count, cases = df["run"].nunique(), df["case_id"].nunique()
        append(args.markdown, history_markdown(table, new, runs_count, cases, metric))
    return 2 if errors else 1 if new else 0

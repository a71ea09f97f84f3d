"""``resnet-bench report``: tables, plots and an HTML report from runs."""

from __future__ import annotations

import argparse

from resnet.commands.common import add_store_options, fail, runs

HELP = "tables, plots and an HTML report from runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", help="pytest-benchmark JSON files or .jsonl journals")
    add_store_options(parser)
    parser.add_argument("--out", required=True, help="directory to write the report into")
    parser.add_argument("--label", default=None, help="machine label for every row (default: derived)")
    parser.add_argument("--title", default="ResNet benchmark report")


def run(args: argparse.Namespace) -> int:
    """Tables, plots and an HTML report from benchmark JSON files, journals or a store."""
    from resnet.analysis.report import write_report
    from resnet.outputs import check_folder

    out = check_folder(args.out, "report", args.files)
    df, errors = runs(args, args.files, args.label)
    if df.empty:
        return fail("no readable results; nothing written") if not errors else 2
    path = write_report(df, out, title=args.title, inputs=args.files)
    done = int((df["status"] == "ok").sum())
    print(f"report of {len(df)} cases ({done} ok) from {df['source'].nunique()} file(s): {path}")
    return 2 if errors else 0

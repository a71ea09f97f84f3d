"""``resnet-bench compare``: the regression gate between two runs of one machine."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from resnet.commands.common import add_store_options, selection, store_url

HELP = "regression gate: compare two runs of one machine"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", help="the baseline run (JSON or journal; with --db: a run id, latest~1)")
    parser.add_argument("new", help="the run to check (with --db: a run id, latest)")
    add_store_options(parser)
    parser.add_argument(
        "--fail-on",
        action="append",
        metavar="METRIC:CHANGE",
        help="e.g. images_per_sec:-5%% or peak_host_rss_mb:+10%% (repeatable; default: "
        "images_per_sec_best:-5%%, peak_host_rss_mb:+10%%, peak_device_mem_mb:+10%%)",
    )
    parser.add_argument("--allow-machine-mismatch", action="store_true", help="pair cases across machines")
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="a case of BASE missing from NEW passes (deliberate subsets)",
    )
    parser.add_argument("--out", default=None, help="also write the table as CSV")
    parser.add_argument(
        "--markdown", default=None, metavar="FILE", help='append a short summary, e.g. "$GITHUB_STEP_SUMMARY"'
    )


def run(args: argparse.Namespace) -> int:
    """Pair the cases of two runs; exit 1 if any metric regressed past its threshold."""
    from resnet.analysis import compare as gate
    from resnet.analysis.pages import csv_text
    from resnet.analysis.summary import append, compare_markdown
    from resnet.commands.common import fail
    from resnet.outputs import check_file, write_file

    thresholds = [gate.parse_threshold(t) for t in (args.fail_on or gate.DEFAULT_THRESHOLDS)]
    if args.out:
        check_file(args.out, gate.CSV_HEADER, [args.base, args.new])
    base, new = side(args, args.base), side(args, args.new)
    table = gate.compare(base, new, thresholds, args.allow_machine_mismatch, args.allow_missing)
    if table.empty:
        return fail("no metric of the thresholds was measured in both runs")
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.max_columns", 20):
        print(table.to_string(index=False))
    if args.out:
        write_file(args.out, csv_text(table, index=False))
    counts = table["verdict"].value_counts().to_dict()
    print(f"{len(table)} comparisons: {', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}")
    wide = gate.run_wide(base, new, thresholds, args.allow_machine_mismatch)
    for _, line in wide.iterrows():
        print(gate.run_wide_line(line))
    notes = gate.notes(table, base, new)
    for note in notes:
        print(note)
    failed = gate.failed(table, wide)
    if args.markdown:
        append(args.markdown, compare_markdown(table, wide, notes, failed, args.base, args.new))
    return 1 if failed else 0


def side(args: argparse.Namespace, ref: str) -> pd.DataFrame:
    """One side of compare: a file, or with ``--db`` a run of the store (an id, a unique
    prefix of one, ``latest`` or ``latest~N`` of the selection)."""
    from resnet.runs import load
    from resnet.store import Selection, Store

    if not store_url(args) or Path(ref).exists():
        return load(ref)
    with Store(store_url(args)) as store:
        run_id = store.resolve(ref, selection(args))
        return store.load(Selection(ids=(run_id,)))

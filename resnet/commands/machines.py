"""``resnet-bench machines``: the procurement table over the runs of many machines."""

from __future__ import annotations

import argparse

from resnet.commands.common import add_store_options, fail, inputs, runs

HELP = "procurement: compare machines, with prices"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", help="runs (JSON or journals) of one or more machines")
    add_store_options(parser)
    parser.add_argument("--reference", default=None, help="machine label to compare against")
    parser.add_argument(
        "--prices", default=None, help="CSV: machine, price_per_hour and/or purchase_price, years"
    )
    parser.add_argument("--out", required=True, help="directory for machines.md/.csv/.html and charts")


def run(args: argparse.Namespace) -> int:
    """Procurement table: best throughput, latency, memory fit and cost per machine."""
    from resnet.analysis.procurement import machines_table, notes, read_prices, write_machines
    from resnet.outputs import check_folder

    given = inputs(*args.files, args.prices)
    out = check_folder(args.out, "machines", given)
    prices = read_prices(args.prices) if args.prices else None
    df, errors = runs(args, args.files)
    if df.empty:
        return 2
    table = machines_table(df, args.reference, prices)
    if table.empty:
        return fail("no finished cases in these runs")
    path = write_machines(table, out, notes(table, prices), inputs=given)
    print(table.reset_index().to_string(index=False))
    print(f"written: {path}")
    return 2 if errors else 0

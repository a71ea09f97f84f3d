"""``resnet-bench dashboard``: one interactive page over a history of runs."""

from __future__ import annotations

import argparse

from resnet.commands.common import (
    add_store_options,
    fail,
    folder_history,
    history,
    inputs,
    is_directory,
    one_threshold,
)

HELP = "static HTML dashboard over a directory of runs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory", nargs="?", help="directory of runs (e.g. .benchmarks/ from --benchmark-autosave)"
    )
    add_store_options(parser)
    parser.add_argument("--out", required=True, help="directory for index.html")
    parser.add_argument(
        "--fail-on",
        action="append",
        metavar="METRIC:CHANGE",
        help="regression threshold, METRIC:+-N%% (default images_per_sec_best:-5%%: the fastest step, "
        "steady on shared machines)",
    )
    parser.add_argument(
        "--commit-url",
        default=None,
        metavar="TEMPLATE",
        help="make each commit a link: {commit} is replaced, e.g. https://github.com/OWNER/REPO/commit/{commit}",
    )


def run(args: argparse.Namespace) -> int:
    """A static HTML dashboard over a directory of runs or a store's."""
    from resnet.analysis.compare import parse_threshold
    from resnet.analysis.dashboard import check_commit_url, write_dashboard
    from resnet.outputs import check_folder
    from resnet.runs import LoadError

    threshold = parse_threshold(one_threshold(args.fail_on, "dashboard") or "images_per_sec_best:-5%")
    with history(args, None) as (frame, _):
        if frame is None and not is_directory(args.directory):
            return fail(f"{args.directory}: not a directory of runs")
        out = check_folder(args.out, "dashboard", inputs(args.directory))
        commit_url = check_commit_url(args.commit_url)
        errors: list[LoadError] = []
        if frame is None:
            frame, errors = folder_history(args.directory)
        if frame.empty:
            raise LoadError(args.directory or "the store", "no readable runs in this directory")
        path, count = write_dashboard(frame, out, threshold, inputs(args.directory), commit_url)
    print(f"dashboard: {path} ({count} regression(s) marked)")
    return 2 if errors else 0

"""``resnet-bench store add|list|remove``, and the ``--db`` options every reader takes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd

from resnet.analysis.loading import LoadError, RunFile, find_runs, read_run
from resnet.store.core import DEFAULT_URL, Selection, Store, StoreError, default_url

#: LoadError problems that mean "not a run at all" (a summary, a config): a folder's walk
#: passes over such files with a note; named on the command line they are an error.
NOT_A_RUN = ("not a pytest-benchmark JSON file", "no resnet-bench cases in it")


def add_db_options(parser: argparse.ArgumentParser, filters: bool = True) -> None:
    """``--db URL`` and the filters that narrow which of its runs a reader takes."""
    parser.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="read runs from a store (sqlite:///PATH or postgresql://USER@HOST/DB); "
        "RESNET_BENCH_DB is the URL when --db is given as 'default'",
    )
    if not filters:
        return
    parser.add_argument("--machine", default=None, help="with --db: runs of this machine (label or slug)")
    parser.add_argument("--branch", default=None, help="with --db: runs of this branch")
    parser.add_argument("--since", default=None, metavar="DATE", help="with --db: runs on or after DATE")
    parser.add_argument("--until", default=None, metavar="DATE", help="with --db: runs on or before DATE")
    parser.add_argument("--last", type=_count, default=None, metavar="N", help="with --db: the N newest runs")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a count of runs (1 or more)")
    return value


def db_url(args: argparse.Namespace) -> str | None:
    """The URL ``--db`` names (``default``: RESNET_BENCH_DB or the SQLite file)."""
    url = getattr(args, "db", None)
    return default_url() if url == "default" else url


def selection(args: argparse.Namespace) -> Selection:
    """The reader's filters as a Selection."""
    return Selection(
        machine=getattr(args, "machine", None),
        branch=getattr(args, "branch", None),
        since=getattr(args, "since", None),
        until=getattr(args, "until", None),
        last=getattr(args, "last", None),
    )


def frame_from_db(args: argparse.Namespace, samples: bool = True) -> pd.DataFrame:
    """The selected runs of ``--db`` (an empty store, or a selection of none, is a StoreError)."""
    store = Store(db_url(args))
    try:
        df = store.load(selection(args), samples=samples)
    finally:
        store.close()
    if df.empty:
        raise StoreError(f"{store.url}: no runs match the selection")
    return df


def history_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A store's rows as ``loading.load_history`` gives a folder's: cases only, one run per
    stored run (named by its date and the file it was added from), ordered by date."""
    df = df[df["kind"] == "case"].copy()
    df["run"] = df["datetime"].fillna("") + " " + df["source"].astype(str)
    return df.sort_values("run", kind="stable")


def history_from_store(args: argparse.Namespace, metric: str) -> tuple[pd.DataFrame, Any]:
    """A history frame over ``--db`` read as a store allows: the figures a history needs of
    every run (no samples), the newest two runs of each machine whole (the newest-run check
    compares them as ``compare`` does), and a function reading a case's step samples for the
    few cases with a change point."""
    store = Store(db_url(args))
    chosen = store.runs(selection(args))
    if not chosen:
        raise StoreError(f"{store.url}: no runs match the selection")
    newest: list[str] = []
    for machine in dict.fromkeys(r["machine"] for r in chosen):
        newest += [r["id"] for r in chosen if r["machine"] == machine][-2:]
    older = Selection(ids=tuple(r["id"] for r in chosen if r["id"] not in newest))
    light = store.load(
        older, samples=False, columns=history_columns(metric), keep_ids=True, kinds=["case"], names=False
    )
    whole = store.load(Selection(ids=tuple(newest)), keep_ids=True, kinds=["case"], names=False)
    frame = whole if light.empty else pd.concat([light, whole], ignore_index=True)

    def samples(group: pd.DataFrame) -> pd.Series:
        return store.sample_series(group["store_run"], group["case_id"], "samples_s")

    return history_frame(frame), samples


def history_columns(metric: str) -> list[str]:
    """The row fields a history of ``metric`` reads of every run but the newest two: what its
    change points group by (machine and run come with the run), the figure, and the images a
    step counts (for the interval from step samples)."""
    return ["case_id", "kind", "status", "backend", "global_batch", metric]


def _run_files(paths: list[str]) -> tuple[list[RunFile], list[str]]:
    """Every run under ``paths``, read and checked before anything is written: a file named
    that is not a run, or any run that does not load, is a LoadError; a folder's files that
    are not runs at all are passed over, each with a note."""
    runs, notes = [], []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for found in find_runs(path):
                try:
                    runs.append(read_run(found))
                except LoadError as err:
                    if not err.problem.startswith(NOT_A_RUN):
                        raise
                    notes.append(f"passed over {found}: {err.problem}")
        else:
            runs.append(read_run(path))
    return runs, notes


def cmd_store_add(args: argparse.Namespace) -> int:
    """Add runs (files, journals, folders) to the store, each whole or not at all."""
    runs, notes = _run_files(args.paths)
    for note in notes:
        print(note)
    if not runs:
        raise StoreError("no runs in " + ", ".join(args.paths) + "; nothing written")
    store = Store(db_url(args) or default_url(), create=True)
    added = 0
    try:
        for n, run in enumerate(runs, 1):
            run_id, new = store.add(run)
            added += new
            what = "added" if new else "already in the store:"
            when = run.datetime or "no date"
            print(f"[{n}/{len(runs)}] {what} {run_id} ({len(run.rows)} rows, {when}) {run.path}")
    finally:
        store.close()
    print(f"{added} run(s) added, {len(runs) - added} already there: {store.url}")
    return 0


def cmd_store_list(args: argparse.Namespace) -> int:
    """The store's runs, oldest first, as a table or (``--json``) a JSON array."""
    store = Store(db_url(args) or default_url())
    try:
        runs = store.runs(selection(args))
    finally:
        store.close()
    if args.json:
        fields = (
            "id",
            "datetime",
            "machine",
            "commit",
            "branch",
            "backend",
            "profile",
            "cases",
            "source",
            "added",
        )
        print(
            json.dumps([{("date" if k == "datetime" else k): r[k] for k in fields} for r in runs], indent=1)
        )
        return 0
    if not runs:
        print(f"no runs in {store.url}")
        return 0
    table = pd.DataFrame(runs)[
        ["id", "datetime", "machine", "commit", "branch", "profile", "cases", "source"]
    ]
    table["commit"] = table["commit"].map(lambda c: c[:10] if isinstance(c, str) else c)
    with pd.option_context("display.width", 220, "display.max_colwidth", 60, "display.max_rows", 10_000):
        print(table.rename(columns={"datetime": "date"}).to_string(index=False))
    print(f"{len(runs)} run(s) in {store.url}")
    return 0


def cmd_store_remove(args: argparse.Namespace) -> int:
    """Remove one run (added by mistake) by its id."""
    store = Store(db_url(args) or default_url())
    try:
        removed = store.remove(store.resolve(args.run_id))
    finally:
        store.close()
    what = f"{removed['cases']} rows, {removed['datetime']}"
    print(f"removed {removed['id']} ({what}) added from {removed['source']}")
    return 0


def add_store_parser(sub: Any) -> None:
    """The ``store`` command and its sub-commands."""
    store = sub.add_parser("store", help="a results store (SQLite or PostgreSQL): add, list, remove runs")
    verbs = store.add_subparsers(dest="verb", required=True, parser_class=type(store))
    add = verbs.add_parser("add", help="add runs: JSON files, journals, folders such as .benchmarks/")
    add.add_argument("paths", nargs="+", help="files or folders of runs")
    add.add_argument(
        "--db", default=None, metavar="URL", help=f"the store (default: RESNET_BENCH_DB or {DEFAULT_URL})"
    )
    add.set_defaults(fn=cmd_store_add)
    lst = verbs.add_parser("list", help="the store's runs, oldest first")
    add_db_options(lst)
    lst.add_argument("--json", action="store_true", help="a JSON array, one object per run")
    lst.set_defaults(fn=cmd_store_list)
    rem = verbs.add_parser("remove", help="remove a run added by mistake")
    rem.add_argument("run_id", help="its id (store list), a unique prefix of it, or latest")
    rem.add_argument(
        "--db", default=None, metavar="URL", help=f"the store (default: RESNET_BENCH_DB or {DEFAULT_URL})"
    )
    rem.set_defaults(fn=cmd_store_remove)

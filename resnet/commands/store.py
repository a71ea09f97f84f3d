"""``resnet-bench store add|list|remove``: the results store's runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from resnet.commands.common import add_store_options, add_store_url, selection, store_url
from resnet.runs import NotARun, RunFile, find_runs, read_run
from resnet.store import Store, StoreError, default_url

HELP = "a results store (SQLite or PostgreSQL): add, list, remove runs"
#: What ``store list --json`` gives of each run (``datetime`` as ``date``).
LIST_FIELDS = (
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=type(parser))
    add = verbs.add_parser("add", help="add runs: JSON files, journals, folders such as .benchmarks/")
    add.add_argument("paths", nargs="+", help="files or folders of runs")
    add_store_url(add)
    lst = verbs.add_parser("list", help="the store's runs, oldest first")
    add_store_options(lst)
    lst.add_argument("--json", action="store_true", help="a JSON array, one object per run")
    rem = verbs.add_parser("remove", help="remove a run added by mistake")
    rem.add_argument("run_id", help="its id (store list), a unique prefix of it, or latest")
    add_store_url(rem)


def run(args: argparse.Namespace) -> int:
    """The verb given."""
    return {"add": add, "list": list_runs, "remove": remove}[args.verb](args)


def run_files(paths: list[str]) -> tuple[list[RunFile], list[str]]:
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
                except NotARun as err:
                    notes.append(f"passed over {found}: {err.problem}")
        else:
            runs.append(read_run(path))
    return runs, notes


def add(args: argparse.Namespace) -> int:
    """Add runs (files, journals, folders) to the store, each whole or not at all."""
    runs, notes = run_files(args.paths)
    for note in notes:
        print(note)
    if not runs:
        raise StoreError("no runs in " + ", ".join(args.paths) + "; nothing written")
    added = 0
    with Store(store_url(args) or default_url(), create=True) as store:
        for n, found in enumerate(runs, 1):
            run_id, new = store.add(found)
            added += new
            what = "added" if new else "already in the store:"
            when = found.datetime or "no date"
            print(f"[{n}/{len(runs)}] {what} {run_id} ({len(found.rows)} rows, {when}) {found.path}")
    print(f"{added} run(s) added, {len(runs) - added} already there: {store.url}")
    return 0


def list_runs(args: argparse.Namespace) -> int:
    """The store's runs, oldest first, as a table or (``--json``) a JSON array."""
    with Store(store_url(args) or default_url()) as store:
        runs = store.runs(selection(args))
    if args.json:
        print(
            json.dumps(
                [{("date" if k == "datetime" else k): r[k] for k in LIST_FIELDS} for r in runs], indent=1
            )
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


def remove(args: argparse.Namespace) -> int:
    """Remove one run (added by mistake) by its id."""
    with Store(store_url(args) or default_url()) as store:
        removed = store.remove(store.resolve(args.run_id))
    what = f"{removed['cases']} rows, {removed['datetime']}"
    print(f"removed {removed['id']} ({what}) added from {removed['source']}")
    return 0

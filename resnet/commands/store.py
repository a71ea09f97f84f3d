"""``resnet-bench store add|list|remove``: the results store's runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from resnet.commands.common import add_store_options, add_store_url, selection, store_url
from resnet.engine.errors import typed
from resnet.runs import NotARun, RunFile, find_runs, read_run
from resnet.store import Store, StoreError, default_url
from resnet.text import printable

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
    add_lock_timeout(add)
    lst = verbs.add_parser("list", help="the store's runs, oldest first")
    add_store_options(lst)
    lst.add_argument("--json", action="store_true", help="a JSON array, one object per run")
    rem = verbs.add_parser("remove", help="remove a run added by mistake")
    rem.add_argument("run_id", help="its id (store list), a unique prefix of it, or latest")
    add_store_url(rem)
    add_lock_timeout(rem)


def add_lock_timeout(parser: argparse.ArgumentParser) -> None:
    """``--lock-timeout SECONDS``: how long a writer waits for another writer's lock."""
    from resnet.engine.parsers import seconds
    from resnet.store.core import LOCK_TIMEOUT_S

    parser.add_argument(
        "--lock-timeout",
        type=typed("--lock-timeout", seconds("--lock-timeout", 86_400.0)),
        default=LOCK_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long to wait for another writer's lock (default {LOCK_TIMEOUT_S:g} s), then stop",
    )


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
    done = {"added": 0, "replaced": 0, "": 0}
    with Store(store_url(args) or default_url(), create=True, lock_timeout=args.lock_timeout) as store:
        for n, found in enumerate(runs, 1):
            run_id, what = store.add(found)
            done[what] += 1
            text = {
                "added": "added",
                "replaced": "replaced its sweep's earlier run:",
                "": "already in the store:",
            }
            when = found.datetime or "no date"
            print(f"[{n}/{len(runs)}] {text[what]} {run_id} ({len(found.rows)} rows, {when}) {found.path}")
    replaced = f", {done['replaced']} replaced their sweep's earlier run" if done["replaced"] else ""
    print(f"{done['added']} run(s) added{replaced}, {done['']} already there: {store.url}")
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
    table = table.map(lambda v: printable(v) if isinstance(v, str) else v)  # no raw control characters
    with pd.option_context("display.width", 220, "display.max_colwidth", 60, "display.max_rows", 10_000):
        print(table.rename(columns={"datetime": "date"}).to_string(index=False))
    print(f"{len(runs)} run(s) in {store.url}")
    return 0


def remove(args: argparse.Namespace) -> int:
    """Remove one run (added by mistake) by its id."""
    with Store(store_url(args) or default_url(), lock_timeout=args.lock_timeout) as store:
        removed = store.remove(store.resolve(args.run_id))
    what = f"{removed['cases']} rows, {removed['datetime']}"
    print(f"removed {removed['id']} ({what}) added from {removed['source']}")
    return 0

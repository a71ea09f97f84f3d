"""What the commands share: the parser's one-line errors, the option groups (a store and
its selection, a positive count) and the one way every reader gets its runs: files and
folders, or a store's selection, or both, as one frame (:mod:`resnet.runs`)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from resnet.engine.errors import UsageError, typed
from resnet.engine.parsers import positive_int
from resnet.runs import LoadError, NotARun, load, load_history
from resnet.store import DEFAULT_URL, Selection, Store, StoreError, resolve_url


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2, as every bad input ends."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def version_line() -> str:
    """``resnet-bench --version``: this package's version and, without importing them, the
    Keras and backend versions installed beside it, and Python's."""
    import platform
    from importlib import metadata

    from resnet import __version__

    found = []
    for dist in ("keras", "tensorflow", "jax", "torch"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found.append(f"{dist} {metadata.version(dist)}")
    found.append(f"python {platform.python_version()}")
    return f"resnet-bench {__version__} ({', '.join(found)})"


def one_threshold(given: list[str] | None, command: str) -> str | None:
    """The one ``--fail-on METRIC:CHANGE`` a command that follows one metric takes (compare
    takes several, in the same syntax)."""
    if given and len(given) > 1:
        raise UsageError(
            f"--fail-on given {len(given)} times ({', '.join(given)}): {command} follows one metric; "
            "give one (compare takes several)"
        )
    return given[0] if given else None


def fail(message: str) -> int:
    """Say what was wrong in one line on stderr; the exit code of bad input."""
    print(f"resnet-bench: error: {message}", file=sys.stderr)
    return 2


def positive(flag: str) -> Callable[[str], int]:
    """An argparse type: a whole number of at least 1 (``argument FLAG: '0' is not ...``)."""
    return typed(flag, lambda text: positive_int(text, flag))


def add_store_options(parser: argparse.ArgumentParser, filters: bool = True) -> None:
    """``--db URL`` and (``filters``) what narrows which of its runs a reader takes."""
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
    parser.add_argument(
        "--last", type=positive("--last"), default=None, metavar="N", help="with --db: the N newest runs"
    )


def add_store_url(parser: argparse.ArgumentParser) -> None:
    """``--db URL`` for the commands that write to or change a store."""
    parser.add_argument(
        "--db", default=None, metavar="URL", help=f"the store (default: RESNET_BENCH_DB or {DEFAULT_URL})"
    )


def store_url(args: argparse.Namespace) -> str | None:
    """The store ``--db`` names (``default``: RESNET_BENCH_DB or the SQLite file); None
    without ``--db``."""
    url = getattr(args, "db", None)
    return None if url is None else resolve_url(url)


def selection(args: argparse.Namespace) -> Selection:
    """The reader's filters as a Selection."""
    return Selection(
        machine=getattr(args, "machine", None),
        branch=getattr(args, "branch", None),
        since=getattr(args, "since", None),
        until=getattr(args, "until", None),
        last=getattr(args, "last", None),
    )


def stored_runs(args: argparse.Namespace, samples: bool = True) -> pd.DataFrame:
    """The selected runs of ``--db`` (an empty store, or a selection of none, is a StoreError)."""
    with Store(store_url(args)) as store:
        df = store.load(selection(args), samples=samples)
    if df.empty:
        raise StoreError(f"{store.url}: no runs match the selection")
    return df


def runs(
    args: argparse.Namespace, files: list[str], label: str | None = None
) -> tuple[pd.DataFrame, list[LoadError]]:
    """The runs a reader was given: ``files`` (JSON files and journals) and, with ``--db``,
    the store's selected runs, as one frame. Prints one line per unreadable file and goes
    on with the rest; returns (frame, the files' errors)."""
    if not files and not store_url(args):
        raise UsageError("give runs (files) or a store (--db URL)")
    errors: list[LoadError] = []
    df = load(files, label=label, errors=errors)
    for err in errors:
        print(f"resnet-bench: error: {err}", file=sys.stderr)
    if store_url(args):
        stored = stored_runs(args)
        df = stored if df.empty else pd.concat([df, stored], ignore_index=True)
    return df, errors


Samples = Callable[[pd.DataFrame], pd.Series]


@contextlib.contextmanager
def history(
    args: argparse.Namespace, metric: str | None
) -> Iterator[tuple[pd.DataFrame | None, Samples | None]]:
    """A history's runs from ``--db`` (None, None without it: the caller reads its folder
    with :func:`folder_history`). For a history of ``metric`` the store is read as it allows
    (figures of older runs, samples only where a change point needs them: the reader stays
    open for that while the block runs); for none (the dashboard) every run whole."""
    if not store_url(args):
        if not args.directory:
            raise UsageError("give a directory of runs or a store (--db URL)")
        yield None, None
        return
    if metric is None:
        from resnet.runs import as_history

        yield as_history(stored_runs(args)), None
        return
    with Store(store_url(args)) as store:
        yield store.history(selection(args), metric)


def folder_history(directory: str) -> tuple[pd.DataFrame, list[LoadError]]:
    """The runs under ``directory`` as a history; files that are not runs are passed over
    with a note, unreadable ones named (both on stderr). Returns (frame, the real errors)."""
    errors: list[LoadError] = []
    df = load_history(directory, errors)
    return df, report_skipped(errors)


def report_skipped(errors: list[LoadError]) -> list[LoadError]:
    """One line per file a folder's walk could not read; files that are no run at all (a
    benchmark's summary.json) are passed over with a note and are not errors. Returns the errors."""
    real = []
    for err in errors:
        if isinstance(err, NotARun):
            print(f"resnet-bench: passed over {err.path}: {err.problem}", file=sys.stderr)
        else:
            print(f"resnet-bench: error: skipped {err}", file=sys.stderr)
            real.append(err)
    return real


def is_directory(path: str | None) -> bool:
    """Whether ``path`` names a folder."""
    return path is not None and Path(path).is_dir()


def inputs(*paths: Any) -> list[str]:
    """The input paths a command was given (for the output checks: never overwrite one)."""
    return [str(p) for p in paths if p]

"""Runs on disk: finding every results file under a folder, and reading many files (or a
history of them) into one frame, over the machine's cores."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from resnet.outputs import MANIFEST
from resnet.parallel import parallel_map
from resnet.runs.errors import LoadError
from resnet.runs.frame import to_frame
from resnet.runs.machine_file import MACHINE_FILE
from resnet.runs.reading import load_file


def load(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    label: str | None = None,
    errors: list[LoadError] | None = None,
) -> pd.DataFrame:
    """One row per case from pytest-benchmark JSON files and journals.

    Args:
        paths: one path or several (the same file given twice is read once).
        label: machine label for every row (default: derived from machine_info).
        errors: if given, unreadable files are appended here and skipped;
            otherwise the first one raises LoadError.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    unique, seen = [], set()
    for path in paths:  # the same file given twice is read once
        try:
            key = Path(path).resolve()
        except (RuntimeError, OSError):  # a link that loops: read_run says so
            key = Path(path).absolute()
        if key not in seen:
            seen.add(key)
            unique.append(path)
    rows: list[dict[str, Any]] = []
    read = parallel_map(
        _read_rows,
        [(str(p), label) for p in unique],
        worth=len(unique) >= PARALLEL_FILES,
        what="reading run files",
    )
    for got in read:
        if isinstance(got, LoadError):
            if errors is None:
                raise got
            errors.append(got)
        else:
            rows.extend(got)
    return to_frame(rows)


#: The fewest files worth reading in several processes.
PARALLEL_FILES = 64


def _read_rows(job: tuple[str, str | None]) -> list[dict[str, Any]] | LoadError:
    """One file's rows, or its problem: a job of :func:`load`."""
    path, label = job
    try:
        return load_file(path, label)
    except LoadError as err:
        return err


def find_runs(directory: str | os.PathLike) -> list[Path]:
    """Every results file under ``directory``: JSON files (including pytest-benchmark's
    ``--benchmark-autosave`` layout, ``.benchmarks/<machine>/NNNN_*.json``) and journals
    whose run left no JSON. Folders a resnet-bench command wrote (they hold its manifest:
    reports, dashboards, data sets) are outputs, not runs, and are left out, as are the
    machine files (``machine.json``) that name the runs filed under them."""
    root = Path(directory)
    ours = [m.parent for m in root.rglob(MANIFEST)]

    def is_output(path: Path) -> bool:
        return any(folder == path.parent or folder in path.parents for folder in ours)

    files = [f for f in sorted(root.rglob("*.json")) if not is_output(f) and f.name != MACHINE_FILE]
    have = {f.with_suffix("").name for f in files}
    journals = [
        j
        for j in sorted(root.rglob("*.journal.jsonl"))
        if j.name[: -len(".journal.jsonl")] not in have and not is_output(j)
    ]
    return [*files, *journals]


def load_history(directory: str | os.PathLike, errors: list[LoadError]) -> pd.DataFrame:
    """All cases of all runs under ``directory``, as :func:`as_history` names and orders them
    (a run by its path under ``directory``, so same-named files in two folders stay two runs).
    A file that is no run at all is passed over: it is in ``errors`` as a NotARun."""
    root = Path(directory)
    df = load(find_runs(root), errors=errors)
    if df.empty:
        return df

    def name(source: str) -> str:
        path = Path(source)
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name

    return as_history(df, name)


def as_history(df: pd.DataFrame, name: Callable[[str], str] = str) -> pd.DataFrame:
    """Runs as a history reads them: the case rows only, each run named by its date and
    ``name`` of the file it came from (its path, by default), ordered by that name."""
    df = df[df["kind"] == "case"].copy()
    names = {source: name(source) for source in df["source"].astype(str).unique()}
    df["run"] = df["datetime"].fillna("") + " " + df["source"].astype(str).map(names)
    return df.sort_values("run", kind="stable")

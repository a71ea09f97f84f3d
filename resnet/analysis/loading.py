"""Load benchmark results: pytest-benchmark JSON files and run journals -> one
pandas DataFrame, a row per case, failed and skipped cases included (never zeros).

Every row is checked against :mod:`resnet.schema`; rows of older runs get the kind
and the axes' defaults they were written without.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from resnet.engine.journal import read_journal
from resnet.engine.machine import identities_conflict, machine_identity, machine_label
from resnet.outputs import MANIFEST
from resnet.schema import (
    AXES,
    AXIS_DEFAULTS,
    FIELDS,
    invalid_figures,
    invalid_samples,
    machine_problems,
    row_problems,
    shape_problems,
)
from resnet.stats import DRIFT_LIMIT

#: pytest-benchmark's statistics of the timed rounds, kept as ``step_<name>_s``.
STAT_KEYS = ("min", "max", "mean", "median", "stddev", "iqr", "q1", "q3")
#: Columns the loader adds to the schema's row fields.
SOURCE_COLUMNS = (
    "machine", "run", "datetime", "commit", "source", "cpu_cores", "machine_identity",
    "memory_gb", "versions",
)  # fmt: skip
#: The columns a run gives every one of its rows (a store keeps them per run and machine).
RUN_COLUMNS = tuple(c for c in SOURCE_COLUMNS if c != "run")


class LoadError(ValueError):
    """A results file that cannot be read; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def _legacy(row: dict[str, Any]) -> dict[str, Any]:
    """Fill what rows of older runs were written without: the kind, and the axes added
    since (replicas, strategy) at their defaults."""
    if row.get("kind") is None:
        if row.get("mode") == "build":
            row["kind"], row["mode"] = "build", "inference"
        elif row.get("goal"):
            row["kind"] = "goal"
        else:
            row["kind"] = "case"
    if row.get("version") is not None:
        for name, default in AXIS_DEFAULTS.items():
            if row.get(name) is None:
                row[name] = default
    if row.get("global_batch") is None and isinstance(row.get("batch_size"), int):
        row["global_batch"] = row["batch_size"] * (row.get("replicas") or 1)
    return row


def _checked(path: Path, row: Any, where: str) -> dict[str, Any]:
    """``row`` held to the schema, once, on load: a row that does not fit (a type, a shape,
    a count below its minimum) is a LoadError naming the case and the field; a row whose
    figures or samples no measurement can give (NaN, infinite, negative; a step of zero
    seconds) is kept as ``invalid``, those emptied, never averaged or derived from."""
    if isinstance(row, dict):
        row = _legacy(dict(row))
        if isinstance(row.get("case_id"), str):
            where = f"{where} (case {row['case_id']})"
    problems = row_problems(row) or shape_problems(row)
    if problems:
        raise LoadError(path, f"{where}: {problems[0]}")
    utilization = row.get("utilization")
    if isinstance(utilization, (int, float)) and not isinstance(utilization, bool) and utilization > 1.0:
        row.update(utilization=None, above_peak=True)  # counted work past the peak: not a utilization
    bad = invalid_figures(row)
    samples = invalid_samples(row)
    if bad or samples:
        for item in bad:
            row[item.split("=")[0]] = None
        for name in samples:
            row[name] = None
        shown = ", ".join([*bad, *(f"{name} (a value that is not a positive number)" for name in samples)])
        row.update(status="invalid", reason=f"invalid figures in {path.name}: {shown}")
    return row


def _stats(path: Path, stats: Any, where: str) -> tuple[dict[str, Any], list[str]]:
    """pytest-benchmark's statistics of a benchmark as ``step_<name>_s``, and the ones no
    measurement can give (NaN, infinite, negative; a step of zero seconds)."""
    if not isinstance(stats, dict):
        return {f"step_{k}_s": None for k in STAT_KEYS}, []
    out, bad = {}, []
    for key in STAT_KEYS:
        value = stats.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise LoadError(path, f"{where}: stats.{key} is {value!r}, not a number")
        positive = key not in ("stddev", "iqr")
        if value is not None and not (math.isfinite(value) and (value > 0 if positive else value >= 0)):
            bad.append(f"stats.{key}={value!r}")
            value = None
        out[f"step_{key}_s"] = value
    return out, bad


def _rows_from_json(path: Path, data: Any, label: str | None) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise LoadError(path, "not a pytest-benchmark JSON file (no 'benchmarks' list)")
    common = _run_facts(path, data.get("machine_info"), data.get("commit_info"), data.get("datetime"), label)
    rows: dict[str, dict[str, Any]] = {}
    for n, bench in enumerate(data["benchmarks"]):
        if not isinstance(bench, dict):
            raise LoadError(path, f"benchmarks[{n}] is not an object")
        extra = bench.get("extra_info") if isinstance(bench.get("extra_info"), dict) else {}
        if "status" not in extra:
            continue  # not one of ours
        params = bench.get("params") if isinstance(bench.get("params"), dict) else {}
        case_id = extra.get("case_id") or params.get("case_id") or bench.get("name")
        row = _checked(path, {**extra, "case_id": case_id}, f"benchmarks[{n}]")
        steps, bad = _stats(path, bench.get("stats"), f"benchmarks[{n}] (case {case_id})")
        row.update(steps)
        if bad and row["status"] != "invalid":
            row.update(status="invalid", reason=f"invalid figures in {path.name}: {', '.join(bad)}")
        rounds = bench["stats"].get("rounds") if isinstance(bench.get("stats"), dict) else None
        if row.get("rounds") is None and isinstance(rounds, int) and not isinstance(rounds, bool):
            row["rounds"] = rounds
        images = row.get("global_batch") or row.get("batch_size")
        if row.get("images_per_sec_best") is None and row.get("step_min_s") and images:
            row["images_per_sec_best"] = images / row["step_min_s"]  # runs from before the field
        rows[case_id] = {**row, **common}
    section = data.get("resnet_bench") if isinstance(data.get("resnet_bench"), dict) else {}
    cases = section.get("cases", [])
    if not isinstance(cases, list):
        raise LoadError(path, "resnet_bench.cases is not a list")
    for n, extra in enumerate(cases):
        row = _checked(path, extra, f"resnet_bench.cases[{n}]")
        if row["case_id"] not in rows:
            rows[row["case_id"]] = {**_step_stats(row), **common}
    if not rows:
        raise LoadError(path, "no resnet-bench cases in it (no benchmarks)")
    return _unique_cases(path, list(rows.values()))


def _unique_cases(path: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run measures each case once: two case rows with every axis equal under two ids
    cannot be told apart, and are a LoadError naming both."""
    seen: dict[tuple, str] = {}
    for row in rows:
        if row.get("kind") != "case":
            continue
        key = tuple(json.dumps(row.get(a), default=str) for a in ("kind", *AXES))
        if key in seen:
            raise LoadError(
                path,
                f"cases {seen[key]!r} and {row['case_id']!r} share every axis; a run measures a case once",
            )
        seen[key] = row["case_id"]
    return rows


MACHINE_FILE = "machine.json"


@functools.lru_cache(maxsize=256)
def _machine_file(folder: str) -> tuple[str, dict[str, Any]] | None:
    """The nearest ``machine.json`` at or above ``folder`` (results/<machine>/machine.json),
    with its path; None when there is none."""
    here = Path(folder)
    for place in [here, *here.parents][:4]:
        candidate = place / MACHINE_FILE
        if candidate.is_file():
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise LoadError(candidate, f"not a machine file ({err})") from None
            facts = data.get("facts") if isinstance(data, dict) else None
            if not isinstance(facts, dict) or not isinstance(data.get("label"), str):
                raise LoadError(candidate, "a machine file holds a 'label' and its 'facts'")
            return str(candidate), {**facts, "label": data["label"]}
    return None


def _with_machine_file(path: Path, info: dict[str, Any]) -> dict[str, Any]:
    """``info`` with the name and facts of the machine file the run is filed under; a run
    whose own facts contradict that file is a LoadError (filed under the wrong machine)."""
    found = _machine_file(str(path.absolute().parent))
    if found is None:
        return info
    where, facts = found
    conflict = identities_conflict(machine_identity(info), machine_identity(facts))
    if conflict:
        name = conflict[0]
        raise LoadError(
            path,
            f"measured on another machine than {where} describes ({name} {info.get(name)!r}, "
            f"not {facts.get(name)!r})",
        )
    return {**facts, **info, "label": facts["label"]}


def _run_facts(path: Path, info: Any, commit: Any, when: Any, label: str | None) -> dict[str, Any]:
    """What every row of a run shares (machine, cores, date, commit, source), from its
    machine_info (named by the machine file it is filed under, if any), commit_info and
    datetime, each checked against the schema."""
    info = {} if info is None else info
    problems = machine_problems(info)
    if problems:
        raise LoadError(path, problems[0])
    info = _with_machine_file(path, info)
    if when is not None and not isinstance(when, str):
        raise LoadError(path, f"datetime is {when!r}, not a date string")
    commit = commit if isinstance(commit, dict) else {}
    commit_id = commit.get("id")
    if commit_id is not None and not isinstance(commit_id, str):
        raise LoadError(path, f"commit_info.id is {commit_id!r}, not a string")
    cores = info.get("cpu_affinity") or info.get("cpu_cores_logical")
    memory = info.get("memory_gb")
    memory = float(memory) if isinstance(memory, (int, float)) and not isinstance(memory, bool) else None
    return {
        "machine": label or machine_label(info),
        "machine_identity": json.dumps(machine_identity(info), sort_keys=True),
        "cpu_cores": cores if isinstance(cores, int) else None,
        "memory_gb": memory,
        "versions": versions_text(info.get("versions")),
        "datetime": when,
        "commit": commit_id,
        "source": str(path),
    }


def versions_text(versions: Any) -> str | None:
    """A run's library versions (machine_info.versions) as the rows carry them: JSON with
    sorted keys, None where the run recorded none."""
    if not isinstance(versions, dict) or not versions:
        return None
    return json.dumps(versions, sort_keys=True)


def _step_stats(row: dict[str, Any]) -> dict[str, Any]:
    """pytest-benchmark's statistics of the steps, from the row's own samples where it
    kept them (rows combined from several windows have no single pytest-benchmark entry)."""
    samples = row.get("samples_s")
    if row.get("step_median_s") is None and isinstance(samples, list) and samples:
        steps = np.concatenate([np.asarray(w, dtype=float) for w in samples if w])
        q1, median, q3 = np.quantile(steps, [0.25, 0.5, 0.75])
        row.update(
            step_min_s=float(steps.min()),
            step_max_s=float(steps.max()),
            step_mean_s=float(steps.mean()),
            step_median_s=float(median),
            step_stddev_s=float(steps.std(ddof=1)) if len(steps) > 1 else 0.0,
            step_iqr_s=float(q3 - q1),
            step_q1_s=float(q1),
            step_q3_s=float(q3),
        )
    for key in STAT_KEYS:  # every row has the steps' statistics, empty when unknown
        row.setdefault(f"step_{key}_s", None)
    return row


def _rows_from_journal(path: Path, label: str | None) -> list[dict[str, Any]]:
    try:
        journal = read_journal(path)
    except UnicodeDecodeError:
        raise LoadError(path, "not a journal (not text)") from None
    if journal.bad_lines:
        number, problem = journal.bad_lines[0]
        raise LoadError(path, f"line {number}: {problem}")
    if journal.header is None and not journal.rows:
        raise LoadError(path, "not a resnet-bench journal (no header and no case lines)")
    if not journal.rows:
        raise LoadError(path, "journal has no finished cases")
    header = journal.header or {}
    if "machine_info" in header:  # journals since the header carries the run's facts
        common = _run_facts(
            path, header["machine_info"], header.get("commit_info"), header.get("datetime"), label
        )
    else:
        info = _with_machine_file(path, {})
        machine = (
            label or (machine_label(info) if info else None) or header.get("machine") or "unknown machine"
        )
        common = {"machine": machine, "source": str(path)}
    rows = {}
    for row in journal.rows:
        row = _checked(path, row, "a case line")
        rows[row["case_id"]] = {**_step_stats(row), **common}
    return _unique_cases(path, list(rows.values()))


@dataclass
class RunFile:
    """One run as read from its file: its rows (checked), the SHA-256 of the file's bytes
    (the run's identity in a store: the same file added twice is one run), and what the run
    shares: machine facts (with its machine file's, if filed under one), commit, date,
    profile and backend."""

    path: Path
    rows: list[dict[str, Any]]
    digest: str
    machine_info: dict[str, Any]
    commit_info: dict[str, Any]
    datetime: str | None
    profile: str | None
    backend: str | None


def read_run(path: str | os.PathLike, label: str | None = None) -> RunFile:
    """One JSON file or journal, read and checked; raises LoadError with a one-line problem."""
    p = Path(path)
    if not p.exists():
        raise LoadError(p, "no such file")
    if p.is_dir():
        raise LoadError(p, "is a directory, not a results file")
    raw = p.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if p.name.endswith(".jsonl"):
        rows = _rows_from_journal(p, label)
        header = read_journal(p).header or {}
        section: dict[str, Any] = header
        info, commit, when = header.get("machine_info"), header.get("commit_info"), header.get("datetime")
    else:
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise LoadError(p, "not JSON (not text)") from None
        except json.JSONDecodeError as err:
            raise LoadError(p, f"not JSON ({err.msg} at line {err.lineno})") from None
        rows = _rows_from_json(p, data, label)
        section = data.get("resnet_bench") if isinstance(data.get("resnet_bench"), dict) else {}
        info, commit, when = data.get("machine_info"), data.get("commit_info"), data.get("datetime")
    info = _with_machine_file(p, info if isinstance(info, dict) else {})
    backend = section.get("backend") or info.get("keras_backend")
    return RunFile(
        path=p,
        rows=rows,
        digest=digest,
        machine_info=info,
        commit_info=commit if isinstance(commit, dict) else {},
        datetime=when if isinstance(when, str) else None,
        profile=section.get("profile") if isinstance(section.get("profile"), str) else None,
        backend=backend if isinstance(backend, str) else None,
    )


def load_file(path: str | os.PathLike, label: str | None = None) -> list[dict[str, Any]]:
    """The rows of one JSON file or journal; raises LoadError with a one-line problem."""
    return read_run(path, label).rows


def _run_names(sources: pd.Series) -> pd.Series:
    """A short name per source file (its stem), the path where stems collide."""
    unique = list(dict.fromkeys(sources))
    stems = {
        s: Path(s).name.removesuffix(".jsonl").removesuffix(".json").removesuffix(".journal") for s in unique
    }
    clash = {st for st in stems.values() if list(stems.values()).count(st) > 1}
    return sources.map(lambda s: s if stems[s] in clash else stems[s])


def to_frame(
    rows: list[dict[str, Any]] | pd.DataFrame, speeds: bool = True, names: bool = True
) -> pd.DataFrame:
    """Rows (or a frame of them, as a store reads them) -> DataFrame with every schema field
    as a column, identity and axes first. ``speeds``: derive the drift monitor's columns from
    the probe series (False: the rows carry them, as a store read without samples does).
    ``names``: name each run by its file (False: the caller names them, as a history does).
    A frame's empty text cells must be None already (a store's are); rows' may be missing."""
    frame = isinstance(rows, pd.DataFrame)
    df = rows.copy() if frame else pd.DataFrame(rows)
    columns = [*SOURCE_COLUMNS, *FIELDS]
    missing = {col for col in columns if col not in df.columns}
    if missing:
        added = [col for col in columns if col in missing]
        nones = np.full((len(df), len(added)), None, dtype=object)
        df = pd.concat([df, pd.DataFrame(nones, index=df.index, columns=added)], axis=1)
    for col in df.columns:  # a key a row lacks reads as None, as an empty one does
        if col in missing:
            continue  # made empty just above
        if frame and df[col].dtype == object:
            continue  # a store's text cells: None where empty, never NaN
        empty = df[col].isna()
        if df[col].dtype == object and empty.any():
            df[col] = df[col].where(~empty, None)
        elif len(df) and empty.all():
            df[col] = pd.Series([None] * len(df), index=df.index, dtype=object)
    if len(df):
        df["run"] = _run_names(df["source"].astype(str)) if names else None
        if speeds:
            _machine_speed(df)
        for col in ("machine_speed_rel", "drifted"):  # one dtype whichever way they came
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df[[*columns, *[c for c in df.columns if c not in columns]]]


def _machine_speed(df: pd.DataFrame) -> None:
    """The drift monitor, per run and device: each case's probe readings (before and after
    each of its windows) over the run's median reading: ``machine_speed_rel`` is the median
    of its readings so relative, ``drifted`` whether that is more than DRIFT_LIMIT off."""
    if "machine_speed_series" not in df:
        return
    rel_of: dict[Any, float] = {}
    probed = df[df["machine_speed_series"].map(lambda s: isinstance(s, list) and len(s) > 0)]
    for _, group in probed.groupby(["run", "device", df["threads"].fillna(0)], dropna=False):
        readings = {i: [float(p[1]) for p in s] for i, s in group["machine_speed_series"].items()}
        median = float(np.median([g for r in readings.values() for g in r]))
        rel_of.update((i, float(np.median(values)) / median) for i, values in readings.items())
    rel = [rel_of.get(i) for i in df.index]
    df["machine_speed_rel"] = pd.Series(rel, index=df.index, dtype=object)
    df["drifted"] = pd.Series(
        [None if r is None else abs(r - 1) > DRIFT_LIMIT for r in rel], index=df.index, dtype=object
    )


def drift_columns(rows: list[dict[str, Any]]) -> list[tuple[float | None, bool | None]]:
    """``machine_speed_rel`` and ``drifted`` of one run's rows, as :func:`to_frame` derives
    them (a store keeps them, for reads that leave the probe series out)."""
    df = pd.DataFrame(
        {
            "run": [0] * len(rows),
            "device": [r.get("device") for r in rows],
            "threads": [r.get("threads") for r in rows],
            "machine_speed_series": [r.get("machine_speed_series") for r in rows],
        }
    )
    _machine_speed(df)
    return [
        (None if pd.isna(rel) else float(rel), None if pd.isna(d) else bool(d))
        for rel, d in zip(df["machine_speed_rel"], df["drifted"], strict=True)
    ]


def identity_conflicts(df: pd.DataFrame) -> list[str]:
    """Labels under which the loaded runs' machine facts differ: one line each, naming the
    fact and two files (a procurement table must not merge two machines under one name)."""
    if "machine_identity" not in df or df.empty:
        return []
    out = []
    for label, group in df.dropna(subset=["machine_identity"]).groupby("machine"):
        seen: list[tuple[dict[str, Any], str]] = []
        for text, source in group[["machine_identity", "source"]].drop_duplicates("machine_identity").values:
            facts = json.loads(text)
            for other, where in seen:
                differ = identities_conflict(facts, other)
                if differ:
                    name = differ[0]
                    out.append(
                        f"machine {label!r} covers two machines ({name} {other[name]!r} in {where}, "
                        f"{facts[name]!r} in {source}); name them apart with a machine.json or --label"
                    )
                    break
            seen.append((facts, source))
    return out


def load(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    label: str | None = None,
    errors: list[LoadError] | None = None,
) -> pd.DataFrame:
    """One row per case from pytest-benchmark JSON files and journals, or every run of a
    results store given by its URL (``sqlite:///PATH``, ``postgresql://...``: resnet.store).

    Args:
        paths: one path or several (the same file given twice is read once), or a store's URL.
        label: machine label for every row (default: derived from machine_info).
        errors: if given, unreadable files are appended here and skipped;
            otherwise the first one raises LoadError.
    """
    if isinstance(paths, str) and re.match(r"^[a-z][a-z0-9+]*://", paths):
        from resnet.store import Store

        store = Store(paths)
        try:
            return store.load()
        finally:
            store.close()
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    from resnet.analysis.parallel import parallel_map

    unique, seen = [], set()
    for path in paths:  # the same file given twice is read once
        if (key := Path(path).resolve()) not in seen:
            seen.add(key)
            unique.append(path)
    rows: list[dict[str, Any]] = []
    read = parallel_map(_read_rows, [(str(p), label) for p in unique], worth=len(unique) >= PARALLEL_FILES)
    for got, problem in read:
        if problem is not None:
            err = LoadError(*problem)
            if errors is None:
                raise err
            errors.append(err)
        else:
            rows.extend(got)
    return to_frame(rows)


#: The fewest files worth reading in several processes.
PARALLEL_FILES = 64


def _read_rows(job: tuple[str, str | None]) -> tuple[list[dict[str, Any]] | None, tuple[str, str] | None]:
    """One file's rows, or its problem (path, text): a job of :func:`load`."""
    path, label = job
    try:
        return load_file(path, label), None
    except LoadError as err:
        return None, (err.path, err.problem)


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
    """All cases of all runs, one run per source file (named by its date and its path under
    ``directory``, so same-named files in two folders stay two runs), ordered by date."""
    root = Path(directory)
    df = load(find_runs(root), errors=errors)
    if df.empty:
        return df
    df = df[df["kind"] == "case"].copy()

    def name(source: str) -> str:
        path = Path(source)
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name

    names = {source: name(source) for source in df["source"].unique()}
    df["run"] = df["datetime"].fillna("") + " " + df["source"].map(names)
    return df.sort_values("run", kind="stable")

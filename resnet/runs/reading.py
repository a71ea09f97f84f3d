"""Reading one run: a pytest-benchmark JSON file or a run journal -> its rows, each
checked against :mod:`resnet.schema` once, and what the run shares (machine, commit, date,
profile, backend). Rows of older runs get the kind and the axes' defaults they were
written without; failed and skipped cases are kept (never zeros)."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet.engine.journal import JournalContents, parse_journal
from resnet.engine.machine import machine_identity, machine_label
from resnet.runs.errors import LoadError, NotARun
from resnet.runs.machine_file import with_machine_file
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

#: pytest-benchmark's statistics of the timed rounds, kept as ``step_<name>_s``.
STAT_KEYS = ("min", "max", "mean", "median", "stddev", "iqr", "q1", "q3")


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
    for key, value in row.items():
        if key not in FIELDS and _depth(value, MAX_DEPTH) > MAX_DEPTH:
            raise LoadError(path, f"{where}: row key {key!r} nests deeper than {MAX_DEPTH} levels")
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
        raise NotARun(path, "not a pytest-benchmark JSON file (no 'benchmarks' list)")
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
        raise NotARun(path, "no resnet-bench cases in it (no benchmarks)")
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


def _run_facts(path: Path, info: Any, commit: Any, when: Any, label: str | None) -> dict[str, Any]:
    """What every row of a run shares (machine, cores, date, commit, source), from its
    machine_info (named by the machine file it is filed under, if any), commit_info and
    datetime, each checked against the schema."""
    info = {} if info is None else info
    problems = machine_problems(info)
    if problems:
        raise LoadError(path, problems[0])
    info = with_machine_file(path, info)
    if when is not None and not isinstance(when, str):
        raise LoadError(path, f"datetime is {when!r}, not a date string")
    when = instant(when) if when is not None else None
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


def instant(when: str) -> str:
    """A run's date as an instant to sort by: ISO 8601 in UTC where it names its offset (so
    ``-05:00`` and ``Z`` runs sort with the rest), as given where it names none (pytest-
    benchmark's own, UTC already); a text that is no date is a LoadError's business."""
    try:
        moment = dt.datetime.fromisoformat(when.replace("Z", "+00:00") if when.endswith("Z") else when)
    except ValueError:
        return when
    return when if moment.tzinfo is None else moment.astimezone(dt.timezone.utc).isoformat()


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
    windows = [w for w in samples if isinstance(w, list) and w] if isinstance(samples, list) else []
    if row.get("step_median_s") is None and windows:  # windows that kept no step: no statistics
        steps = np.concatenate([np.asarray(w, dtype=float) for w in windows])
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


def _rows_from_journal(path: Path, journal: JournalContents, label: str | None) -> list[dict[str, Any]]:
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
        info = with_machine_file(path, {})
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
    #: The sweep it came from (its journal's id; None before #40): a resumed sweep's run
    #: replaces its earlier state in a store.
    sweep_id: str | None = None


#: The largest results file read (bytes): a run of thousands of cases with every step is a few
#: tens of MB; a larger file is refused, never read into memory.
MAX_BYTES = 512 * 2**20
#: How deep a row's value that the schema does not name may nest (the store keeps such values
#: as JSON).
MAX_DEPTH = 32


def _read_bytes(p: Path) -> bytes:
    """A results file's bytes: a regular file (links followed, a loop refused), at most
    MAX_BYTES, readable; anything else a LoadError in one line (FIFOs and devices are never
    opened)."""
    try:
        info = p.stat()
    except FileNotFoundError:
        raise LoadError(p, "no such file") from None
    except (RuntimeError, OSError) as err:  # a link that loops, a path too long, no permission
        looped = isinstance(err, RuntimeError) or getattr(err, "errno", None) == errno.ELOOP
        reason = "a link that loops" if looped else (getattr(err, "strerror", None) or str(err))
        raise LoadError(p, f"cannot be followed ({reason})") from None
    if stat.S_ISDIR(info.st_mode):
        raise LoadError(p, "is a directory, not a results file")
    if not stat.S_ISREG(info.st_mode):
        raise LoadError(p, "not a regular file (a FIFO, socket or device); a run is a file")
    size = info.st_size
    if size > MAX_BYTES:
        raise LoadError(p, f"{size / 2**20:.0f} MiB, over the {MAX_BYTES / 2**20:.0f} MiB a run may have")
    try:
        return p.read_bytes()
    except OSError as err:
        raise LoadError(p, f"cannot be read ({err.strerror or err})") from None


def _depth(value: Any, limit: int) -> int:
    """How deep ``value`` nests, counted up to ``limit`` + 1."""
    if limit < 0 or not isinstance(value, (list, dict)):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(v, limit - 1) for v in items), default=0)


def read_run(path: str | os.PathLike, label: str | None = None) -> RunFile:
    """One JSON file or journal, read and checked; raises LoadError with a one-line problem."""
    p = Path(path)
    raw = _read_bytes(p)
    digest = hashlib.sha256(raw).hexdigest()
    if p.name.endswith(".jsonl"):
        try:
            journal = parse_journal(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise LoadError(p, "not a journal (not text)") from None
        except RecursionError:
            raise LoadError(p, "a line nests deeper than a JSON reader can follow") from None
        rows = _rows_from_journal(p, journal, label)
        header = journal.header or {}
        section: dict[str, Any] = header
        info, commit, when = header.get("machine_info"), header.get("commit_info"), header.get("datetime")
    else:
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise LoadError(p, "not JSON (not text)") from None
        except json.JSONDecodeError as err:
            raise LoadError(p, f"not JSON ({err.msg} at line {err.lineno})") from None
        except RecursionError:
            raise LoadError(p, "nests deeper than a JSON reader can follow; not a run") from None
        rows = _rows_from_json(p, data, label)
        section = data.get("resnet_bench") if isinstance(data.get("resnet_bench"), dict) else {}
        info, commit, when = data.get("machine_info"), data.get("commit_info"), data.get("datetime")
    info = with_machine_file(p, info if isinstance(info, dict) else {})
    backend = section.get("backend") or info.get("keras_backend")
    return RunFile(
        path=p,
        rows=rows,
        digest=digest,
        machine_info=info,
        commit_info=commit if isinstance(commit, dict) else {},
        datetime=instant(when) if isinstance(when, str) else None,
        profile=section.get("profile") if isinstance(section.get("profile"), str) else None,
        backend=backend if isinstance(backend, str) else None,
        sweep_id=section.get("sweep_id") if isinstance(section.get("sweep_id"), str) else None,
    )


def load_file(path: str | os.PathLike, label: str | None = None) -> list[dict[str, Any]]:
    """The rows of one JSON file or journal; raises LoadError with a one-line problem."""
    return read_run(path, label).rows

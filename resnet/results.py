"""Load benchmark results: pytest-benchmark JSON files and run journals -> one
pandas DataFrame, a row per case, failed and skipped cases included (never zeros).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from resnet.engine.machine import machine_label

AXES = ["version", "mode", "batch_size", "precision", "device", "jit", "image_size", "threads", "backend"]
STAT_KEYS = ("min", "max", "mean", "median", "stddev", "iqr", "q1", "q3", "rounds")


class LoadError(ValueError):
    """A results file that cannot be read; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


def _kind(row: dict[str, Any]) -> str:
    if row.get("kind"):
        return str(row["kind"])  # e.g. "loader": not a model case
    if row.get("mode") == "build":
        return "build"
    if row.get("goal"):
        return "goal"
    return "case"


def _rows_from_json(path: Path, data: Any, label: str | None) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise LoadError(path, "not a pytest-benchmark JSON file (no 'benchmarks' list)")
    info = data.get("machine_info") or {}
    common = {
        "machine": label or machine_label(info),
        "datetime": data.get("datetime"),
        "commit": (data.get("commit_info") or {}).get("id"),
        "source": str(path),
    }
    rows: dict[str, dict[str, Any]] = {}
    for bench in data["benchmarks"]:
        extra = dict(bench.get("extra_info") or {})
        if "status" not in extra:
            continue  # not one of ours
        case_id = (bench.get("params") or {}).get("case_id") or extra.get("case_id") or bench.get("name")
        stats = bench.get("stats") or {}
        row = {"case_id": case_id, **extra, **common}
        row.update({f"step_{k}_s" if k != "rounds" else "rounds": stats.get(k) for k in STAT_KEYS})
        images = row.get("global_batch") or row.get("batch_size")
        if row.get("images_per_sec_best") is None and row.get("step_min_s") and images:
            row["images_per_sec_best"] = images / row["step_min_s"]  # runs from before the field
        rows[case_id] = row
    for extra in (data.get("resnet_bench") or {}).get("cases", []):
        case_id = extra.get("case_id")
        if case_id not in rows:
            rows[case_id] = {**extra, **common}
    if not rows:
        raise LoadError(path, "no resnet-bench cases in it (no benchmarks)")
    return list(rows.values())


def _rows_from_journal(path: Path, label: str | None) -> list[dict[str, Any]]:
    rows = []
    header = None
    with path.open() as f:
        for line in f:
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by a killed run: the complete ones still count
            if item.get("type") == "header":
                header = item
            elif item.get("type") == "case" and isinstance(item.get("row"), dict):
                rows.append({**item["row"], "source": str(path)})
    if header is None and not rows:
        raise LoadError(path, "not a resnet-bench journal (no header and no case lines)")
    if not rows:
        raise LoadError(path, "journal has no finished cases")
    machine = label or (header or {}).get("machine") or "unknown machine"
    for row in rows:
        row.setdefault("machine", machine)
    return rows


def load_file(path: str | os.PathLike, label: str | None = None) -> list[dict[str, Any]]:
    """The rows of one JSON file or journal; raises LoadError with a one-line problem."""
    p = Path(path)
    if not p.exists():
        raise LoadError(p, "no such file")
    if p.is_dir():
        raise LoadError(p, "is a directory, not a results file")
    if p.name.endswith(".jsonl"):
        return _rows_from_journal(p, label)
    try:
        data = json.loads(p.read_text())
    except UnicodeDecodeError:
        raise LoadError(p, "not JSON (not text)") from None
    except json.JSONDecodeError as err:
        raise LoadError(p, f"not JSON ({err.msg} at line {err.lineno})") from None
    return _rows_from_json(p, data, label)


def to_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows -> DataFrame with the axes first and a ``kind`` column."""
    for row in rows:
        row["kind"] = _kind(row)
    df = pd.DataFrame(rows)
    first = ["machine", "kind", "case_id", *AXES, "status", "reason"]
    for col in [*first, "images_per_sec", "source"]:
        if col not in df.columns:
            df[col] = None
    return df[[*first, *[c for c in df.columns if c not in first]]]


def load(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    label: str | None = None,
    errors: list[LoadError] | None = None,
) -> pd.DataFrame:
    """One row per case from pytest-benchmark JSON files and journals.

    Args:
        paths: one path or several.
        label: machine label for every row (default: derived from machine_info).
        errors: if given, unreadable files are appended here and skipped;
            otherwise the first one raises LoadError.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rows: list[dict[str, Any]] = []
    for path in paths:
        try:
            rows.extend(load_file(path, label))
        except LoadError as err:
            if errors is None:
                raise
            errors.append(err)
    return to_frame(rows)


def write_synthetic_runs(directory: str | os.PathLike, files: int, cases: int) -> list[Path]:
    """Write ``files`` pytest-benchmark-shaped JSON files of ``cases`` cases each (made-up
    numbers, for measuring the loader itself; never for results)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in range(files):
        benchmarks = []
        for c in range(cases):
            extra = {
                "case_id": f"case{c}",
                "version": ("v1", "v1.5", "v2")[c % 3],
                "mode": ("inference", "training")[c % 2],
                "batch_size": 2 ** (c % 8),
                "precision": "float32",
                "device": "cpu",
                "jit": False,
                "image_size": 224,
                "threads": None,
                "backend": "tensorflow",
                "status": "ok",
                "reason": None,
                "images_per_sec": 10.0 + c,
                "latency_ms_p50": 100.0,
            }
            stats = {"median": 0.1, "mean": 0.1, "min": 0.09, "max": 0.12, "iqr": 0.01, "rounds": 5}
            benchmarks.append(
                {
                    "name": f"test_case[case{c}]",
                    "params": {"case_id": f"case{c}"},
                    "extra_info": extra,
                    "stats": stats,
                }
            )
        path = out / f"{f:04d}_run.json"
        path.write_text(
            json.dumps(
                {"machine_info": {"cpu_model": "synthetic"}, "datetime": f"run{f}", "benchmarks": benchmarks}
            )
        )
        paths.append(path)
    return paths

"""Runs as one pandas DataFrame: a row per case, every schema field a column, identity
and axes first; the drift monitor's columns derived per run; machines told apart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from resnet.engine.machine import identities_conflict
from resnet.schema import FIELDS
from resnet.stats import DRIFT_LIMIT, machine_speeds
from resnet.text import printable

#: Columns the loader adds to the schema's row fields.
SOURCE_COLUMNS = (
    "machine", "run", "datetime", "commit", "source", "cpu_cores", "machine_identity",
    "memory_gb", "versions",
)  # fmt: skip
#: The columns a run gives every one of its rows (a store keeps them per run and machine).
RUN_COLUMNS = tuple(c for c in SOURCE_COLUMNS if c != "run")


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
    _printable(df)
    if len(df):
        df["run"] = _run_names(df["source"].astype(str)) if names else None
        if speeds:
            _machine_speed(df)
        for col in ("machine_speed_rel", "drifted"):  # one dtype whichever way they came
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df[[*columns, *[c for c in df.columns if c not in columns]]]


#: What pandas infers of a column that may hold text (its ``.str`` accessor reads these).
TEXT_KINDS = ("string", "mixed", "mixed-integer")


def _printable(df: pd.DataFrame) -> None:
    """Every text cell as outputs may show it (resnet.text.printable): a control character
    in a case id or a label never reaches a terminal, a table or a page raw."""
    for column in df.columns:
        values = df[column]
        text = pd.api.types.is_string_dtype(values.dtype) and values.dtype != object  # pandas' str dtype
        if not text and (
            values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) not in TEXT_KINDS
        ):
            continue
        found = values.str.contains(r"[\x00-\x1f\x7f-\x9f]", regex=True, na=False).astype(bool)
        if found.any():
            df.loc[found, column] = values[found].map(printable)


def _machine_speed(df: pd.DataFrame) -> None:
    """The drift monitor, per run, device, threads and probe dtype: each case's probe readings
    (around and between its timed steps) over the group's median reading
    (resnet.stats.machine_speeds): ``machine_speed_rel``, and ``drifted`` whether that is more
    than DRIFT_LIMIT off."""
    if "machine_speed_series" not in df:
        return
    series = [s if isinstance(s, list) and s else None for s in df["machine_speed_series"]]
    dtypes = df["machine_speed_dtype"] if "machine_speed_dtype" in df else [None] * len(df)
    groups = list(
        zip(df["run"], df["device"], df["threads"].fillna(0), [d or "float32" for d in dtypes], strict=True)
    )
    rel = machine_speeds(series, groups)
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
            "machine_speed_dtype": [r.get("machine_speed_dtype") for r in rows],
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

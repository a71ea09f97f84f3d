"""A run in the formats the ecosystem's own tools read, every figure with its interval:

- ``bmf``: Bencher Metric Format, ``{benchmark: {measure: {value, lower_value, upper_value}}}``.
- ``github-action-benchmark`` / ``github-action-benchmark-smaller``: its
  ``customBiggerIsBetter`` (images/s) and ``customSmallerIsBetter`` (latency, memory) JSON,
  ``[{name, unit, value, range, extra}]``.
- ``csv``: one flat row per case, every schema field (lists as JSON), as timm's CSV is used.
- ``openmetrics``: gauges labelled by every axis, for a Prometheus pushgateway or a node
  exporter's textfile collector feeding Grafana.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from resnet.analysis.pages import csv_text
from resnet.errors import InputError
from resnet.schema import AXES, FIELDS, finite
from resnet.text import printable

FORMATS = ("bmf", "github-action-benchmark", "github-action-benchmark-smaller", "csv", "openmetrics")
#: What each format reports: (row field, Bencher measure or metric name, unit, interval fields).
BIGGER = (
    ("images_per_sec", "images_per_sec", "images/s", ("images_per_sec_ci_low", "images_per_sec_ci_high")),
)
SMALLER = (
    ("latency_ms_p50", "latency_ms_p50", "ms", ("latency_ms_p50_ci_low", "latency_ms_p50_ci_high")),
    ("latency_ms_p99", "latency_ms_p99", "ms", (None, None)),
    ("peak_host_rss_mb", "peak_host_rss_mb", "MiB", (None, None)),
    ("peak_device_mem_mb", "peak_device_mem_mb", "MiB", (None, None)),
)
#: Flags a figure comes with, kept beside it where a format has room.
FLAGS = ("unstable", "drifted", "above_peak")


def _cases(df: pd.DataFrame) -> pd.DataFrame:
    """The finished case rows, one per case id and machine."""
    frame = df[(df["kind"] == "case") & (df["status"] == "ok")]
    return frame.drop_duplicates(["machine", "case_id"], keep="last")


def _name(row: pd.Series, several: bool) -> str:
    """A benchmark's name: its case id, with the machine where the export holds several."""
    return f"{row['case_id']} ({row['machine']})" if several else str(row["case_id"])


def bmf(df: pd.DataFrame) -> dict[str, Any]:
    """Bencher Metric Format: every case, each figure a measure with its interval."""
    frame = _cases(df)
    several = frame["machine"].nunique() > 1
    out: dict[str, Any] = {}
    for _, row in frame.iterrows():
        measures = {}
        for field, measure, _, (low, high) in (*BIGGER, *SMALLER):
            value = finite(row.get(field))
            if value is None:
                continue
            entry = {"value": value}
            if low and finite(row.get(low)) is not None and finite(row.get(high)) is not None:
                entry.update(lower_value=finite(row[low]), upper_value=finite(row[high]))
            measures[measure] = entry
        if measures:
            out[_name(row, several)] = measures
    return out


def github_action_benchmark(df: pd.DataFrame, smaller: bool = False) -> list[dict[str, Any]]:
    """github-action-benchmark's custom JSON: customBiggerIsBetter (images/s), or with
    ``smaller`` customSmallerIsBetter (latency, memory); the interval in ``range``, the
    interval and flags again in ``extra``."""
    frame = _cases(df)
    several = frame["machine"].nunique() > 1
    out = []
    for _, row in frame.iterrows():
        for field, measure, unit, (low, high) in SMALLER if smaller else BIGGER:
            value = finite(row.get(field))
            if value is None:
                continue
            entry: dict[str, Any] = {"name": f"{_name(row, several)} {measure}", "unit": unit, "value": value}
            lo, hi = (finite(row.get(low)), finite(row.get(high))) if low else (None, None)
            extra = []
            if lo is not None and hi is not None:
                entry["range"] = f"{lo - value:+.4g}/{hi - value:+.4g}"
                extra.append(f"95% interval [{lo:.4g}, {hi:.4g}], {int(row.get('rounds') or 0)} steps")
            extra += [flag for flag in FLAGS if row.get(flag) is True]
            if extra:
                entry["extra"] = "; ".join(extra)
            out.append(entry)
    return out


def flat_csv(df: pd.DataFrame) -> str:
    """One row per case (every kind and status), every schema field; lists as JSON."""
    frame = df.copy()
    columns = ["machine", "run", "datetime", "commit", *FIELDS]
    for col in columns:
        if col not in frame:
            frame[col] = None
    frame = frame[columns]
    for col in columns:
        if FIELDS.get(col) is not None and FIELDS[col].role == "samples":
            frame[col] = frame[col].map(lambda v: json.dumps(v) if isinstance(v, list) else v)
    return csv_text(frame, index=False)


def _label(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)  # pandas keeps whole-number axes as floats
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    text = printable(text)  # CR, LF, ESC and the rest as their escapes, as text: one sample, one line
    return text.replace("\\", "\\\\").replace('"', '\\"')


def openmetrics(df: pd.DataFrame) -> str:
    """OpenMetrics text: one gauge family per figure, a sample per case labelled by machine,
    case id and every axis, the interval's ends as their own families; ends with ``# EOF``."""
    frame = _cases(df)
    families: list[tuple[str, str, str]] = []
    for field, _, unit, (low, high) in (*BIGGER, *SMALLER):
        families.append((field, f"resnet_bench_{field}", f"{FIELDS[field].doc} ({unit})"))
        for end in (low, high):
            if end:
                families.append((end, f"resnet_bench_{end}", f"{FIELDS[end].doc} of {field} ({unit})"))
    lines = []
    labels = ["machine", "case_id", *AXES]
    for field, name, doc in families:
        samples = []
        for _, row in frame.iterrows():
            value = finite(row.get(field))
            if value is None:
                continue
            text = ",".join(f'{key}="{_label(row.get(key))}"' for key in labels)
            samples.append(f"{name}{{{text}}} {value!r}")
        if samples:
            lines += [f"# TYPE {name} gauge", f"# HELP {name} {doc}", *samples]
    return "\n".join([*lines, "# EOF"]) + "\n"


def export(df: pd.DataFrame, fmt: str) -> str:
    """The run in ``fmt`` (one of FORMATS), as text."""
    if fmt == "bmf":
        return json.dumps(bmf(df), indent=1) + "\n"
    if fmt.startswith("github-action-benchmark"):
        return json.dumps(github_action_benchmark(df, smaller=fmt.endswith("smaller")), indent=1) + "\n"
    if fmt == "csv":
        return flat_csv(df)
    if fmt == "openmetrics":
        return openmetrics(df)
    raise InputError(f"--format {fmt!r}: valid: {', '.join(FORMATS)}")


def is_export(path: Path, fmt: str) -> bool:
    """Whether an existing file is one ``export --format fmt`` wrote (so it may be replaced)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if not text.strip():
        return True
    if fmt == "csv":
        return text.startswith("machine,run,datetime,commit,case_id,")
    if fmt == "openmetrics":
        return text.startswith("# TYPE resnet_bench_") and text.rstrip().endswith("# EOF")
    try:
        data = json.loads(text)
    except ValueError:
        return False
    if fmt == "bmf":
        return isinstance(data, dict) and all(
            isinstance(v, dict) and "images_per_sec" in v for v in data.values()
        )
    return isinstance(data, list) and all(
        isinstance(v, dict) and {"name", "unit", "value"} <= set(v) for v in data
    )

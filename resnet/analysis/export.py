"""A run in the formats the ecosystem's own tools read, every figure with its interval:

- ``bmf``: Bencher Metric Format, ``{benchmark: {measure: {value, lower_value, upper_value}}}``.
- ``github-action-benchmark`` / ``github-action-benchmark-smaller``: its
  ``customBiggerIsBetter`` (images/s) and ``customSmallerIsBetter`` (latency, memory) JSON,
  ``[{name, unit, value, range, extra}]``, ``range`` as ``± x`` (the 95% interval's wider side).
- ``csv``: one flat row per case, every schema field (lists as JSON), as timm's CSV is used.
- ``openmetrics``: gauges in base units (seconds, bytes) labelled by machine, run, commit,
  time and every axis, written by prometheus-client, for a Prometheus pushgateway or a node
  exporter's textfile collector feeding Grafana.

Paired rows (a version or precision over another, measured in alternating rounds) are
exported beside the cases as their ``ratio`` with its interval. Bencher and
github-action-benchmark take one run per upload, so an export for them holds one run per
machine (several are refused in one line); CSV and OpenMetrics take several, each row or
sample labelled with its run.
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
    ("ratio", "ratio", "x", ("ratio_ci_low", "ratio_ci_high")),  # paired rows
)
#: Formats that take one run per machine.
ONE_RUN = ("bmf", "github-action-benchmark", "github-action-benchmark-smaller")
SMALLER = (
    ("latency_ms_p50", "latency_ms_p50", "ms", ("latency_ms_p50_ci_low", "latency_ms_p50_ci_high")),
    ("latency_ms_p99", "latency_ms_p99", "ms", (None, None)),
    ("peak_host_rss_mb", "peak_host_rss_mb", "MiB", (None, None)),
    ("peak_device_mem_mb", "peak_device_mem_mb", "MiB", (None, None)),
)
#: Flags a figure comes with, kept beside it where a format has room.
FLAGS = ("unstable", "drifted", "above_peak")


def _cases(df: pd.DataFrame) -> pd.DataFrame:
    """The finished case, paired and A/B rows, one per case id, machine and run."""
    frame = df[df["kind"].isin(("case", "paired", "ab")) & (df["status"] == "ok")]
    keys = ["machine", "run", "case_id"] if "run" in frame else ["machine", "case_id"]
    return frame.drop_duplicates(keys, keep="last")


def one_run_per_machine(df: pd.DataFrame, fmt: str) -> None:
    """Refuse, in one line, an export for a one-run format that holds several runs of a machine."""
    if fmt not in ONE_RUN or "run" not in df or df.empty:
        return
    runs = df.groupby("machine", sort=False)["run"].unique()
    for machine, names in runs.items():
        if len(names) > 1:
            listed = ", ".join(printable(str(n)) for n in names[:4]) + (", ..." if len(names) > 4 else "")
            raise InputError(
                f"--format {fmt}: {len(names)} runs of machine {printable(str(machine))} ({listed}); "
                "Bencher and github-action-benchmark take one run per upload: export each run on "
                "its own (csv and openmetrics take several)"
            )


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
                # its page shows range as "± x": the interval's wider side (the interval in extra)
                entry["range"] = f"± {max(value - lo, hi - value):.4g}"
                noun = "alternating rounds" if row.get("kind") in ("paired", "ab") else "steps"
                extra.append(f"95% interval [{lo:.4g}, {hi:.4g}], {int(row.get('rounds') or 0)} {noun}")
            extra += [flag for flag in FLAGS if row.get(flag) is True]
            if extra:
                entry["extra"] = "; ".join(extra)
            out.append(entry)
    return out


def _whole(column: pd.Series) -> pd.Series:
    """An integer field's column as integers (pandas keeps a column with gaps as floats)."""
    numbers = pd.to_numeric(column, errors="coerce")
    whole = numbers.dropna()
    if len(whole) != column.notna().sum() or not (whole == whole.round()).all():
        return column  # not all whole numbers: left as written
    return numbers.astype("Int64")


def flat_csv(df: pd.DataFrame) -> str:
    """One row per case (every kind and status, ``kind`` its own column to filter on), every
    schema field, integer fields as integers; lists as JSON."""
    frame = df.copy()
    columns = ["machine", "run", "datetime", "commit", *FIELDS]
    for col in columns:
        if col not in frame:
            frame[col] = None
    frame = frame[columns]
    for col in columns:
        field = FIELDS.get(col)
        if field is not None and field.role == "samples":
            frame[col] = frame[col].map(lambda v: json.dumps(v) if isinstance(v, list) else v)
        elif field is not None and field.type == (int,):
            frame[col] = _whole(frame[col])
    return csv_text(frame, index=False)


def _label(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)  # pandas keeps whole-number axes as floats
    text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
    return printable(text)  # CR, LF, ESC and the rest as their escapes, as text: one sample, one line


#: OpenMetrics families in base units: row field -> (family name without its unit, unit, scale).
#: Throughput and ratios have no base unit, so no ``# UNIT`` line.
OPENMETRICS: dict[str, tuple[str, str, float]] = {
    "images_per_sec": ("resnet_bench_images_per_second", "", 1.0),
    "ratio": ("resnet_bench_paired_ratio", "", 1.0),
    "latency_ms_p50": ("resnet_bench_latency_p50", "seconds", 1e-3),
    "latency_ms_p99": ("resnet_bench_latency_p99", "seconds", 1e-3),
    "peak_host_rss_mb": ("resnet_bench_peak_host_rss", "bytes", 2.0**20),
    "peak_device_mem_mb": ("resnet_bench_peak_device_memory", "bytes", 2.0**20),
}
#: Every sample's labels: which machine, run, commit and time, and every axis of the case.
OPENMETRICS_LABELS = ("machine", "run", "commit", "datetime", "case_id", *AXES)


def openmetrics(df: pd.DataFrame) -> str:
    """OpenMetrics text written by prometheus-client: a gauge family per figure in base units
    (seconds, bytes; ``# UNIT`` where there is one), its interval's ends as families of their
    own, a sample per case and run labelled by machine, run, commit, time and every axis;
    ends with ``# EOF``."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.openmetrics.exposition import generate_latest

    frame = _cases(df)
    families = []
    for field, _, _, (low, high) in (*BIGGER, *SMALLER):
        name, unit, scale = OPENMETRICS[field]
        parts = [(field, name, FIELDS[field].doc)]
        parts += [
            (end, f"{name}_ci_{end.rsplit('_', 1)[1]}", f"{FIELDS[end].doc} of {field}")
            for end in (low, high)
            if end
        ]
        for column, family_name, doc in parts:
            family = GaugeMetricFamily(family_name, doc, labels=OPENMETRICS_LABELS, unit=unit)
            for _, row in frame.iterrows():
                value = finite(row.get(column))
                if value is not None:
                    family.add_metric([_label(row.get(key)) for key in OPENMETRICS_LABELS], value * scale)
            if family.samples:
                families.append(family)

    class Collector:
        def collect(self) -> Any:
            return iter(families)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector())
    return generate_latest(registry).decode("utf-8")


def export(df: pd.DataFrame, fmt: str) -> str:
    """The run in ``fmt`` (one of FORMATS), as text."""
    one_run_per_machine(df, fmt)
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
        ours = text.startswith(("# HELP resnet_bench_", "# TYPE resnet_bench_"))
        return ours and text.rstrip().endswith("# EOF")
    try:
        data = json.loads(text)
    except ValueError:
        return False
    if fmt == "bmf":
        measures = {measure for _, measure, _, _ in (*BIGGER, *SMALLER)}
        return isinstance(data, dict) and all(
            isinstance(v, dict) and v and set(v) <= measures for v in data.values()
        )
    return isinstance(data, list) and all(
        isinstance(v, dict) and {"name", "unit", "value"} <= set(v) for v in data
    )

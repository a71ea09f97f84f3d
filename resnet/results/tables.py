"""From result rows to tables: one function per table, each a pandas DataFrame whose
index names what the figures are of.

Several runs of one machine are kept side by side (a ``run`` level in the index,
added only where two rows would otherwise share a cell), never merged or dropped.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from resnet.schema import AXES, OURS_FOR

#: What a configuration is, besides its version and batch size: the machine, the run
#: (only where needed to keep runs apart) and every other case axis.
CONFIG = ["machine", *[a for a in AXES if a not in ("version", "batch_size")]]
#: Keys a reader always needs, even when they do not vary.
ALWAYS = {"mode", "precision", "device", "version"}


def cases(df: pd.DataFrame) -> pd.DataFrame:
    """The throughput cases, their axes with plain values (threads 0 = all cores)."""
    out = df[df["kind"] == "case"].copy()
    out["threads"] = out["threads"].fillna(0).astype(int)
    out["jit"] = out["jit"].fillna(False).astype(bool)
    out["batch_size"] = out["batch_size"].astype(int)
    out["replicas"] = out["replicas"].fillna(1).astype(int)
    return out


def ok(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that finished with a throughput figure."""
    return df[(df["status"] == "ok") & df["images_per_sec"].notna()]


def index_keys(df: pd.DataFrame, keys: list[str], cell: list[str] | None = None) -> list[str]:
    """The grouping keys that vary (a table reads better without constants), the ones a
    reader always needs, and ``run`` where two runs would otherwise share a cell
    (``cell``: the keys that, with these, address one figure)."""
    out = [k for k in keys if k in ALWAYS or df[k].nunique(dropna=False) > 1]
    full = [*out, *(cell or [])]
    if "run" in df and len(df) and df.duplicated(full).any():
        out.insert(out.index("machine") + 1 if "machine" in out else 0, "run")
    return out


def _cell(row: pd.Series, column: str, digits: int = 1) -> Any:
    if row["status"] != "ok":
        return str(row["status"])  # failed and skipped cases show as such, never as zero
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return round(float(value), digits)


def _by_batch(frame: pd.DataFrame, column: str, digits: int = 1) -> pd.DataFrame:
    """``column`` laid out as configuration x version rows and batch-size columns."""
    if frame.empty:
        return pd.DataFrame()
    keys = index_keys(frame, [*CONFIG, "version"], ["batch_size"])
    cell = frame.apply(lambda r: _cell(r, column, digits), axis=1)
    table = frame.assign(cell=cell).pivot(index=keys, columns="batch_size", values="cell")
    table.columns = [f"bs {c}" for c in table.columns]
    return table


def throughput_table(df: pd.DataFrame) -> pd.DataFrame:
    """images/s, version x batch size, for each mode, precision and device."""
    return _by_batch(cases(df), "images_per_sec")


def utilization_table(df: pd.DataFrame) -> pd.DataFrame:
    """Percent of the device's measured matrix-product peak."""
    frame = cases(df)
    frame["utilization_pct"] = pd.to_numeric(frame["utilization"], errors="coerce") * 100
    return _by_batch(frame, "utilization_pct", 0)


def peak_memory(frame: pd.DataFrame) -> pd.Series:
    """Device memory on GPUs, the worker's peak RSS on CPUs (MiB)."""
    dev = pd.to_numeric(frame["peak_device_mem_mb"], errors="coerce")
    host = pd.to_numeric(frame["peak_host_rss_mb"], errors="coerce")
    return dev.where(dev.notna(), host)


def memory_table(df: pd.DataFrame) -> pd.DataFrame:
    """Peak memory (device memory on GPUs, process RSS on CPUs), MiB."""
    frame = cases(df)
    frame["peak_mem_mb"] = peak_memory(frame)
    return _by_batch(frame, "peak_mem_mb", 0)


def latency_table(df: pd.DataFrame) -> pd.DataFrame:
    """Step latency percentiles (ms) per case."""
    frame = ok(cases(df))
    if frame.empty:
        return pd.DataFrame()
    keys = [*index_keys(frame, [*CONFIG, "version"], ["batch_size"]), "batch_size"]
    table = frame.set_index(keys)[["latency_ms_p50", "latency_ms_p90", "latency_ms_p99"]]
    return table.astype(float).round(1).sort_index()


def _ratio_to(df: pd.DataFrame, column: str, base: str) -> pd.DataFrame:
    """Each finished case with ``ratio``: its images/s over the case that differs only
    by ``column`` == ``base`` (same machine and run)."""
    frame = ok(cases(df))
    keys = [k for k in ["run", *CONFIG, "version", "batch_size"] if k != column]
    ref = frame[frame[column] == base].set_index(keys)["images_per_sec"]
    out = frame[frame[column] != base].copy()
    out["ratio"] = [
        r["images_per_sec"] / ref.get(tuple(r[k] for k in keys), math.nan) for _, r in out.iterrows()
    ]
    return out[out["ratio"].notna()]


def _ratio_table(out: pd.DataFrame, digits: int) -> pd.DataFrame:
    if out.empty:
        return pd.DataFrame()
    keys = index_keys(out, [*CONFIG, "version"], ["batch_size"])
    table = out.pivot(index=keys, columns="batch_size", values="ratio").round(digits)
    table.columns = [f"bs {c}" for c in table.columns]
    return table


def speedup_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mixed precision's images/s over float32 for the same case."""
    return _ratio_table(_ratio_to(df, "precision", "float32"), 2)


def version_cost_table(df: pd.DataFrame) -> pd.DataFrame:
    """Each version's images/s relative to v1 (published: v1.5 about 5% slower)."""
    out = _ratio_to(df, "version", "v1")
    out["version"] = out["version"] + "/v1"
    return _ratio_table(out, 3)


def best_batches(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group of ``keys``: the batch size with the most images/s, its images/s, and
    the largest batch that finished (the one rule the report and ``machines`` share)."""
    rows = []
    for key, group in frame.groupby(keys, dropna=False):
        done = ok(group)
        best = done.loc[done["images_per_sec"].idxmax()] if not done.empty else None
        failed = group[group["status"] != "ok"]
        rows.append(
            {
                **dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
                "best_batch": int(best["batch_size"]) if best is not None else None,
                "best_images_per_sec": float(best["images_per_sec"]) if best is not None else None,
                "largest_that_fit": int(done["batch_size"].max()) if not done.empty else None,
                "failed_batches": ", ".join(
                    f"{int(b)} ({s})" for b, s in zip(failed["batch_size"], failed["status"], strict=True)
                ),
                "best_row": best,
            }
        )
    return pd.DataFrame(rows)


def best_batch_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: the batch size with the most images/s, and the largest that fit."""
    frame = cases(df)
    if frame.empty:
        return pd.DataFrame()
    keys = index_keys(frame, [*CONFIG, "version"], ["batch_size"])
    table = best_batches(frame, keys).drop(columns="best_row").set_index(keys)
    return table.round({"best_images_per_sec": 1})


def size_table(df: pd.DataFrame) -> pd.DataFrame:
    """Parameters, multiply-accumulates and build time of each version."""
    builds = df[df["kind"] == "build"]
    if builds.empty:
        return pd.DataFrame()
    keys = (
        ["machine", "run", "version"]
        if builds.duplicated(["machine", "version"]).any()
        else ["machine", "version"]
    )
    cols = ["params_total", "params_trainable", "gmacs_per_image", "image_size", "build_s"]
    return builds.set_index(keys)[cols].round(3)


def goals_table(df: pd.DataFrame) -> pd.DataFrame:
    """The measured goals (ratios taken within one run)."""
    goals = df[df["kind"] == "goal"]
    if goals.empty:
        return pd.DataFrame()
    cols = [
        "machine",
        "goal",
        "datetime",
        "status",
        "images_per_sec",
        "reference_images_per_sec",
        "ratio",
        "reference",
    ]
    return goals[cols].set_index(["machine", "goal", "datetime"]).round(3)


def problems_table(df: pd.DataFrame) -> pd.DataFrame:
    """Every case that did not finish, with its reason."""
    bad = df[df["status"] != "ok"]
    if bad.empty:
        return pd.DataFrame()
    return bad[["machine", "run", "case_id", "status", "reason"]].set_index(["machine", "run", "case_id"])


def scaling_table(df: pd.DataFrame) -> pd.DataFrame:
    """images/s and scaling efficiency against data-parallel replicas."""
    frame = ok(cases(df))
    if frame["replicas"].nunique() < 2:
        return pd.DataFrame()
    keys = index_keys(frame, [k for k in [*CONFIG, "version"] if k != "replicas"], ["batch_size", "replicas"])
    cols = ["global_batch", "images_per_sec", "scaling_efficiency"]
    return frame.set_index([*keys, "batch_size", "replicas"])[cols].astype(float).round(3).sort_index()


def _jit_label(row: pd.Series) -> str:
    return f"{row['backend']}, jit {'on' if row['jit'] else 'off'}"


def peer_table(df: pd.DataFrame) -> pd.DataFrame:
    """Our model against each reference (keras.applications) or peer (torchvision) of
    the same layout, on the same machine, device, mode, precision and batch: the
    images/s of our best configuration (any backend, jit on or off) over theirs."""
    frame = ok(cases(df))
    refs = frame[frame["version"].isin(list(OURS_FOR))]
    match = ["machine", "device", "mode", "precision", "batch_size", "image_size", "threads", "replicas"]
    rows = []
    for _, ref in refs.iterrows():
        ours = frame[frame["version"] == OURS_FOR[ref["version"]]]
        for k in match:
            ours = ours[ours[k] == ref[k]]
        if ours.empty:
            continue
        best = ours.loc[ours["images_per_sec"].idxmax()]
        rows.append(
            {
                **{k: ref[k] for k in match},
                "theirs": f"{ref['version']} ({_jit_label(ref)})",
                "theirs_images_per_sec": round(float(ref["images_per_sec"]), 1),
                "ours": f"{best['version']} ({_jit_label(best)})",
                "ours_images_per_sec": round(float(best["images_per_sec"]), 1),
                "ours_over_theirs": round(float(best["images_per_sec"] / ref["images_per_sec"]), 3),
            }
        )
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows)
    keys = [k for k in match if k in ("mode", "precision", "batch_size") or table[k].nunique() > 1]
    return table.set_index([*keys, "theirs"]).drop(columns=[k for k in match if k not in keys]).sort_index()


#: The report's tables, in order: file stem -> (heading, function).
TABLES = {
    "throughput": ("Throughput (images/s)", throughput_table),
    "mixed_precision_speedup": ("Mixed precision speed-up over float32", speedup_table),
    "version_cost": ("Each version's images/s relative to v1", version_cost_table),
    "ours_vs_theirs": (
        "Ours against references and peers of the same layout (not ours: keras-v1, keras-v2, "
        "torchvision-resnet50)",
        peer_table,
    ),
    "memory": ("Peak memory (MiB: device memory on GPUs, process RSS on CPUs)", memory_table),
    "latency": ("Step latency (ms)", latency_table),
    "best_batch": ("Best batch size and largest that fit", best_batch_table),
    "utilization": ("Utilization (% of the measured matrix-product peak)", utilization_table),
    "model_size": ("Parameters, multiply-accumulates, build time", size_table),
    "goals": ("Measured goals (ratios within one run)", goals_table),
    "scaling": (
        "Data-parallel scaling (per-replica batch; efficiency = N-replica over N x 1-replica)",
        scaling_table,
    ),
    "problems": ("Cases that did not run", problems_table),
}

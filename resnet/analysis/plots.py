"""From result rows to matplotlib figures, and figures to files and embeddable PNGs.

Matplotlib runs headless (Agg) and draws every label as plain text: a ``$`` in a
machine name is a dollar sign, never mathtext.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from resnet.analysis.tables import (  # noqa: E402
    cases,
    ok,
    peak_memory,
)


def subtitle(df: pd.DataFrame) -> str:
    """The machines and backends a figure is of."""
    machines = ", ".join(sorted(map(str, df["machine"].dropna().unique())))
    backends = ", ".join(sorted(map(str, df["backend"].dropna().unique())))
    return f"{machines} | Keras backend: {backends}"


def _label(key: Any) -> str:
    return " ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))


def line_plot(frame: pd.DataFrame, column: str, ylabel: str, title: str, sub: str) -> Any:
    """``column`` against batch size, one line per version and precision (and whatever
    else varies), one panel per mode."""
    modes = [m for m in ("inference", "training") if m in set(frame["mode"])] or ["inference"]
    fig, axes = plt.subplots(1, len(modes), figsize=(6.5 * len(modes), 4.6), squeeze=False)
    series = [k for k in ["machine", "run", "backend", "device", "threads", "jit"] if frame[k].nunique() > 1]
    for ax, mode in zip(axes[0], modes, strict=True):
        sub_frame = frame[frame["mode"] == mode]
        for key, group in sub_frame.groupby([*series, "version", "precision"], dropna=False):
            group = group.sort_values("batch_size")
            x, y = group["batch_size"], pd.to_numeric(group[column], errors="coerce")
            has_ci = f"{column}_ci_low" in group and group[f"{column}_ci_low"].notna().any()
            if has_ci:
                lo = pd.to_numeric(group[f"{column}_ci_low"], errors="coerce")
                hi = pd.to_numeric(group[f"{column}_ci_high"], errors="coerce")
                yerr = [(y - lo).clip(lower=0).fillna(0), (hi - y).clip(lower=0).fillna(0)]
                ax.errorbar(x, y, yerr=yerr, marker="o", capsize=3, label=_label(key))
            else:
                ax.plot(x, y, marker="o", label=_label(key))
        ax.set_xscale("log", base=2)
        sizes = sorted(set(sub_frame["batch_size"]))
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.set_xlabel("batch size (images, log2 scale)")
        ax.set_ylabel(ylabel)
        ax.set_title(mode)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{title}\n{sub}", fontsize=11)
    fig.tight_layout()
    return fig


def bar_plot(table: pd.DataFrame, ylabel: str, title: str, sub: str, ref: float | None = None) -> Any:
    """One group of bars per table row, one bar per column."""
    fig, ax = plt.subplots(figsize=(max(6.5, 0.9 * len(table) + 3), 4.6))
    width = 0.8 / max(1, len(table.columns))
    for j, col in enumerate(table.columns):
        values = pd.to_numeric(table[col], errors="coerce")
        ax.bar([i + j * width for i in range(len(table))], values, width, label=str(col))
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(table))])
    ax.set_xticklabels([_label(i) for i in table.index], rotation=30, ha="right", fontsize=8)
    if ref is not None:
        ax.axhline(ref, color="black", linewidth=0.8)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"{title}\n{sub}", fontsize=11)
    fig.tight_layout()
    return fig


def scaling_plot(flat: pd.DataFrame, sub: str) -> Any:
    """images/s and scaling efficiency against replicas."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.6))
    keys = [
        k
        for k in flat.columns
        if k not in ("replicas", "global_batch", "images_per_sec", "scaling_efficiency")
    ]
    for key, group in flat.groupby(keys):
        group = group.sort_values("replicas")
        ax1.plot(group["replicas"], group["images_per_sec"], marker="o", label=_label(key))
        ax2.plot(group["replicas"], group["scaling_efficiency"], marker="o", label=_label(key))
    for ax in (ax1, ax2):
        ax.set_xlabel("replicas")
        ax.set_xticks(sorted(set(flat["replicas"])))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_ylabel("images per second (all replicas)")
    ax2.set_ylabel("scaling efficiency (1 = linear)")
    ax2.axhline(1.0, color="black", linewidth=0.8)
    fig.suptitle(f"Data-parallel scaling\n{sub}", fontsize=11)
    fig.tight_layout()
    return fig


def report_figures(
    df: pd.DataFrame, tables: dict[str, pd.DataFrame], paired: dict[str, pd.DataFrame]
) -> dict[str, Any]:
    """The report's figures, by file stem, drawn from the rows and from what the report
    computed of them (``tables`` and ``paired``: resnet.analysis.tables.compute_tables)."""
    frame = ok(cases(df))
    if frame.empty:
        return {}
    sub = subtitle(frame)
    frame = frame.assign(peak_mem_mb=peak_memory(frame))
    figs = {
        "throughput": line_plot(
            frame, "images_per_sec", "images per second", "ResNet-50 throughput against batch size", sub
        ),
        "memory": line_plot(frame, "peak_mem_mb", "peak memory (MiB)", "Peak memory against batch size", sub),
    }
    if not paired["version"].empty:
        figs["version_cost"] = paired_plot(
            paired["version"], "Versions relative to v1, paired (95% intervals)", sub
        )
    if not paired["precision"].empty:
        figs["speedup"] = paired_plot(
            paired["precision"], "Mixed precision speed-up, paired (95% intervals)", sub
        )
    elif not tables["mixed_precision_speedup"].empty:
        figs["speedup"] = bar_plot(
            tables["mixed_precision_speedup"],
            "speed-up (x, float32 = 1)",
            "Mixed precision speed-up",
            sub,
            1.0,
        )
    drift = drift_plot(df[df["kind"].isin(["case", "window"])], sub)
    if drift is not None:
        figs["drift"] = drift
    scale = tables["scaling"]
    if not scale.empty:
        figs["scaling"] = scaling_plot(scale.reset_index(), sub)
    smallest = int(frame["batch_size"].min())
    small = frame[frame["batch_size"] == smallest]
    keys = [k for k in ["machine", "run", "backend", "device", "threads", "jit"] if small[k].nunique() > 1]
    table = small.set_index([*keys, "version", "precision", "mode"])[
        ["latency_ms_p50", "latency_ms_p90", "latency_ms_p99"]
    ].rename(columns=lambda c: c.replace("latency_ms_", ""))
    figs["latency"] = bar_plot(table, "step latency (ms)", f"Latency percentiles at batch {smallest}", sub)
    return figs


def paired_plot(rows: pd.DataFrame, title: str, sub: str) -> Any:
    """Paired ratios with their 95% intervals as error bars; the line at 1 is "no difference"."""
    labels, ratios, lows, highs = [], [], [], []
    fixed = "precision" if rows["comparison"].iloc[0] == "version" else "version"
    for _, r in rows.sort_values(["mode", fixed, "batch_size", "ratio_of"]).iterrows():
        labels.append(f"{r['mode']} bs{r['batch_size']} {r[fixed]}: {r['ratio_of']}")
        ratios.append(r["ratio"])
        lows.append(r["ratio"] - r["ratio_ci_low"])
        highs.append(r["ratio_ci_high"] - r["ratio"])
    fig, ax = plt.subplots(figsize=(max(6.5, 0.7 * len(labels) + 3), 4.6))
    ax.bar(range(len(labels)), ratios, color="#7aa6c2")
    ax.errorbar(range(len(labels)), ratios, yerr=[lows, highs], fmt="none", ecolor="black", capsize=4)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("images/s ratio (95% interval)")
    lo = min(r - d for r, d in zip(ratios, lows, strict=True))
    hi = max(r + d for r, d in zip(ratios, highs, strict=True))
    ax.set_ylim(min(0.9, lo - 0.05), max(1.1, hi + 0.05))
    ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"{title}\n{sub}", fontsize=11)
    fig.tight_layout()
    return fig


def drift_plot(df: pd.DataFrame, sub: str) -> Any | None:
    """The drift monitor: the probe's speed over the run's time, relative to the run's
    median, one series per run and device; the band is +-10%."""
    frame = df[df["machine_speed_series"].map(lambda s: isinstance(s, list) and len(s) > 0)]
    if frame.empty:
        return None
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for key, group in frame.groupby(["run", "device"]):
        points = sorted((float(t), float(g)) for s in group["machine_speed_series"] for t, g in s)
        t0 = points[0][0]
        median = float(pd.Series([g for _, g in points]).median())
        ax.plot([(t - t0) / 60 for t, _ in points], [g / median for _, g in points], ".-", label=_label(key))
    ax.axhspan(0.9, 1.1, color="#dfe", zorder=0)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xlabel("minutes since the run's first probe")
    ax.set_ylabel("probe speed / run median")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(f"Machine speed over the run (drift monitor)\n{sub}", fontsize=11)
    fig.tight_layout()
    return fig


def embed_figure(fig: Any, out: Path | None = None, stem: str = "", dpi: int = 110) -> str:
    """Render ``fig`` once as PNG (also saved as ``out/stem.png`` and ``.svg`` when
    ``out`` is given), close it, and return the PNG base64-encoded for an <img> tag."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    if out is not None:
        (out / f"{stem}.png").write_bytes(buf.getvalue())
        fig.savefig(out / f"{stem}.svg")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()

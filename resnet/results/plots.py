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

from resnet.results.tables import cases, latency_table, ok, peak_memory, scaling_table, speedup_table  # noqa: E402


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
            ax.plot(group["batch_size"], group[column], marker="o", label=_label(key))
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


def report_figures(df: pd.DataFrame) -> dict[str, Any]:
    """The report's figures, by file stem."""
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
    speed = speedup_table(df)
    if not speed.empty:
        figs["speedup"] = bar_plot(speed, "speed-up (x, float32 = 1)", "Mixed precision speed-up", sub, 1.0)
    scale = scaling_table(df)
    if not scale.empty:
        figs["scaling"] = scaling_plot(scale.reset_index(), sub)
    lat = latency_table(df)
    if not lat.empty:
        small = lat.reset_index()
        small = small[small["batch_size"] == small["batch_size"].min()]
        keys = [k for k in small.columns if k not in ("latency_ms_p50", "latency_ms_p90", "latency_ms_p99")]
        table = small.set_index(keys).rename(columns=lambda c: c.replace("latency_ms_", ""))
        figs["latency"] = bar_plot(
            table, "step latency (ms)", f"Latency percentiles at batch {int(small['batch_size'].min())}", sub
        )
    return figs


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

"""Progress lines: what a run prints as each measurement starts and finishes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

#: The figures a progress line shows, in this order, when a row has them.
HEADLINE: dict[str, Callable[[float], str]] = {
    "images_per_sec": lambda v: f"{v:.1f} img/s",
    "images_per_sec_per_core": lambda v: f"{v:.1f} img/s per core",
    "input_bound_fraction": lambda v: f"{100 * v:.0f}% lost to input",
    "samples_per_sec": lambda v: f"{v:.1f} samples/s",
    "server_peak_qps": lambda v: f"peak {v:.1f} QPS",
    "lg_p90_ms": lambda v: f"p90 {v:.1f} ms",
    "lg_p99_ms": lambda v: f"p99 {v:.1f} ms",
    "latency_ms_p50": lambda v: f"p50 {v:.1f} ms",
    "compile_s": lambda v: f"compile {v:.1f} s",
    "utilization": lambda v: f"{100 * v:.0f}% of peak",
    "ratio": lambda v: f"ratio {v:.3f}",
    "build_s": lambda v: f"build {v:.2f} s",
}
PREFIX = "[resnet-bench]"


def headline(row: dict[str, Any]) -> str:
    """A row's figures in one line: ``20.3 img/s [19.8, 20.9], p50 1578.8 ms, compile 3.2 s``."""
    if row["status"] != "ok":
        return f"{row['status'].upper()}: {row['reason']}"
    names = [n for n in HEADLINE if n != "build_s" or row.get("kind") == "build"]  # a case's is its step
    parts = [HEADLINE[name](row[name]) for name in names if row.get(name) is not None]
    if row.get("images_per_sec_ci_low") is not None and parts:
        parts[0] += f" [{row['images_per_sec_ci_low']:.1f}, {row['images_per_sec_ci_high']:.1f}]"
    if row.get("unstable"):
        parts.append("UNSTABLE (windows disagree)")
    elif row.get("stability") == "unknown" and (row.get("windows") or 0) > 1:
        parts.append("stability unknown (steps too noisy to tell)")
    if row.get("machine_speed_gflops") is not None and row.get("kind") == "window":
        parts.append(f"machine {row['machine_speed_gflops']:.0f} GFLOP/s")
    return ", ".join(parts) or "done"


def paired_text(row: dict[str, Any]) -> str:
    """``0.943 [0.925, 0.961]`` or ``no difference (1.004 [0.981, 1.030])``."""
    if row["status"] != "ok":
        return row["status"]
    text = f"{row['ratio']:.3f} [{row['ratio_ci_low']:.3f}, {row['ratio_ci_high']:.3f}]"
    return text if row["differs"] else f"no difference ({text})"


class Progress:
    """Where progress lines go (``write``), each stamped with the time of day."""

    def __init__(self, write: Callable[[str], None] = print) -> None:
        self.write = write

    def line(self, text: str, stamp: bool = True) -> None:
        """One line: ``[resnet-bench] 12:00:00 text`` (or without the time)."""
        self.write(f"{PREFIX} {time.strftime('%H:%M:%S')} {text}" if stamp else f"{PREFIX} {text}")

    def start(self, name: str) -> float:
        """A measurement starts; returns its start time."""
        self.line(f"start  {name}")
        return time.monotonic()

    def done(self, name: str, row: dict[str, Any], t0: float) -> None:
        """A measurement finished, with its headline."""
        self.line(f"finish {name} ({time.monotonic() - t0:.0f} s): {headline(row)}")

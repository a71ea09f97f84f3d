"""From result rows to tables (Markdown, CSV, HTML), plots (PNG, SVG) and one
self-contained HTML report."""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

import pandas as pd

GROUP = ["machine", "backend", "device", "mode", "precision", "jit", "threads", "image_size", "replicas"]
VERSION_ORDER = ["v1", "v1.5", "v2", "keras-v1", "keras-v2", "torchvision-resnet50"]


def _cases(df: pd.DataFrame) -> pd.DataFrame:
    cases = df[df["kind"] == "case"].copy()
    cases["threads"] = cases["threads"].fillna(0).astype(int)
    cases["jit"] = cases["jit"].fillna(False).astype(bool)
    cases["batch_size"] = cases["batch_size"].astype(int)
    cases["replicas"] = cases["replicas"].fillna(1).astype(int) if "replicas" in cases else 1
    return cases


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["status"] == "ok") & df["images_per_sec"].notna()]


def _index(df: pd.DataFrame, keys: list[str]) -> list[str]:
    """Keep only the grouping keys that vary (a table reads better without constants),
    but always the ones a reader needs."""
    keep = {"mode", "precision", "device", "version"}
    return [k for k in keys if k in keep or df[k].nunique(dropna=False) > 1]


def _cell(row: pd.Series, column: str, digits: int = 1) -> Any:
    if row["status"] != "ok":
        return str(row["status"])  # failed and skipped cases show as such, never as zero
    value = row.get(column)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return round(float(value), digits)


def _by_batch(cases: pd.DataFrame, column: str, digits: int = 1) -> pd.DataFrame:
    if cases.empty:
        return pd.DataFrame()
    keys = _index(cases, [*GROUP, "version"])
    cell = cases.apply(lambda r: _cell(r, column, digits), axis=1)
    table = cases.assign(cell=cell).pivot_table(
        index=keys, columns="batch_size", values="cell", aggfunc="first"
    )
    table.columns = [f"bs {c}" for c in table.columns]
    return table


def throughput_table(df: pd.DataFrame) -> pd.DataFrame:
    """images/s, version x batch size, for each mode, precision and device."""
    return _by_batch(_cases(df), "images_per_sec")


def utilization_table(df: pd.DataFrame) -> pd.DataFrame:
    """Percent of the device's measured matrix-product peak."""
    cases = _cases(df)
    cases["utilization_pct"] = cases["utilization"].astype(float) * 100
    return _by_batch(cases, "utilization_pct", 0)


def memory_table(df: pd.DataFrame) -> pd.DataFrame:
    """Peak memory (device memory on GPUs, process RSS on CPUs), MiB."""
    cases = _cases(df)
    cases["peak_mem_mb"] = _peak_mem(cases)
    return _by_batch(cases, "peak_mem_mb", 0)


def _peak_mem(cases: pd.DataFrame) -> pd.Series:
    dev = pd.to_numeric(cases.get("peak_device_mem_mb"), errors="coerce")
    host = pd.to_numeric(cases.get("peak_host_rss_mb"), errors="coerce")
    return dev.where(dev.notna(), host)


def latency_table(df: pd.DataFrame) -> pd.DataFrame:
    """Step latency percentiles (ms) per case."""
    cases = _ok(_cases(df))
    if cases.empty:
        return pd.DataFrame()
    keys = [*_index(cases, [*GROUP, "version"]), "batch_size"]
    table = cases.set_index(keys)[["latency_ms_p50", "latency_ms_p90", "latency_ms_p99"]]
    return table.astype(float).round(1).sort_index()


def _ratio_to(df: pd.DataFrame, column: str, base: str) -> pd.DataFrame:
    cases = _ok(_cases(df))
    keys = [k for k in [*GROUP, "version", "batch_size"] if k != column]
    ref = cases[cases[column] == base].set_index(keys)["images_per_sec"]
    out = cases[cases[column] != base].copy()
    out["ratio"] = [
        row["images_per_sec"] / ref.get(tuple(row[k] for k in keys), math.nan) for _, row in out.iterrows()
    ]
    return out[out["ratio"].notna()]


def speedup_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mixed precision's images/s over float32 for the same case."""
    out = _ratio_to(df, "precision", "float32")
    if out.empty:
        return pd.DataFrame()
    keys = _index(out, [*GROUP, "version"])
    table = out.pivot_table(index=keys, columns="batch_size", values="ratio", aggfunc="first").round(2)
    table.columns = [f"bs {c}" for c in table.columns]
    return table


def version_cost_table(df: pd.DataFrame) -> pd.DataFrame:
    """Each version's images/s relative to v1 (published: v1.5 about 5% slower)."""
    out = _ratio_to(df, "version", "v1")
    if out.empty:
        return pd.DataFrame()
    out["version"] = out["version"] + "/v1"
    keys = _index(out, [*GROUP, "version"])
    table = out.pivot_table(index=keys, columns="batch_size", values="ratio", aggfunc="first").round(3)
    table.columns = [f"bs {c}" for c in table.columns]
    return table


def best_batch_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: the batch size with the most images/s, and the largest that fit."""
    cases = _cases(df)
    if cases.empty:
        return pd.DataFrame()
    keys = _index(cases, [*GROUP, "version"])
    rows = []
    for key, group in cases.groupby(keys, dropna=False):
        ok = _ok(group)
        best = ok.loc[ok["images_per_sec"].idxmax()] if not ok.empty else None
        failed = group[group["status"] != "ok"]
        rows.append(
            {
                **dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)),
                "best_batch": int(best["batch_size"]) if best is not None else None,
                "best_images_per_sec": round(float(best["images_per_sec"]), 1) if best is not None else None,
                "largest_that_fit": int(ok["batch_size"].max()) if not ok.empty else None,
                "failed_batches": ", ".join(
                    f"{int(b)} ({s})" for b, s in zip(failed["batch_size"], failed["status"], strict=True)
                ),
            }
        )
    return pd.DataFrame(rows).set_index(keys)


def size_table(df: pd.DataFrame) -> pd.DataFrame:
    """Parameters, multiply-accumulates and build time of each version."""
    builds = df[df["kind"] == "build"]
    if builds.empty:
        return pd.DataFrame()
    cols = [
        "machine",
        "version",
        "params_total",
        "params_trainable",
        "gmacs_per_image",
        "image_size",
        "build_s",
    ]
    cols = [c for c in cols if c in builds.columns]
    return builds[cols].set_index(["machine", "version"]).round(3)


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
    cols = [c for c in cols if c in goals.columns]
    return goals[cols].set_index(["machine", "goal", "datetime"]).round(3)


def problems_table(df: pd.DataFrame) -> pd.DataFrame:
    """Every case that did not finish, with its reason."""
    bad = df[df["status"] != "ok"]
    if bad.empty:
        return pd.DataFrame()
    return bad[["machine", "case_id", "status", "reason"]].set_index(["machine", "case_id"])


def scaling_table(df: pd.DataFrame) -> pd.DataFrame:
    """images/s and scaling efficiency against data-parallel replicas."""
    cases = _ok(_cases(df))
    if "replicas" not in cases or cases["replicas"].fillna(1).nunique() < 2:
        return pd.DataFrame()
    keys = [*_index(cases, [k for k in [*GROUP, "version"] if k != "replicas"]), "batch_size", "replicas"]
    cols = ["global_batch", "images_per_sec", "scaling_efficiency"]
    return cases.set_index(keys)[cols].astype(float).round(3).sort_index()


#: Each reference or peer model, and our version of the same layout.
OURS_FOR = {"keras-v1": "v1", "keras-v2": "v2", "torchvision-resnet50": "v1.5"}


def _jit_label(row: pd.Series) -> str:
    return f"{row['backend']}, jit {'on' if row['jit'] else 'off'}"


def peer_table(df: pd.DataFrame) -> pd.DataFrame:
    """Our model against each reference (keras.applications) or peer (torchvision) of
    the same layout, on the same machine, device, mode, precision and batch: the
    images/s of our best configuration (any backend, jit on or off) over theirs."""
    cases = _ok(_cases(df))
    refs = cases[cases["version"].isin(list(OURS_FOR))]
    match = ["machine", "device", "mode", "precision", "batch_size", "image_size", "threads", "replicas"]
    rows = []
    for _, ref in refs.iterrows():
        ours = cases[cases["version"] == OURS_FOR[ref["version"]]]
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


# -- plots -------------------------------------------------------------------
def _subtitle(df: pd.DataFrame) -> str:
    machines = ", ".join(sorted(map(str, df["machine"].dropna().unique())))
    backends = ", ".join(sorted(map(str, df["backend"].dropna().unique())))
    return f"{machines} | Keras backend: {backends}"


def _line_plot(cases: pd.DataFrame, column: str, ylabel: str, title: str, subtitle: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = [m for m in ("inference", "training") if m in set(cases["mode"])] or ["inference"]
    fig, axes = plt.subplots(1, len(modes), figsize=(6.5 * len(modes), 4.6), squeeze=False)
    series_keys = [k for k in ["machine", "backend", "device", "threads", "jit"] if cases[k].nunique() > 1]
    for ax, mode in zip(axes[0], modes, strict=True):
        sub = cases[cases["mode"] == mode]
        for key, group in sub.groupby([*series_keys, "version", "precision"], dropna=False):
            group = group.sort_values("batch_size")
            ax.plot(
                group["batch_size"],
                group[column],
                marker="o",
                label=" ".join(str(k) for k in (key if isinstance(key, tuple) else (key,))),
            )
        ax.set_xscale("log", base=2)
        sizes = sorted(set(sub["batch_size"]))
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.set_xlabel("batch size (images, log2 scale)")
        ax.set_ylabel(ylabel)
        ax.set_title(mode)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{title}\n{subtitle}", fontsize=11)
    fig.tight_layout()
    return fig


def _bar_plot(table: pd.DataFrame, ylabel: str, title: str, subtitle: str, ref: float | None = None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.5, 0.9 * len(table) + 3), 4.6))
    labels = [" ".join(str(x) for x in (i if isinstance(i, tuple) else (i,))) for i in table.index]
    width = 0.8 / max(1, len(table.columns))
    for j, col in enumerate(table.columns):
        values = pd.to_numeric(table[col], errors="coerce")
        ax.bar([i + j * width for i in range(len(table))], values, width, label=str(col))
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(table))])
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    if ref is not None:
        ax.axhline(ref, color="black", linewidth=0.8)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle(f"{title}\n{subtitle}", fontsize=11)
    fig.tight_layout()
    return fig


def _scaling_plot(flat: pd.DataFrame, subtitle: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.6))
    keys = [
        k
        for k in flat.columns
        if k not in ("replicas", "global_batch", "images_per_sec", "scaling_efficiency")
    ]
    for key, group in flat.groupby(keys):
        label = " ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        group = group.sort_values("replicas")
        ax1.plot(group["replicas"], group["images_per_sec"], marker="o", label=label)
        ax2.plot(group["replicas"], group["scaling_efficiency"], marker="o", label=label)
    for ax in (ax1, ax2):
        ax.set_xlabel("replicas")
        ax.set_xticks(sorted(set(flat["replicas"])))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_ylabel("images per second (all replicas)")
    ax2.set_ylabel("scaling efficiency (1 = linear)")
    ax2.axhline(1.0, color="black", linewidth=0.8)
    fig.suptitle(f"Data-parallel scaling\n{subtitle}", fontsize=11)
    fig.tight_layout()
    return fig


def figures(df: pd.DataFrame) -> dict[str, Any]:
    """The report's matplotlib figures, by file stem."""
    cases = _ok(_cases(df))
    if cases.empty:
        return {}
    sub = _subtitle(cases)
    cases = cases.assign(peak_mem_mb=_peak_mem(cases))
    figs = {
        "throughput": _line_plot(
            cases, "images_per_sec", "images per second", "ResNet-50 throughput against batch size", sub
        ),
        "memory": _line_plot(
            cases, "peak_mem_mb", "peak memory (MiB)", "Peak memory against batch size", sub
        ),
    }
    speed = speedup_table(df)
    if not speed.empty:
        figs["speedup"] = _bar_plot(speed, "speed-up (x, float32 = 1)", "Mixed precision speed-up", sub, 1.0)
    scale = scaling_table(df)
    if not scale.empty:
        figs["scaling"] = _scaling_plot(scale.reset_index(), sub)
    lat = latency_table(df)
    if not lat.empty:
        small = lat.reset_index()
        small = small[small["batch_size"] == small["batch_size"].min()]
        keys = [k for k in small.columns if k not in ("latency_ms_p50", "latency_ms_p90", "latency_ms_p99")]
        table = small.set_index(keys).rename(columns=lambda c: c.replace("latency_ms_", ""))
        figs["latency"] = _bar_plot(
            table, "step latency (ms)", f"Latency percentiles at batch {int(small['batch_size'].min())}", sub
        )
    return figs


# -- writing -----------------------------------------------------------------
def embed_figure(fig: Any, out: Path | None = None, stem: str = "", dpi: int = 110) -> str:
    """Render ``fig`` once as PNG (also saved as ``out/stem.png`` and ``.svg`` when
    ``out`` is given), close it, and return the PNG base64-encoded for an <img> tag."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    if out is not None:
        (out / f"{stem}.png").write_bytes(buf.getvalue())
        fig.savefig(out / f"{stem}.svg")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.85em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
.meta{color:#555}
"""


def write_report(df: pd.DataFrame, out: str | Path, title: str = "ResNet benchmark report") -> Path:
    """Write tables (md, csv, html), plots (png, svg) and ``report.html`` to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    for stem, (heading, fn) in TABLES.items():
        table = fn(df)
        if table.empty:
            continue
        table.to_csv(out / f"{stem}.csv")
        flat = table.reset_index()
        (out / f"{stem}.md").write_text(f"## {heading}\n\n{flat.to_markdown(index=False)}\n")
        sections.append((heading, table.to_html(escape=True, na_rep="")))
    images = []
    for stem, fig in figures(df).items():
        images.append((stem, embed_figure(fig, out, stem)))
    sources = ", ".join(sorted(map(str, df.get("source", pd.Series(dtype=str)).dropna().unique())))
    dates = ", ".join(sorted(map(str, df.get("datetime", pd.Series(dtype=str)).dropna().unique())))
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>{html.escape(_subtitle(df))}</p>",
        f"<p class='meta'>Runs: {html.escape(dates or 'n/a')}<br>Files: {html.escape(sources)}</p>",
    ]
    for stem, data in images:
        parts.append(f"<h2>{html.escape(stem.title())}</h2>")
        parts.append(
            f"<img id='fig-{stem}' alt='{html.escape(stem)} plot' src='data:image/png;base64,{data}'>"
        )
    for heading, table_html in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{table_html}")
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts))
    (out / "README.md").write_text(
        f"# {title}\n\n{_subtitle(df)}\n\n"
        + "".join(f"![{s}]({s}.png)\n\n" for s, _ in images)
        + "\n".join((out / f"{stem}.md").read_text() for stem in TABLES if (out / f"{stem}.md").exists())
    )
    return path

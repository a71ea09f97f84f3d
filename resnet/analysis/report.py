"""A report: tables (Markdown, CSV), plots (PNG, SVG), one self-contained
``report.html`` and a ``README.md`` that shows them, all from one DataFrame of rows."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from resnet.analysis.pages import csv_text, markdown_cell, markdown_table, table_data, write_page
from resnet.analysis.plots import embed_figure, report_figures, subtitle
from resnet.analysis.tables import LATENCY_NOTE, TABLES, compute_tables
from resnet.outputs import staged_folder

#: Every file name a report writes besides its tables and figures.
PAGES = ("report.html", "README.md")
FIGURE_HEADINGS = {
    "throughput": "Throughput",
    "memory": "Memory",
    "speedup": "Mixed precision speed-up",
    "version_cost": "Versions relative to v1",
    "drift": "Machine speed over the run",
    "scaling": "Data-parallel scaling",
    "latency": "Latency",
}
INTERVALS_NOTE = (
    "How to read a figure: 22.7 [22.3, 23.1] n=12 is the median step's images/s, its 95% "
    "interval (a two-level bootstrap: windows, then steps within them, so drift between "
    "windows widens it) and the number of timed steps. A cell a paired group also stepped "
    "shows the group's figure first: the model's images over the time of all its rounds, its "
    "95% interval (batch means over four segments of the rounds) and the rounds, then its "
    "isolated window's figure. 'unstable': the case's windows disagree beyond what their own "
    "steps explain (F test, 1% level, and more than 5% apart; or more than 25% apart). "
    "'drift': the machine ran more than 10% off its run's median speed (the drift probe) "
    "while the case was measured. Paired ratios come from models stepped alternately in one "
    "process; 'no difference' means the ratio's 95% interval contains 1. An interval with n "
    "marked * comes from fewer steps than a 95% interval of the median needs (6): indicative only."
)
UTILIZATION_NOTE = (
    "Utilization is the counted multiply-accumulates per second over the device's peak: the fastest "
    "matrix product measured on it (the backend's, PyTorch's or OpenVINO's; runs before 2026-12-02 "
    "measured the backend's only). A case whose counted work ran faster than that peak shows no figure "
    "(above_peak): a runtime that does less arithmetic than counted (Winograd convolutions) or a peak "
    "that was not the machine's."
)
SECTION_NOTES = {"latency": LATENCY_NOTE, "utilization": UTILIZATION_NOTE}
RUNS_NOTE = (
    "Several runs of one machine are shown side by side (a 'run' column names the file), never merged."
)


def rerun_notes(df: pd.DataFrame) -> list[str]:
    """Per run with enough windows: how far a rerun's figure may move (the window spread
    pooled over its cases, as ``compare`` uses it): an interval above is this run's own."""
    from resnet.analysis.compare import MIN_DF, run_window_variance
    from resnet.stats import relative_sd, rerun_half_width

    notes = []
    cases = df[df["kind"] == "case"]
    for source, rows in cases.groupby("run" if "run" in cases else "source", sort=True):
        variance, dof = run_window_variance(rows)
        if dof >= MIN_DF:
            counts = sorted({len(w) for w in rows["samples_s"] if isinstance(w, list) and w}, reverse=True)
            # A rerun with as many windows: the two medians differ by sd * sqrt(2 / windows).
            reruns = " and ".join(
                f"{100 * math.expm1(rerun_half_width(variance, dof, n) or 0):.0f}% for a case with "
                f"{n} window{'s' * (n > 1)}"
                for n in counts
            )
            moved = relative_sd(variance)
            notes.append(
                f"Reruns ({source}): between windows a case's median moved by {moved:.1f}% (1 sd, "
                f"pooled over its cases, {dof} df), so a rerun may differ from the figure here by "
                f"up to about {reruns} (95%); resnet-bench compare tests two runs against that spread."
            )
    return notes


def speed_notes(df: pd.DataFrame) -> list[str]:
    """Per run and probe dtype: whether figures at the run's median machine speed narrow the
    window-to-window spread (then shown beside the measured ones), or not (then left out)."""
    from resnet.analysis.tables import speed_adjustment

    notes = []
    for _, row in speed_adjustment(df).iterrows():
        verdict = (
            "shown beside them" if row["adopted"] else "not shown: the probe does not follow these cases"
        )
        notes.append(
            f"Machine-speed adjustment ({row['run']}, {row['dtype']} probe): window-to-window spread "
            f"{row['spread_pct']:.1f}% as measured, {row['adjusted_spread_pct']:.1f}% at the run's median "
            f"machine speed ({row['df']} df); {verdict}."
        )
    return notes


def write_report(
    df: pd.DataFrame, out: str | Path, title: str = "ResNet benchmark report", inputs: Iterable[str] = ()
) -> Path:
    """Write tables (md, csv), plots (png, svg), ``report.html`` and ``README.md`` to ``out``:
    built beside it and put in place whole (resnet.outputs), replacing only an earlier report."""
    target = Path(out)
    with staged_folder(target, "report", inputs) as tmp:
        _write_report(df, tmp, title)
    return target / "report.html"


def _write_report(df: pd.DataFrame, out: Path, title: str) -> None:
    sections = []
    runs_apart = False
    tables, paired = compute_tables(df)
    for stem, (heading, _) in TABLES.items():
        table = tables[stem]
        if table.empty:
            continue
        (out / f"{stem}.csv").write_text(csv_text(table))
        markdown = f"## {heading}\n\n{markdown_table(table)}\n"
        (out / f"{stem}.md").write_text(markdown)
        note = SECTION_NOTES.get(stem, "")
        if note:
            markdown += f"\n{note}\n"
        sections.append(
            {"stem": stem, "heading": heading, "data": table_data(table), "markdown": markdown, "note": note}
        )
        runs_apart = runs_apart or "run" in table.index.names
    figures = []
    for stem, fig in report_figures(df, tables, paired).items():
        figures.append(
            {
                "stem": stem,
                "heading": FIGURE_HEADINGS[stem],
                "alt": f"{stem} plot",
                "data": embed_figure(fig, out, stem),
            }
        )
    sources = ", ".join(sorted(map(str, df["source"].dropna().unique())))
    dates = ", ".join(sorted(map(str, df["datetime"].dropna().unique())))
    notes = [RUNS_NOTE] if runs_apart else []
    if df["images_per_sec_ci_low"].notna().any() or (df["kind"] == "paired").any():
        notes.insert(0, INTERVALS_NOTE)
        notes[1:1] = rerun_notes(df) + speed_notes(df)
    write_page(
        out / "report.html",
        "report.html",
        title=title,
        subtitle=subtitle(df),
        dates=dates,
        sources=sources,
        notes=notes,
        figures=figures,
        sections=sections,
    )
    (out / "README.md").write_text(
        f"# {markdown_cell(title)}\n\n{markdown_cell(subtitle(df))}\n\n"
        + "".join(f"{markdown_cell(n)}\n\n" for n in notes)
        + "".join(f"![{f['stem']}]({f['stem']}.png)\n\n" for f in figures)
        + "\n".join(s["markdown"] for s in sections)
    )

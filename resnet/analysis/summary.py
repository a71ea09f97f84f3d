"""Short Markdown for what a CI job shows its reader (``$GITHUB_STEP_SUMMARY``, a pull-request
comment): the verdict first, then only what changed, each with its interval, the notes that
say how to read them, and the full table folded away."""

from __future__ import annotations

import pandas as pd

from resnet.analysis.pages import markdown_cell, markdown_table

CHANGED = ("regression", "improvement")


def compare_markdown(
    table: pd.DataFrame, wide: pd.DataFrame, notes: list[str], failed: bool, base: str, new: str
) -> str:
    """``compare``'s summary: the verdict, the run-wide lines, the changed cells, the notes."""
    verdict = "REGRESSION: the gate fails" if failed else "no regression: the gate passes"
    counts = table["verdict"].value_counts().to_dict()
    lines = [
        f"### resnet-bench compare: {verdict}",
        "",
        f"`{markdown_cell(new)}` against `{markdown_cell(base)}`: "
        + ", ".join(f"{n} {markdown_cell(k)}" for k, n in sorted(counts.items())),
        "",
    ]
    for _, row in wide.iterrows():
        machine = (
            ""
            if pd.isna(row["machine_change_pct"])
            else f", the machine itself {row['machine_change_pct']:+.2f}%"
        )
        interval, verdict_text = markdown_cell(row["interval_pct"]), markdown_cell(row["verdict"])
        lines.append(
            f"- **run-wide {markdown_cell(row['metric'])}** over {row['cells']} cells: "
            f"{row['change_pct']:+.2f}% {interval}{machine}: **{verdict_text}**"
        )
    changed = table[table["verdict"].isin(CHANGED)]
    if not changed.empty:
        columns = ["case_id", "metric", "base", "new", "change_pct", "interval_pct", "verdict"]
        lines += ["", "Cells that changed:", "", markdown_table(changed[columns].set_index("case_id"))]
    if notes:
        lines += ["", *(f"> {markdown_cell(n)}" for n in notes)]
    lines += [
        "",
        f"<details><summary>All {len(table)} comparisons</summary>",
        "",
        markdown_table(table.drop(columns=["differs"], errors="ignore").set_index("case_id")),
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)


def history_markdown(table: pd.DataFrame, new: list[str], runs: int, cases: int, metric: str) -> str:
    """``history``'s summary: whether the newest run starts a change, then the change points."""
    verdict = "the newest run starts a change" if new else "no new change"
    lines = [
        f"### resnet-bench history: {verdict}",
        "",
        f"{runs} runs, {cases} cases; {markdown_cell(metric)}",
        "",
    ]
    lines += [f"- **NEW**: {markdown_cell(item)}" for item in new]
    if table.empty:
        lines.append("No change points.")
    else:
        wanted = ("run", "commit", "machine", "case_id", "before", "after", "change_pct", "status")
        columns = [c for c in wanted if c in table]
        lines += ["", "<details><summary>Change points, newest first</summary>", "",
                  markdown_table(table[columns].set_index("run")), "", "</details>"]  # fmt: skip
    return "\n".join(lines) + "\n"


def append(path: str, text: str) -> None:
    """Add ``text`` at the end of ``path`` (a job summary holds other steps' text too)."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(text if text.endswith("\n") else text + "\n")

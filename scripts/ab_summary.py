"""What scripts/ab-noisy.sh recorded, as Markdown: the A/A runs' coverage of 1 and interval
half-widths, the A/B runs of a real change against its cost measured separately, and the
same two stacks run against run with ``compare``.

    python scripts/ab_summary.py OUT > OUT/README.md
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

from resnet.stats import paired_ratio


def rows(path: Path, kind: str) -> list[dict]:
    data = json.loads(path.read_text())
    return [r for r in data["resnet_bench"]["cases"] if r["kind"] == kind]


def machine(path: Path) -> str:
    """The machine's label, as every reader names it."""
    from resnet.runs import load

    return str(load(path)["machine"].iloc[0])


def interval(row: dict) -> str:
    return f"[{row['ratio_ci_low']:.4f}, {row['ratio_ci_high']:.4f}]"


def half_width_pct(row: dict) -> float:
    """The 95% interval's wider side, percent of the ratio."""
    return 100 * max(row["ratio_ci_high"] / row["ratio"] - 1, 1 - row["ratio_ci_low"] / row["ratio"])


def main(out: Path) -> str:
    lines = ["# A/B of two software stacks under a noisy neighbour (#37)", ""]
    first = sorted(out.glob("aa-*.json"))
    if first:
        lines += [f"Machine: {machine(first[0])}; recorded by `bash scripts/ab-noisy.sh OUT` "
                  "(its header says what each phase runs).", ""]  # fmt: skip
    # 1. the change's cost measured separately (quiet, plain runs one after the other)
    quiet = []
    for i in (1, 2):
        a, b = out / f"quiet-a{i}.json", out / f"quiet-b{i}.json"
        if a.exists() and b.exists():
            (ra,), (rb,) = rows(a, "case"), rows(b, "case")
            quiet.append((ra["images_per_sec"], rb["images_per_sec"]))
    if quiet:
        lines += ["## The change's cost, measured separately (quiet machine, plain runs)", "",
                  "| pair | A images/s | B images/s (TF_ENABLE_ONEDNN_OPTS=0) | B/A |",
                  "|---|--:|--:|--:|"]  # fmt: skip
        lines += [f"| {i} | {a:.2f} | {b:.2f} | {b / a:.3f} |" for i, (a, b) in enumerate(quiet, 1)]
        cost = statistics.fmean(b / a for a, b in quiet)
        lines += ["", f"Mean B/A of the pairs: **{cost:.3f}**.", ""]
    # 2. A/A runs under the neighbour
    aa = [(p, rows(p, "ab")[0]) for p in sorted(first, key=lambda p: int(p.stem.split("-")[1]))]
    aa = [(p, r) for p, r in aa if r["status"] == "ok"]
    if aa:
        covered = sum(r["ratio_ci_low"] <= 1 <= r["ratio_ci_high"] for _, r in aa)
        widths = [half_width_pct(r) for _, r in aa]
        lines += ["## Identical stacks (`--ab same`), under the noisy neighbour", "",
                  "| seed | B/A | 95% interval | half-width | rounds | A images/s | B images/s | holds 1 |",
                  "|--:|--:|---|--:|--:|--:|--:|---|"]  # fmt: skip
        for p, r in aa:
            holds = "yes" if r["ratio_ci_low"] <= 1 <= r["ratio_ci_high"] else "no"
            lines.append(
                f"| {p.stem.split('-')[1]} | {r['ratio']:.4f} | {interval(r)} | {half_width_pct(r):.2f}% "
                f"| {r['pairs']} | {r['denominator_images_per_sec']:.2f} "
                f"| {r['numerator_images_per_sec']:.2f} | {holds} |"
            )
        speeds = [r["denominator_images_per_sec"] for _, r in aa]
        hl = [paired_ratio(*r["samples_s"]) for _, r in aa]  # the same rounds, Hodges-Lehmann
        hl_covered = sum(lo <= 1 <= hi for _, lo, hi in hl)
        hl_widths = [100 * max(hi / c - 1, 1 - lo / c) for c, lo, hi in hl]
        lines += [
            "",
            f"**Coverage of 1: {covered} of {len(aa)} ({100 * covered / len(aa):.0f}%)** "
            "(goal: at least 90%). "
            f"**Half-widths: median {statistics.median(widths):.2f}%, largest {max(widths):.2f}%** "
            "(goal: at most 3%). "
            f"Stack A's own images/s over these runs: {min(speeds):.1f} to {max(speeds):.1f} "
            f"({max(speeds) / min(speeds):.2f}x): the machine moved, the ratio did not.",
            "",
            f"The same rounds read with the Hodges-Lehmann estimate (what a paired group in one worker "
            f"uses): coverage {hl_covered} of {len(hl)}, "
            f"half-widths median {statistics.median(hl_widths):.2f}%, "
            f"largest {max(hl_widths):.2f}% (these runs stopped on the median's width, so this is not the "
            "width Hodges-Lehmann would have stopped at).",
            "",
        ]  # fmt: skip
    # 3. A/B of the real change under the neighbour
    ab = [(p, rows(p, "ab")[0]) for p in sorted(out.glob("ab-*.json"))]
    if ab:
        lines += ["## A real change (`--ab TF_ENABLE_ONEDNN_OPTS=0`), under the noisy neighbour", "",
                  "| seed | B/A | 95% interval | half-width | rounds |", "|--:|--:|---|--:|--:|"]  # fmt: skip
        for p, r in ab:
            if r["status"] != "ok":
                lines.append(f"| {p.stem.split('-')[1]} | {r['status']}: {r['reason']} | | | |")
                continue
            lines.append(
                f"| {p.stem.split('-')[1]} | {r['ratio']:.4f} | {interval(r)} | {half_width_pct(r):.2f}% "
                f"| {r['pairs']} |"
            )
        lines.append("")
    # 4. run against run
    found = sorted(out.glob("compare-*.txt"))
    if found:
        lines += ["## The same stacks run against run (`resnet-bench compare`)", ""]
        for path in found:
            text = path.read_text()
            keep = re.compile(r"(v\d|run-wide|\d+ comparisons|window-to-window|machine speed)")
            table = [re.sub(r" +rule +differs *$", "", x) for x in text.splitlines()[:1]]
            wanted = [
                *table,
                *(re.sub(r" +(bootstrap|run-to-run) .*$", "", x) for x in text.splitlines() if keep.match(x)),
            ]
            lines += [f"`{path.stem.removeprefix('compare-')}`:", "", "```", *wanted, "```", ""]
        for i in (1, 2):
            a, b = out / f"noisy-a{i}.json", out / f"noisy-b{i}.json"
            if a.exists() and b.exists():
                (ra,), (rb,) = rows(a, "case"), rows(b, "case")
                ratio = rb["images_per_sec"] / ra["images_per_sec"]
                lines.append(f"- noisy pair {i}: B/A of the plain runs' images/s {ratio:.3f}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(Path(sys.argv[1])))

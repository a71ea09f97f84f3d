"""A run of deployment-runtime cases as Markdown: every case's figures (images/s with its
interval, latency, requests, utilization, memory and what it covers, parity), then the
ratios within the run: int8 over float32 and over bf16, throughput over latency, and each
runtime's own memory beside Keras's; LoadGen rows, where the run has them, as a third table.

    python scripts/runtime_summary.py RUN.json > README.md

Ratios of figures from one run on one machine; each figure keeps its own interval.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PRECISION = {"float32": "fp32", "mixed_bfloat16": "bf16", "mixed_float16": "fp16", "int8": "int8"}


def _num(value: object, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _key(row: dict) -> tuple:
    return (row["runtime"], row.get("runtime_config") or "latency", row["batch_size"], row["precision"])


def _line(cells: list[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _what(r: dict) -> list[object]:
    return [r["runtime"], r.get("runtime_config") or "latency", r["batch_size"], PRECISION[r["precision"]]]


def cases_table(rows: list[dict]) -> list[str]:
    head = ["runtime", "config", "batch", "precision", "images/s [95%]", "p50 ms", "requests", "utilization",
            "peak MiB (covers)", "worker MiB", "parity err", "top-1", "quantized by"]  # fmt: skip
    out = [_line(head), _line(["---"] * len(head))]
    for r in sorted(rows, key=_key):
        if r["status"] != "ok":
            out.append(_line([*_what(r), f"{r['status']}: {(r.get('reason') or '')[:90]}", *[""] * 8]))
            continue
        low, high = _num(r.get("images_per_sec_ci_low")), _num(r.get("images_per_sec_ci_high"))
        memory = f"{_num(r.get('peak_host_rss_mb'), 0)} ({r.get('memory_scope') or 'worker'})"
        out.append(_line([
            *_what(r), f"{r['images_per_sec']:.1f} [{low}, {high}]", _num(r.get("latency_ms_p50")),
            r.get("requests") or 1, _num(r.get("utilization"), 2), memory,
            _num(r.get("worker_peak_rss_mb"), 0),
            _num(r.get("parity_max_rel_err"), 4), _num(r.get("parity_top1_agreement"), 2),
            r.get("quantized_by") or "",
        ]))  # fmt: skip
    return out


def ratio_lines(rows: list[dict]) -> list[str]:
    ok = {_key(r): r for r in rows if r["status"] == "ok"}
    out = []
    for (runtime, config, batch, precision), r in sorted(ok.items()):
        what = f"- {runtime} {PRECISION[precision]} batch {batch}"
        if precision == "int8":
            for other in ("float32", "mixed_bfloat16"):
                base = ok.get((runtime, config, batch, other))
                if base:
                    ratio = r["images_per_sec"] / base["images_per_sec"]
                    out.append(f"- {runtime} {config} batch {batch}: int8 / {PRECISION[other]} = {ratio:.2f}")
        base = ok.get((runtime, "latency", batch, precision))
        if config == "throughput" and base:
            ratio = r["images_per_sec"] / base["images_per_sec"]
            out.append(f"{what}: throughput / latency = {ratio:.2f} ({r.get('requests')} requests)")
        keras = ok.get(("keras", "latency", batch, precision if precision != "int8" else "float32"))
        if config == "latency" and keras and r.get("memory_scope") == "runtime process":
            out.append(
                f"{what}: own memory {r['peak_host_rss_mb']:.0f} MiB, its worker "
                f"{r['worker_peak_rss_mb']:.0f} MiB; Keras's {PRECISION[keras['precision']]} worker "
                f"{keras['peak_host_rss_mb']:.0f} MiB"
            )
    return out


def loadgen_table(rows: list[dict]) -> list[str]:
    head = [
        "runtime",
        "config",
        "scenario",
        "precision",
        "samples/s",
        "p90 ms",
        "queries",
        "valid",
        "requests",
    ]
    out = [_line(head), _line(["---"] * len(head))]
    for r in sorted(rows, key=lambda r: (r["runtime"], r["scenario"], r["precision"])):
        what = [r["runtime"], r.get("runtime_config") or "latency", r["scenario"], PRECISION[r["precision"]]]
        if r["status"] != "ok":
            out.append(_line([*what, f"{r['status']}: {(r.get('reason') or '')[:80]}", *[""] * 4]))
            continue
        figures = [
            _num(r.get("samples_per_sec")),
            _num(r.get("lg_p90_ms"), 2),
            r.get("queries"),
            r.get("valid"),
        ]
        out.append(_line([*what, *figures, r.get("requests") or 1]))
    return out


def main(path: Path) -> str:
    data = json.loads(path.read_text())
    rows = data["resnet_bench"]["cases"]
    cases = [r for r in rows if r["kind"] == "case" and not r.get("scenario")]
    loadgen = [r for r in rows if r.get("scenario")]
    from resnet.runs import load

    machine = str(load(path)["machine"].iloc[0])  # the machine's label, as every reader names it
    lines = [f"# {path.name}", "", f"Machine: {machine}; run ended {data.get('datetime', '')}", ""]
    if cases:
        lines += [
            "## Cases",
            "",
            *cases_table(cases),
            "",
            "## Ratios within the run",
            "",
            *ratio_lines(cases),
            "",
        ]
    if loadgen:
        lines += ["## LoadGen scenarios", "", *loadgen_table(loadgen), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(Path(sys.argv[1])))

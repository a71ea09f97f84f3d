"""Check what scripts/gpu-run.sh left in OUT on a machine without a GPU: every part ran to
its JSON and journal, every case was skipped because there is no GPU, and no log shows an
import error or a traceback.  Exit 0 when all holds, 1 with one line per problem."""

from __future__ import annotations

import json
import sys
from pathlib import Path

PARTS = ("jax-v15-bf16", "torch-peer-bf16", "jax-paired-bf16")
BAD = ("ImportError", "ModuleNotFoundError", "Traceback", "INTERNALERROR", "command not found")


def problems(out: Path) -> list[str]:
    found = []
    for name in PARTS:
        log = out / f"{name}.log"
        if not log.exists():
            found.append(f"{name}: no log")
            continue
        text = log.read_text(errors="replace")
        found += [f"{name}: log shows {word}" for word in BAD if word in text]
        journal = out / f"gpu-{name}.journal.jsonl"
        lines = [json.loads(line) for line in journal.read_text().splitlines()] if journal.exists() else []
        rows = [item["row"] for item in lines if item.get("type") == "case"]
        if not rows:
            found.append(f"{name}: the journal holds no case")
        for row in rows:
            if row["status"] != "skipped" or "no GPU" not in (row["reason"] or ""):
                found.append(f"{name}: {row['case_id']} is {row['status']}: {row['reason']}")
        report = out / f"gpu-{name}.json"
        if not report.exists():
            found.append(f"{name}: no JSON")
        elif len(json.loads(report.read_text())["resnet_bench"]["cases"]) != len(rows):
            found.append(f"{name}: the JSON does not list every case of the journal")
    if not (out / "gpu.csv").exists() or not (out / "software.txt").exists():
        found.append("no machine record (gpu.csv, software.txt)")
    return found


def main() -> int:
    out = Path(sys.argv[1])
    found = problems(out)
    for line in found:
        print(f"gpu dry run: {line}")
    parts = (out / "parts.txt").read_text().strip() if (out / "parts.txt").exists() else "no parts ran"
    print(parts)
    if not found:
        print("gpu dry run: ok, every part ran and every GPU case was skipped for want of a GPU")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

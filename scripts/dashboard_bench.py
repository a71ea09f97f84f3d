"""The dashboard at the size of a long history: build time, page size, time to interactive.

    .venv/bin/python scripts/dashboard_bench.py --out results/<machine>/<date>-dashboard
        [--runs 1000] [--cases 60] [--steps 20] [--repeat 3] [--shifts 0,1]

For each --shifts value (changes in every case's history, each 10% slower: 0 is noise only,
1 a change point in every series), writes made-up runs (resnet.analysis.synthetic) to a
temporary folder, times
``resnet-bench dashboard`` over it (load, regressions between consecutive runs, change points,
the page), then opens the page in headless Chromium (Debian's, through Playwright) --repeat
times: time until the explorer is ready with its first chart drawn, and the time a metric switch
takes to redraw. Writes summary.json and summary.md into --out.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from resnet.analysis.synthetic import write_synthetic_runs
from resnet.engine.machine import machine_info, machine_label
from resnet.parallel import jobs

ROOT = Path(__file__).resolve().parents[1]

FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def browser_times(page_file: Path, repeat: int) -> dict:
    from playwright.sync_api import sync_playwright

    ready, switch, errors = [], [], []
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=FLAGS)
        for _ in range(repeat):
            page = chromium.new_page(viewport={"width": 1280, "height": 1400})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            start = time.perf_counter()
            page.goto(page_file.as_uri(), timeout=120_000)
            page.wait_for_selector("body[data-explorer=ready]", timeout=120_000)
            page.wait_for_selector(".chart .main-svg", timeout=120_000)
            ready.append(time.perf_counter() - start)
            start = time.perf_counter()
            options = page.evaluate(
                "Array.from(document.querySelectorAll('#metric option')).map(o => o.value)"
            )
            page.select_option("#metric", options[-1])
            page.wait_for_selector(".chart .main-svg", timeout=120_000)
            switch.append(time.perf_counter() - start)
            page.close()
        chromium.close()
    return {
        "interactive_s": round(statistics.median(ready), 2),
        "interactive_all_s": [round(t, 2) for t in ready],
        "metric_switch_s": round(statistics.median(switch), 2),
        "console_errors": errors,
    }


def _line(h: dict) -> str:
    cells = [
        h["shifts"], h["build_s"], h["page_mb"], h["change_points"], h["interactive_s"],
        ", ".join(map(str, h["interactive_all_s"])), h["metric_switch_s"], len(h["console_errors"]),
    ]  # fmt: skip
    return "| " + " | ".join(map(str, cells)) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shifts", default="0,1", help="comma-separated: changes per case's history")
    args = parser.parse_args()
    shifts = [int(x) for x in args.shifts.split(",")]
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not (out / "summary.json").is_file():
        print(f"dashboard_bench: --out {out} holds files this script did not write", file=sys.stderr)
        return 2
    info = machine_info()
    result = {
        "tool": "dashboard-benchmark",
        "machine": machine_label(info),
        "cpu_model": info.get("cpu_model"),
        "cores": info.get("cpu_affinity"),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": args.runs,
        "cases": args.cases,
        "steps": args.steps,
    }
    result["jobs"] = jobs()
    result["histories"] = []
    for count in shifts:
        with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as tmp:
            folder = Path(tmp) / "runs"
            log(f"writing {args.runs} runs x {args.cases} cases to {folder} ({count} change(s) per case)")
            write_synthetic_runs(folder, args.runs, args.cases, steps=args.steps, dated=True, shifts=count)
            site = Path(tmp) / "site"
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "resnet.cli", "dashboard", str(folder), "--out", str(site)],
                capture_output=True, text=True, timeout=3600,
            )  # fmt: skip
            entry = {"shifts": count, "build_s": round(time.perf_counter() - start, 1)}
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            page = site / "index.html"
            entry["page_mb"] = round(page.stat().st_size / 2**20, 2)
            entry["change_points"] = page.read_text().count('"status":"confirmed"')
            log(f"dashboard built in {entry['build_s']} s: {entry['page_mb']} MB")
            entry.update(browser_times(page, args.repeat))
            log(f"interactive after {entry['interactive_s']} s (median of {args.repeat})")
            result["histories"].append(entry)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"# The dashboard over {args.runs} runs x {args.cases} cases",
        "",
        f"Measured by `scripts/dashboard_bench.py` on {result['machine']} ({result['cpu_model']}, "
        f"{result['cores']} cores), {result['date']}.",
        "",
        f"{result['jobs']} processes (RESNET_BENCH_JOBS or the cores).",
        "",
        "| changes per case | build s | page MB | change points drawn | interactive s (median) | each "
        "| metric switch s | console errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        *(_line(h) for h in result["histories"]),
    ]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    log(f"written: {out / 'summary.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

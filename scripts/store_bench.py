"""The results store against a folder of JSON files, at the size of a long history.

    .venv/bin/python scripts/store_bench.py --out results/<machine>/<date>-store
        [--runs 1000] [--cases 60] [--steps 20] [--pg URL] [--commands]

Writes made-up runs (resnet.analysis.synthetic: 60 cases x 20 step samples each, a drift
series, dated an hour apart) to a temporary folder, then for SQLite (a temporary file) and
PostgreSQL (a new database on --pg, default RESNET_BENCH_TEST_PG; left out without one):
the ingest rate (runs/s, checking and writing), and the time a reader takes to read what
it needs: history (every run's figures, the newest two runs whole; step samples only for
cases with a change point) and dashboard (every run whole), against ``load_history`` over
the folder. ``--commands`` also times the whole ``resnet-bench history`` command both ways
(change-point detection included). Each read is timed --repeat times; the median is kept.
Writes summary.json and summary.md into --out (a new folder, or one this script wrote).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from resnet.analysis.synthetic import write_synthetic_runs
from resnet.engine.machine import machine_info, machine_label
from resnet.runs import as_history, find_runs, load_history, read_run
from resnet.store import Selection, Store

ROOT = Path(__file__).resolve().parents[1]

MARK = "store-benchmark"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def history_read(store: Store) -> object:
    """What ``history --db`` reads (Store.history, without the CLI)."""
    frame, _ = store.history(Selection(), "images_per_sec")
    return frame


def bench_store(url: str, files: list[Path], folder: Path, repeat: int, commands: bool) -> dict:
    store = Store(url, create=True)
    log(f"{url.split('?')[0]}: adding {len(files)} runs")
    start = time.perf_counter()
    read_s = 0.0
    for n, path in enumerate(files, 1):
        t = time.perf_counter()
        run = read_run(path)
        read_s += time.perf_counter() - t
        store.add(run)
        if n % 200 == 0:
            log(f"  {n} runs added ({n / (time.perf_counter() - start):.1f} runs/s)")
    ingest_s = time.perf_counter() - start
    out = {
        "url": url.split("?")[0] if url.startswith("sqlite") else "postgresql (local socket)",
        "ingest_s": round(ingest_s, 2),
        "ingest_runs_per_s": round(len(files) / ingest_s, 1),
        "ingest_check_s": round(read_s, 2),
        "ingest_write_s": round(ingest_s - read_s, 2),
    }
    log(f"  ingest {out['ingest_runs_per_s']} runs/s ({ingest_s:.1f} s; reading and checking {read_s:.1f})")
    out["history_read_s"], frame = timed(lambda: history_read(store), repeat)
    log(f"  history read {out['history_read_s']:.2f} s ({len(frame)} rows)")
    out["dashboard_read_s"], frame = timed(lambda: as_history(store.load(Selection())), repeat)
    log(f"  dashboard read (every run whole) {out['dashboard_read_s']:.2f} s")
    if commands:
        out["history_command_s"] = command(["history", "--db", url])
    if url.startswith("sqlite"):
        out["store_mb"] = round(Path(url.removeprefix("sqlite:///")).stat().st_size / 2**20, 1)
    store.close()
    return out


def command(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "resnet.cli", *argv], capture_output=True, text=True, timeout=1800
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    log(f"  resnet-bench {' '.join(argv[:1])} ... {elapsed:.1f} s")
    return round(elapsed, 1)


def pg_database(admin_url: str) -> tuple[str, object]:
    import sqlalchemy as sa

    name = f"store_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False), drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("RESNET_BENCH_TEST_PG"))
    parser.add_argument("--commands", action="store_true", help="also time the whole history command")
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not (out / "summary.json").is_file():
        print(
            f"store_bench: --out {out} holds files this script did not write; left untouched", file=sys.stderr
        )
        return 2
    info = machine_info()
    result: dict = {
        "tool": MARK,
        "machine": machine_label(info),
        "cpu_model": info.get("cpu_model"),
        "cores": info.get("cpu_affinity"),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": args.runs,
        "cases": args.cases,
        "steps": args.steps,
    }
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp:
        folder = Path(tmp) / "runs"
        log(f"writing {args.runs} runs x {args.cases} cases x {args.steps} steps to {folder}")
        write_synthetic_runs(folder, args.runs, args.cases, steps=args.steps, dated=True)
        files = find_runs(folder)
        result["folder_mb"] = round(sum(f.stat().st_size for f in files) / 2**20, 1)
        result["files_read_s"], frame = timed(lambda: load_history(folder, []), args.repeat)
        log(f"folder: load_history {result['files_read_s']:.2f} s ({len(frame)} rows)")
        if args.commands:
            result["files_history_command_s"] = command(["history", str(folder)])
        result["sqlite"] = bench_store(
            f"sqlite:///{Path(tmp) / 'store.sqlite'}", files, folder, args.repeat, args.commands
        )
        if args.pg:
            url, drop = pg_database(args.pg)
            try:
                result["postgresql"] = bench_store(url, files, folder, args.repeat, args.commands)
            finally:
                drop()
        else:
            log("PostgreSQL: left out (no --pg and no RESNET_BENCH_TEST_PG)")
    for kind in ("sqlite", "postgresql"):
        if kind in result:
            part = result[kind]
            part["history_read_speedup"] = round(result["files_read_s"] / part["history_read_s"], 1)
            part["dashboard_read_speedup"] = round(result["files_read_s"] / part["dashboard_read_s"], 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "summary.md").write_text(summary_md(result))
    log(f"written: {out / 'summary.md'}")
    return 0


def summary_md(r: dict) -> str:
    lines = [
        f"# The store against a folder of JSON files: {r['runs']} runs x {r['cases']} cases "
        f"x {r['steps']} steps",
        "",
        f"Measured by `scripts/store_bench.py` on {r['machine']} ({r['cpu_model']}, {r['cores']} cores), "
        f"{r['date']}. The folder: {r['folder_mb']} MB of JSON; `load_history` over it takes "
        f"{r['files_read_s']:.2f} s (median).",
        "",
        "| | ingest runs/s | history read s | speed-up | dashboard read s | speed-up |"
        + (" history command s |" if "history_command_s" in r.get("sqlite", {}) else ""),
        "| --- | --- | --- | --- | --- | --- |"
        + (" --- |" if "history_command_s" in r.get("sqlite", {}) else ""),
    ]
    for kind in ("sqlite", "postgresql"):
        if kind not in r:
            continue
        p = r[kind]
        row = (
            f"| {kind} | {p['ingest_runs_per_s']} | {p['history_read_s']:.2f} | {p['history_read_speedup']}x "
            f"| {p['dashboard_read_s']:.2f} | {p['dashboard_read_speedup']}x |"
        )
        if "history_command_s" in p:
            row += f" {p['history_command_s']} |"
        lines.append(row)
    if "files_history_command_s" in r:
        lines += ["", f"The history command over the folder: {r['files_history_command_s']} s."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

"""Fault injection: run a small sweep, kill the sweep or one of its workers at a random
moment, resume, and check that nothing measured was lost or duplicated.

Each seeded trial starts a fresh sweep (two cases, v1 and v1.5 inference, batch 2,
32x32, each in two windows, and their paired comparison), kills the parent (SIGKILL
or SIGTERM) or a worker (SIGKILL) at a random time, then resumes the sweep without
faults until it finishes, and checks:
  - no worker outlives its sweep (one second after the sweep ended);
  - every journal line parses;
  - every finished case is in the journal exactly once;
  - the final JSON lists every case of the sweep;
  - the resumed sweep ends with exit code 0.

    .venv/bin/python scripts/fault_injection.py --trials 20 --seed 1 --out results/fault-injection

``--writers`` kills the commands that write folders instead (``report``, ``dashboard`` and
``make-data``, in turn): each trial writes a complete old output, starts the command again
with other inputs into the same folder, kills it (SIGKILL) at a random moment within its
usual run time, and checks that the folder is either the old complete output or the new
complete one (its manifest valid, every file it lists there as written, nothing else),
then that a rerun without faults completes and leaves no temporary folder behind.

    .venv/bin/python scripts/fault_injection.py --writers --trials 21 --seed 1 \
        --out results/fault-injection/writers

``--store`` kills ``resnet-bench store add`` instead: each trial adds a small run to a SQLite
store, starts adding a large one (SIGKILL at a random moment within its usual time) while a
second writer adds a third run with ``--lock-timeout 2``, and checks that the store then
holds the first run, the large one whole or not at all, the third whole or not at all (its
writer either added it or stopped with the one-line lock message, never a traceback), that
the database passes SQLite's integrity check, and that a rerun of both adds completes.

    .venv/bin/python scripts/fault_injection.py --store --trials 10 --seed 1 \
        --out results/fault-injection/store
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SWEEP = [
    "bench/test_throughput.py",
    "bench/test_paired.py",
    "--bench-profile",
    "smoke",
    "--versions",
    "v1,v1.5",
]
SWEEP += ["--modes", "inference", "--devices", "cpu", "--min-time", "0.5", "--repeat", "2"]
CASES = {"v1-inference-bs2-float32-cpu-32px", "v1.5-inference-bs2-float32-cpu-32px"}
#: Every row the finished sweep holds: the cases, their windows, the paired ratio.
ROWS = (
    CASES | {f"{c}@w{i}" for c in CASES for i in (1, 2)} | {"paired-inference-bs2-cpu-32px-float32-v1.5/v1"}
)
FAULTS = ("parent SIGKILL", "parent SIGTERM", "worker SIGKILL")


def _sweep(out: Path, resume: bool) -> subprocess.Popen:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SWEEP]
    args += ["--benchmark-json", str(out / "run.json")] + (["--resume"] if resume else [])
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def _workers(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in children if "resnet.engine.worker" in " ".join(_cmdline(p))]


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return []


def _alive(procs: list[psutil.Process]) -> list[int]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p.pid)
        except psutil.NoSuchProcess:
            pass
    return out


def trial(number: int, rng: random.Random, work: Path) -> dict:
    """One trial; returns what happened and the checks' outcome."""
    fault = rng.choice(FAULTS)
    delay = round(rng.uniform(0.5, 30.0), 2)
    record = {"trial": number, "fault": fault, "at_s": delay, "problems": []}
    sweep = _sweep(work, resume=False)
    seen: list[psutil.Process] = []
    t0 = time.monotonic()
    victim = None
    while sweep.poll() is None and time.monotonic() - t0 < delay:
        seen += [w for w in _workers(sweep.pid) if w.pid not in {s.pid for s in seen}]
        time.sleep(0.05)
    if sweep.poll() is None:
        if fault.startswith("parent"):
            sweep.send_signal(signal.SIGKILL if fault.endswith("SIGKILL") else signal.SIGTERM)
            victim = "parent"
        else:
            workers = _workers(sweep.pid)
            while not workers and sweep.poll() is None:  # between cases: wait for the next worker
                time.sleep(0.05)
                workers = _workers(sweep.pid)
            if workers:
                seen += workers
                os.kill(workers[0].pid, signal.SIGKILL)
                victim = f"worker {workers[0].pid}"
    record["killed"] = victim or "nothing (the sweep had finished)"
    record["first_exit"] = sweep.wait(timeout=300)
    time.sleep(1.0)
    if left := _alive(seen):
        record["problems"].append(f"workers alive after the sweep ended: {left}")
    # Resume without faults until the sweep is complete.
    resumed = _sweep(work, resume=True)
    record["resume_exit"] = resumed.wait(timeout=600)
    if record["resume_exit"] != 0:
        record["problems"].append(f"the resumed sweep exited {record['resume_exit']}")
    journal = work / "run.journal.jsonl"
    ok_ids: list[str] = []
    for n, line in enumerate(journal.read_text().splitlines(), start=1):
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            record["problems"].append(f"journal line {n} does not parse")
            continue
        if item.get("type") == "case" and item["row"]["status"] == "ok":
            ok_ids.append(item["row"]["case_id"])
    twice = [c for c, k in Counter(ok_ids).items() if k > 1]
    if twice:
        record["problems"].append(f"finished more than once in the journal: {twice}")
    if set(ok_ids) != ROWS:
        record["problems"].append(f"journal's finished rows {sorted(set(ok_ids))} != the sweep's")
    try:
        listed = {r["case_id"] for r in json.loads((work / "run.json").read_text())["resnet_bench"]["cases"]}
    except (OSError, ValueError, KeyError) as err:
        listed = set()
        record["problems"].append(f"final JSON unreadable: {err}")
    if listed != ROWS:
        record["problems"].append(f"final JSON lists {sorted(listed)}")
    record["journal_lines"] = len(journal.read_text().splitlines())
    record["passed"] = not record["problems"]
    return record


WRITERS = ("report", "dashboard", "make-data")


def _writer_args(command: str, work: Path, which: str) -> list[str]:
    """The command line of ``command`` writing ``work/out`` from the old or the new inputs."""
    out = str(work / "out")
    if command == "make-data":
        images, seed = ("3", "0") if which == "old" else ("4", "1")
        return ["make-data", out, "--images", images, "--seed", seed, "--force"]
    runs = work / which
    if command == "report":
        return ["report", *sorted(str(p) for p in runs.glob("*.json")), "--out", out]
    return ["dashboard", str(runs), "--out", out]


def _writer_state(command: str, work: Path) -> str:
    """'old', 'new' (a complete output of either inputs), or what is wrong with the folder."""
    from resnet.outputs import foreign_files, read_manifest

    out = work / "out"
    manifest = read_manifest(out) if out.is_dir() else None
    if manifest is None:
        return "no valid manifest"
    if foreign_files(out, command):
        return f"files outside its manifest or changed: {foreign_files(out, command)[:3]}"
    missing = [f for f in manifest["files"] if not (out / f).is_file()]
    if missing:
        return f"incomplete: {missing[:3]} missing"
    if command == "make-data":
        return {(3, 0): "old", (4, 1): "new"}.get(
            (manifest.get("images"), manifest.get("seed")), "unknown set"
        )
    for which in ("old", "new"):
        if manifest.get("inputs") == _writer_args(command, work, which)[1:-2]:
            return which
    return f"made from unknown inputs {manifest.get('inputs')}"


def _writer_inputs(work: Path) -> None:
    """Two folders of runs (old, new): small committed runs of the project's history."""
    history = sorted((ROOT / "results").glob("**/*-history/run[0-9]*.json"))[:4]
    for which, files in (("old", history[:2]), ("new", history[2:4])):
        (work / which).mkdir()
        for f in files:
            (work / which / f.name).write_bytes(f.read_bytes())


def writer_trial(number: int, rng: random.Random, work: Path, durations: dict[str, float]) -> dict:
    """One kill of a writing command; returns what happened and the checks' outcome."""
    command = WRITERS[(number - 1) % len(WRITERS)]
    _writer_inputs(work)
    cli = [sys.executable, "-m", "resnet.cli"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg"}

    def run(which: str) -> tuple[int, float]:
        t0 = time.monotonic()
        code = subprocess.run([*cli, *_writer_args(command, work, which)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode  # fmt: skip
        return code, time.monotonic() - t0

    record = {"trial": number, "fault": f"{command} SIGKILL", "problems": []}
    code, seconds = run("old")
    durations.setdefault(command, seconds)
    if code != 0 or _writer_state(command, work) != "old":
        record["problems"].append(f"the old output was not written (exit {code})")
    delay = round(rng.uniform(0.3, 1.1) * durations[command], 2)  # most kills near the swap at the end
    record["at_s"] = delay
    proc = subprocess.Popen([*cli, *_writer_args(command, work, "new")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(delay)
    record["killed"] = "the command" if proc.poll() is None else "nothing (it had finished)"
    proc.send_signal(signal.SIGKILL)
    record["first_exit"] = proc.wait(timeout=120)
    record["after_kill"] = _writer_state(command, work)
    if record["after_kill"] not in ("old", "new"):
        record["problems"].append(f"after the kill the folder is {record['after_kill']}")
    record["resume_exit"], _ = run("new")
    if record["resume_exit"] != 0 or _writer_state(command, work) != "new":
        record["problems"].append(f"a rerun did not write the new output (exit {record['resume_exit']})")
    left = [p.name for p in work.iterdir() if "resnet-bench-partial" in p.name]
    if left:
        record["problems"].append(f"temporary folders left after the rerun: {left}")
    record["passed"] = not record["problems"]
    return record


def _store_state(url: str, runs: dict[str, int]) -> str:
    """Which runs the store holds (each whole), or what is wrong with it."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if conn.exec_driver_sql("PRAGMA integrity_check").scalar() != "ok":
                return "fails SQLite's integrity check"
            held = dict(conn.exec_driver_sql("SELECT source, cases FROM runs").fetchall())
            rows = dict(conn.exec_driver_sql("SELECT run_id, count(*) FROM cases GROUP BY run_id").fetchall())
            ids = dict(conn.exec_driver_sql("SELECT source, id FROM runs").fetchall())
    finally:
        engine.dispose()
    for source, cases in held.items():
        if rows.get(ids[source]) != cases or runs.get(Path(source).name) != cases:
            return f"{Path(source).name} is partial ({rows.get(ids[source])} of {cases} cases)"
    return "+".join(sorted(Path(s).stem for s in held)) or "empty"


def _write_locked(db: Path) -> bool:
    """Whether some connection holds the SQLite file's write lock right now."""
    import sqlite3

    con = sqlite3.connect(db, timeout=0)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.rollback()
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc)
    finally:
        con.close()


def _write_lock_span(work: Path, add) -> tuple[float, float]:
    """When (seconds after its start) ``store add`` of the large run holds the write lock.

    Timed once on a copy of the store holding the first run, polling the lock every 5 ms.
    """
    import shutil

    copy = work / "timing.sqlite"
    shutil.copyfile(work / "store.sqlite", copy)
    t0 = time.monotonic()
    proc = add("large", "--db", f"sqlite:///{copy}", wait=False)
    seen = []
    while proc.poll() is None:
        if _write_locked(copy):
            seen.append(time.monotonic() - t0)
        time.sleep(0.005)
    total = time.monotonic() - t0
    return (seen[0], seen[-1]) if seen else (0.2 * total, total)


def store_trial(number: int, rng: random.Random, work: Path, durations: dict[str, float]) -> dict:
    """One kill of ``store add`` with a second writer waiting on its lock."""
    from resnet.analysis.synthetic import write_synthetic_runs

    url = f"sqlite:///{work / 'store.sqlite'}"
    sizes = {"first": 4, "large": 3000, "third": 8}
    for name, cases in sizes.items():
        (path,) = write_synthetic_runs(work / name, files=1, cases=cases, steps=20)
        path.rename(work / f"{name}.json")
    counts = {f"{name}.json": cases for name, cases in sizes.items()}
    cli = [sys.executable, "-m", "resnet.cli", "store", "add"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

    def add(name: str, *more: str, wait: bool = True) -> subprocess.Popen | int:
        proc = subprocess.Popen([*cli, str(work / f"{name}.json"), "--db", url, *more], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        return proc.wait(timeout=300) if wait else proc

    record = {"trial": number, "fault": "store add SIGKILL", "problems": []}
    if add("first") != 0:
        record["problems"].append("the first run was not added")
    if "lock" not in durations:
        durations["lock"] = _write_lock_span(work, add)
    start, end = durations["lock"]
    # Two trials in three kill while the add holds the write lock, the third at any moment.
    delay = round(rng.uniform(start, end) if number % 3 else rng.uniform(0.3, 1.1) * end, 2)
    record["at_s"] = delay
    large = add("large", wait=False)
    time.sleep(delay / 2)
    third = add("third", "--lock-timeout", "2", wait=False)
    time.sleep(delay / 2)
    holding = _write_locked(work / "store.sqlite")
    if large.poll() is not None:
        record["killed"] = "nothing (it had finished)"
    else:
        record["killed"] = "store add, mid-write" if holding else "store add, not writing"
    large.send_signal(signal.SIGKILL)
    record["first_exit"] = large.wait(timeout=120)
    third_exit = third.wait(timeout=300)
    said = third.stderr.read()
    if third_exit not in (0, 2) or "Traceback" in said or (third_exit == 2 and "lock" not in said):
        record["problems"].append(f"the waiting writer ended {third_exit}: {said.strip()[:120]}")
    record["after_kill"] = _store_state(url, counts)
    if not record["after_kill"].startswith("first") or "partial" in record["after_kill"]:
        record["problems"].append(f"after the kill the store holds {record['after_kill']}")
    record["resume_exit"] = add("large")
    if add("third") != 0 or _store_state(url, counts) != "first+large+third":
        record["problems"].append(f"a rerun left the store holding {_store_state(url, counts)}")
    record["passed"] = not record["problems"]
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--writers", action="store_true", help="kill report, dashboard and make-data instead")
    parser.add_argument("--store", action="store_true", help="kill store add, a second writer waiting")
    parser.add_argument("--out", default=None, help="folder for summary.json and summary.md")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    records = []
    durations: dict[str, float] = {}
    started = time.time()
    for i in range(1, args.trials + 1):
        with tempfile.TemporaryDirectory(prefix="fault-") as tmp:
            if args.store:
                record = store_trial(i, rng, Path(tmp), durations)
            elif args.writers:
                record = writer_trial(i, rng, Path(tmp), durations)
            else:
                record = trial(i, rng, Path(tmp))
        records.append(record)
        verdict = "ok" if record["passed"] else "FAILED: " + "; ".join(record["problems"])
        state = f", then: {record['after_kill']}" if args.writers or args.store else ""
        print(
            f"trial {i:2d}: {record['fault']:17s} at {record['at_s']:5.2f} s, killed {record['killed']}, "
            f"exit {record['first_exit']} then {record['resume_exit']}{state}: {verdict}",
            flush=True,
        )
    passed = sum(r["passed"] for r in records)
    summary = {
        "seed": args.seed,
        "trials": len(records),
        "passed": passed,
        "wall_s": round(time.time() - started, 1),
        "machine": _machine(),
        "records": records,
    }
    print(f"{passed} of {len(records)} trials passed in {summary['wall_s']} s")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        what = (
            "Each trial adds a run to a SQLite store, kills `store add` of a 3,000-case run (SIGKILL) at a "
            "random moment (two trials in three while it holds the write lock: 'mid-write') while a second "
            "writer waits on its lock with `--lock-timeout 2`, and checks the "
            "store holds every run whole or not at all, the waiting writer ended in one line, the database "
            "passes its integrity check, and both adds complete when rerun."
            if args.store
            else "Each trial writes an output folder, kills the command rewriting it from other inputs "
            "(SIGKILL) at a random moment, checks the folder is the old or the new complete output, "
            "and reruns the command."
            if args.writers
            else "Each trial kills the sweep or a worker at a random moment, resumes, and checks the "
            "journal, the JSON and that no worker is left."
        )
        flag = " --store" if args.store else " --writers" if args.writers else ""
        lines = [
            f"# Fault injection{flag}: {passed} of {len(records)} trials passed",
            "",
            f"`scripts/fault_injection.py{flag} --trials {args.trials} --seed {args.seed}` "
            f"on {summary['machine']}, {summary['wall_s']} s. {what}",
            "",
            "| trial | fault | at (s) | killed | first exit | "
            + ("after the kill | " if flag else "")
            + "rerun exit | result |",
            "| --: | --- | --: | --- | --: | " + ("--- | " if flag else "") + "--: | --- |",
        ]
        for r in records:
            result = "ok" if r["passed"] else "; ".join(r["problems"])
            state = f" {r['after_kill']} |" if flag else ""
            lines.append(
                f"| {r['trial']} | {r['fault']} | {r['at_s']} | {r['killed']} | {r['first_exit']} |"
                f"{state} {r['resume_exit']} | {result} |"
            )
        (out / "summary.md").write_text("\n".join(lines) + "\n")
    return 0 if passed == len(records) else 1


def _machine() -> str:
    from resnet.engine.machine import machine_info, machine_label

    return machine_label(machine_info())


if __name__ == "__main__":
    sys.exit(main())

"""The results store, on a real SQLite file and a real PostgreSQL server (scripts/postgres.sh
starts a throwaway one; .ci/run does): round trips of every committed run, idempotent adds,
many writers at once, a writer killed mid-add, malformed input, migrations, and the readers'
``--db``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from resnet.analysis.synthetic import write_synthetic_runs
from resnet.cli import main
from resnet.commands.store import run_files
from resnet.runs import find_runs, load, read_run
from resnet.store import Store, StoreError
from resnet.store.core import Selection, _case_rows
from resnet.store.migrations import SCHEMA_VERSION, case_columns, tables_of_version

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    key = ["source", "case_id"]
    a = a.sort_values(key).reset_index(drop=True)
    b = b.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_like=True, check_dtype=False)


def _cli(*argv: str) -> tuple[int, str, str]:
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_every_committed_run_round_trips(url):
    """file -> store -> DataFrame equals file -> DataFrame, for every run in results/."""
    runs, notes = run_files([str(RESULTS)])
    assert len(runs) > 40 and all("passed over" in n for n in notes)
    store = Store(url, create=True)
    added = [bool(store.add(run)[1]) for run in runs]
    unique = list({r.digest: r for r in reversed(runs)}.values())  # a copied file is one run
    assert sum(added) == len(unique)
    runs = unique
    from_store = store.load()
    from_files = load([str(r.path) for r in runs])
    _same(from_store, from_files)
    assert len(from_store) == sum(len(r.rows) for r in runs)
    # Without samples, every other column is the same (drift columns kept from the add).
    light = store.load(samples=False)
    sample_cols = ["samples_s", "window_started", "window_images_per_sec", "machine_speed_series"]
    _same(
        light.drop(columns=[*sample_cols, "server_search"]),
        from_files.drop(columns=[*sample_cols, "server_search"]),
    )
    assert light["samples_s"].isna().all()
    store.close()


def test_the_same_run_added_twice_is_one_run(url, tmp_path):
    (path,) = write_synthetic_runs(tmp_path / "runs", files=1, cases=4)
    store = Store(url, create=True)
    first, new = store.add(read_run(path))
    again, new_again = store.add(read_run(path))
    assert (first, new, new_again) == (again, "added", "")
    assert [r["id"] for r in store.runs()] == [first]
    assert len(store.load()) == 4
    store.close()


def test_eight_writers_at_once_lose_and_double_nothing(url, tmp_path):
    """8 processes add 25 distinct runs each, and all 8 one shared run: 201 runs."""
    paths = write_synthetic_runs(tmp_path / "runs", files=201, cases=3)
    shared, rest = paths[0], paths[1:]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "resnet.cli",
                "store",
                "add",
                "--db",
                url,
                str(shared),
                *map(str, rest[25 * i : 25 * (i + 1)]),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(8)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    store = Store(url)
    runs = store.runs()
    assert len(runs) == 201 and len({r["digest"] for r in runs}) == 201
    assert sum("already in the store" in o for o in outputs) == 7  # the shared run: once
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM cases")).scalar() == 201 * 3
    store.close()


def test_a_writer_killed_mid_add_leaves_no_partial_run(url, tmp_path):
    """SIGKILL while the run's cases are going in (after the first 500 of 1,200): the store
    holds no trace of it, and the next add of the same run succeeds."""
    (path,) = write_synthetic_runs(tmp_path / "runs", files=1, cases=1200)
    Store(url, create=True).close()
    marker = tmp_path / "paused"
    proc = subprocess.Popen(
        [sys.executable, "-m", "resnet.cli", "store", "add", "--db", url, str(path)],
        env={**os.environ, "RESNET_BENCH_STORE_PAUSE_FILE": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), "the writer never reached the middle of its add"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    store = Store(url)
    deadline = time.time() + 30  # PostgreSQL ends the dead client's transaction on its own
    with store.engine.connect() as conn:
        while time.time() < deadline:
            counts = [conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in ("runs", "cases")]
            if counts == [0, 0]:
                break
            time.sleep(0.2)
    assert counts == [0, 0]
    assert store.add(read_run(path))[1] and len(store.load(samples=False)) == 1200
    store.close()


def test_a_malformed_file_writes_nothing(url, tmp_path):
    good, other = write_synthetic_runs(tmp_path / "runs", files=2, cases=2)
    Store(url, create=True).close()
    code, _, _ = _cli("store", "add", "--db", url, str(good))
    assert code == 0
    bad = tmp_path / "bad.json"
    data = json.loads(other.read_text())
    data["benchmarks"][1]["extra_info"]["batch_size"] = "32"
    bad.write_text(json.dumps(data))
    code, out, err = _cli("store", "add", "--db", url, str(other), str(bad))
    assert code == 2 and err.count("\n") == 1 and "batch_size" in err and "bad.json" in err
    assert "added" not in out
    store = Store(url)
    assert len(store.runs()) == 1  # the good file before the bad one went in neither
    store.close()


def test_a_missing_sqlite_store_is_not_made_by_a_reader(tmp_path):
    target = tmp_path / "none.sqlite"
    code, _, err = _cli("store", "list", "--db", f"sqlite:///{target}")
    assert code == 2 and "no store at" in err and not target.exists()
    code, _, err = _cli("store", "list", "--db", "mysql://x@y/z")
    assert code == 2 and "SQLite or PostgreSQL" in err
    code, _, err = _cli("store", "list", "--db", "not a url")
    assert code == 2 and "not a database URL" in err


def _v1_store(url: str, run_paths: list[Path], dropped: tuple[str, ...]) -> None:
    """A store as schema version 1 laid it out (samples inline in cases.samples), whose
    cases table also lacks columns for ``dropped`` (fields the schema gained later)."""
    columns = {k: v for k, v in case_columns().items() if k not in dropped}
    meta = tables_of_version(1, columns)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        meta.create_all(conn)
        conn.execute(meta.tables["resnet_bench_meta"].insert().values(key="schema_version", value="1"))
        machines: dict[tuple, int] = {}
        for path in run_paths:
            run = read_run(path)
            run_id = run.digest[:12]
            first = run.rows[0]
            key = (first["machine"], first["machine_identity"])
            if key not in machines:
                machines[key] = len(machines) + 1
                conn.execute(
                    meta.tables["machines"]
                    .insert()
                    .values(
                        id=machines[key],
                        label=key[0],
                        slug="m",
                        identity=key[1],
                        facts="{}",
                        memory_gb=first["memory_gb"],
                    )
                )
            conn.execute(
                meta.tables["runs"]
                .insert()
                .values(
                    id=run_id,
                    digest=run.digest,
                    machine_id=machines[key],
                    datetime=run.datetime,
                    source=first["source"],
                    commit=run.commit_info.get("id"),
                    cases=len(run.rows),
                    cpu_cores=first.get("cpu_cores"),
                    versions=json.dumps(run.machine_info.get("versions") or {}, sort_keys=True),
                    added="2026-12-01",
                )
            )
            cases, samples = _case_rows(run, run_id)
            inline: dict[str, dict] = {}
            for s in samples:
                inline.setdefault(s["case_id"], {})[s["field"]] = json.loads(s["data"])
            for case in cases:
                row = {k: v for k, v in case.items() if k not in dropped}
                row["samples"] = json.dumps(inline[case["case_id"]]) if case["case_id"] in inline else None
                conn.execute(meta.tables["cases"].insert().values(**row))
    engine.dispose()


def test_a_version_1_store_migrates_keeping_every_row(url):
    """Schema 1 -> 2 (samples to their own table) and the columns of fields added since
    (warm-up and above_peak): every row and sample kept, equal to the files'."""
    paths = [p for p in find_runs(RESULTS / "amd-epyc-zen-4-x2-avx-512-bf16")][:4]
    dropped = ("warmup_steps", "warmup_s", "warmup_steady", "above_peak")
    _v1_store(url, paths, dropped)
    store = Store(url)  # a reader's open migrates it
    with store.engine.connect() as conn:
        version = conn.execute(sa.text("SELECT value FROM resnet_bench_meta")).scalar()
        columns = {c["name"] for c in sa.inspect(conn).get_columns("cases")}
    assert int(version) == SCHEMA_VERSION and "samples" not in columns and set(dropped) <= columns
    frame = store.load()
    files = load([str(p) for p in paths])
    # Rows kept whole but for the columns version 1 never had (empty after the migration).
    _same(frame.drop(columns=list(dropped)), files.drop(columns=list(dropped)))
    assert frame[list(dropped)].isna().all().all()
    store.close()


def test_a_store_newer_than_the_code_is_refused_untouched(url):
    store = Store(url, create=True)
    with store.writing() as conn:
        conn.execute(sa.text("UPDATE resnet_bench_meta SET value = '99'"))
    store.close()
    with pytest.raises(StoreError, match="schema version 99, newer"):
        Store(url)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT value FROM resnet_bench_meta")).scalar() == "99"
    engine.dispose()


def test_list_remove_and_selections(url, tmp_path):
    paths = write_synthetic_runs(tmp_path / "runs", files=3, cases=2)
    code, out, _ = _cli("store", "add", "--db", url, str(tmp_path / "runs"))
    assert code == 0 and "3 run(s) added" in out
    code, out, _ = _cli("store", "list", "--db", url, "--json")
    listed = json.loads(out)
    assert [set(r) >= {"id", "date", "machine", "commit", "cases"} for r in listed] == [True] * 3
    assert [r["date"] for r in listed] == ["run0", "run1", "run2"]  # oldest first
    store = Store(url)
    assert store.resolve("latest") == listed[2]["id"] and store.resolve("latest~2") == listed[0]["id"]
    assert store.resolve(listed[1]["id"][:6]) == listed[1]["id"]
    assert [r["id"] for r in store.runs(Selection(last=2))] == [listed[1]["id"], listed[2]["id"]]
    with pytest.raises(StoreError, match="holds 3 run"):
        store.resolve("latest~3")
    store.close()
    code, out, _ = _cli("store", "remove", "--db", url, listed[0]["id"])
    assert code == 0 and "removed" in out
    code, _, err = _cli("store", "remove", "--db", url, listed[0]["id"])
    assert code == 2 and "names no run" in err
    assert [r["id"] for r in Store(url).runs()] == [r["id"] for r in listed[1:]]
    with Store(url) as store:  # a context manager: closed on leaving
        assert len(store.load()) == 4 and paths


def test_readers_take_the_store(url, tmp_path):
    """report, compare (by id and latest), machines, history, dashboard and export over
    --db give what they give over the files."""
    folder = RESULTS / "amd-epyc-zen-5-x2-avx-512-bf16"
    quick = sorted(str(p) for p in find_runs(folder) if p.name == "quick.json")
    assert len(quick) >= 1
    assert _cli("store", "add", "--db", url, str(folder))[0] == 0
    code, out, err = _cli("report", "--db", url, "--out", str(tmp_path / "rep"))
    assert code == 0, err
    assert (tmp_path / "rep" / "report.html").exists()
    sources = [r["source"] for r in Store(url).runs()]
    code, by_db, _ = _cli("export", "--db", url, "--format", "openmetrics")
    assert code == 0 and by_db == _cli("export", *sources, "--format", "openmetrics")[1]
    run_id = Store(url).runs(Selection())[0]["id"]
    code, _, err = _cli("compare", "--db", url, quick[0], quick[0])
    assert code == 0, err
    ids = [r["id"] for r in Store(url).runs() if r["source"] == quick[0]]
    code, out, err = _cli("compare", "--db", url, ids[0][:8], quick[0])  # a run id and a file
    code_f, out_f, _ = _cli("compare", quick[0], quick[0])
    assert code == code_f == 0 and out == out_f, err
    code, out, err = _cli("history", "--db", url)
    assert code == 0, err
    code_f, out_f, _ = _cli("history", str(folder))
    assert out.splitlines()[0] == out_f.splitlines()[0]  # "N runs, M cases; metric ..."
    code, out, err = _cli("dashboard", "--db", url, "--out", str(tmp_path / "dash"))
    assert code == 0 and (tmp_path / "dash" / "index.html").exists(), err
    # Over the folder too: consecutive runs of other cases (a peak probe after a quick run)
    # are not a comparison, and no longer stop the page.
    assert _cli("dashboard", str(folder), "--out", str(tmp_path / "dash-files"))[0] == 0
    code, _, err = _cli("machines", "--db", url, "--out", str(tmp_path / "mach"))
    assert code == 0, err
    assert run_id
    code, _, err = _cli("report", "--out", str(tmp_path / "none"))
    assert code == 2 and "--db URL" in err


def test_store_option_falls_back_to_the_journal(tmp_path, capsys):
    """``pytest bench --store`` without a JSON written this session (an interrupted sweep, or
    no --benchmark-json) stores the journal's finished cases."""
    import importlib.util
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("bench_conftest", ROOT / "bench" / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    journal = RESULTS / "amd-epyc-zen-5-x2-avx-512-bf16" / "2026-12-02-quick" / "quick.journal.jsonl"
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    config = SimpleNamespace(
        option=SimpleNamespace(benchmark_json=str(tmp_path / "never-written.json")),
        resnet_store=conftest._open_store(url),
    )
    sweep = SimpleNamespace(journal=SimpleNamespace(path=str(journal)), started=time.time())
    conftest._store_run(config, sweep)
    (run,) = Store(url).runs()
    assert run["source"] == str(journal) and f"stored as run {run['id']}" in capsys.readouterr().out
    with pytest.raises(pytest.UsageError, match=r"--store: .*SQLite or PostgreSQL"):
        conftest._open_store("mysql://u@h/d")

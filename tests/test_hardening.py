"""Hostile or unlucky input (#40): every problem one line and exit 2, no secret printed, no
gate fooled, no output a spreadsheet or a terminal runs; the store's files, servers, locks and
sweeps; readers that refuse what is not a run file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from resnet.cli import main
from resnet.runs import LoadError, RunFile, load, read_run
from resnet.store import Store, StoreError
from resnet.store.core import redact
from tests.test_results import _row, make_run
from tests.test_store import _cli

ROOT = Path(__file__).resolve().parents[1]


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


def _one_run(tmp_path: Path, name: str = "a.json") -> str:
    return str(make_run(tmp_path / name, [_row("v1", "inference", 8)]))


def _history(folder: Path, latest: list[dict]) -> Path:
    """Five steady runs of three cases, then ``latest``, as files dated a day apart."""
    folder.mkdir(parents=True, exist_ok=True)
    steady = [_row(v, "inference", 8, ips=10.0) for v in ("v1", "v1.5", "v2")]
    for day, rows in enumerate([*([steady] * 5), latest], start=1):
        path = make_run(folder / f"run{day}.json", rows)
        data = json.loads(path.read_text())
        data["datetime"] = f"2026-11-{day:02d}T10:00:00"
        path.write_text(json.dumps(data))
    return folder


@pytest.mark.parametrize(
    "latest, said",
    [
        ([_row("v1", "inference", 8, ips=10.0)], "lacks 2 of the 3 cases"),
        ([_row(v, "inference", 8, status="error") for v in ("v1", "v1.5", "v2")], "3 case(s) did not finish"),
    ],
)
def test_the_history_gate_fails_on_a_latest_run_that_lost_or_failed_cases(tmp_path, latest, said):
    folder = _history(tmp_path / "runs", latest)
    code, out, _ = _cli("history", str(folder), "--fail-on-new", "images_per_sec:-5%")
    assert code == 1 and said in out and "NEW CHANGE at the latest run" in out


def test_a_steady_history_still_passes_the_gate(tmp_path):
    steady = [_row(v, "inference", 8, ips=10.0) for v in ("v1", "v1.5", "v2")]
    assert (
        _cli("history", str(_history(tmp_path / "runs", steady)), "--fail-on-new", "images_per_sec:-5%")[0]
        == 0
    )


def test_a_password_is_never_shown():
    assert redact("postgresql://bob:s3cret@db.example:5432/x") == "postgresql://bob:***@db.example:5432/x"
    assert redact("postgresql://bob:pa@ss@db/x") == "postgresql://bob:***@db/x"
    assert redact("sqlite:///runs.sqlite") == "sqlite:///runs.sqlite"
    code, out, err = _cli("report", "--db", "postgresql://bob:s3cret@db:notaport/x", "--out", "/tmp/never")
    assert code == 2 and "s3cret" not in out + err and "***" in err and len(err.strip().splitlines()) == 1
    code, out, err = _cli("store", "list", "--db", "mysql://bob:s3cret@db/x")
    assert code == 2 and "s3cret" not in out + err


def test_a_password_in_a_working_postgresql_url_is_masked_in_every_line(tmp_path, url):
    if not url.startswith("postgresql"):
        pytest.skip("a SQLite URL holds no password")
    secret = sa.make_url(url).set(password="s3cret-pw").render_as_string(hide_password=False)
    run = make_run(tmp_path / "a.json", [_row("v1", "inference", 8)])
    for argv in (["store", "add", str(run)], ["store", "list"], ["store", "remove", "nope"]):
        _, out, err = _cli(*argv, "--db", secret)
        assert "s3cret-pw" not in out + err, argv


def test_a_row_key_the_store_keeps_for_itself_is_refused(tmp_path, url):
    for key, value in (("run_id", "0123456789ab"), ("seq", "x")):
        run = make_run(tmp_path / f"{key}.json", [_row("v1", "inference", 8, **{key: value})])
        code, _, err = _cli("store", "add", str(run), "--db", url)
        assert code == 2 and f"row key {key!r}" in err and "keeps for itself" in err
    good = make_run(tmp_path / "good.json", [_row("v1", "inference", 8, note_of_mine="kept")])
    assert _cli("store", "add", str(good), "--db", url)[0] == 0
    with Store(url) as store:
        (back,) = store.load().to_dict("records")
    assert back["note_of_mine"] == "kept" and back["machine"] and back["commit"] == "abc123"


@pytest.mark.parametrize(
    "content",
    [b"this is not a database\n", os.urandom(4096), b"SQLite format 3\x00" + b"\x00" * 50],
    ids=["text", "random", "truncated"],
)
def test_a_file_that_is_not_a_store_is_one_line(tmp_path, content):
    path = tmp_path / "store.sqlite"
    path.write_bytes(content)
    for argv in (
        ["store", "list"],
        ["store", "add", _one_run(tmp_path)],
    ):
        code, _, err = _cli(*argv, "--db", f"sqlite:///{path}")
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (argv, err)
    assert path.read_bytes() == content  # nothing written into it


def test_a_damaged_schema_version_is_one_line(tmp_path):
    url = _sqlite(tmp_path)
    assert _cli("store", "add", _one_run(tmp_path), "--db", url)[0] == 0
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE resnet_bench_meta SET value = 'three' WHERE key = 'schema_version'"))
    engine.dispose()
    code, _, err = _cli("store", "list", "--db", url)
    assert code == 2 and "'three', not a number" in err


def test_another_applications_database_is_refused_and_left_untouched(tmp_path, url):
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE runs (id TEXT PRIMARY KEY, owner TEXT)"))
    code, _, err = _cli("store", "add", _one_run(tmp_path), "--db", url)
    assert code == 2 and "another application's tables (runs)" in err
    with engine.connect() as conn:
        assert sa.inspect(conn).get_table_names() == ["runs"]
    engine.dispose()


def test_a_store_this_process_may_not_write_is_read_read_only(tmp_path, monkeypatch):
    url = _sqlite(tmp_path)
    assert _cli("store", "add", _one_run(tmp_path), "--db", url)[0] == 0
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK else real(p, mode))
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, _ = _cli("store", "list", "--db", url)
    assert code == 0 and "1 run(s)" in out
    code, _, err = _cli("store", "remove", "latest", "--db", url)
    assert code == 2 and "read-only" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_writer_waits_for_another_at_most_its_lock_timeout(tmp_path, url):
    first = make_run(tmp_path / "a.json", [_row("v1", "inference", 8)])
    second = make_run(tmp_path / "b.json", [_row("v2", "inference", 8)])
    marker = tmp_path / "paused"
    holder = subprocess.Popen(
        [sys.executable, "-m", "resnet.cli", "store", "add", str(first), "--db", url],
        env={**os.environ, "RESNET_BENCH_STORE_PAUSE_FILE": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 120
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the first writer never reached the middle of its add"
        start = time.time()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "resnet.cli",
                "store",
                "add",
                str(second),
                "--db",
                url,
                "--lock-timeout",
                "2",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        waited = time.time() - start
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    assert done.returncode == 2 and "held the store's lock for more than 2 s" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and waited < 60


def test_a_resumed_sweep_replaces_its_earlier_run_in_the_store(tmp_path, url):
    partial = make_run(tmp_path / "partial.json", [_row("v1", "inference", 8)])
    whole = make_run(tmp_path / "whole.json", [_row("v1", "inference", 8), _row("v2", "inference", 8)])
    runs = [read_run(partial), read_run(whole), read_run(whole)]
    for run in runs:
        run.sweep_id = "sweep-1"
    other = read_run(make_run(tmp_path / "other.json", [_row("v1.5", "inference", 8)]))
    with Store(url, create=True) as store:
        assert [store.add(r)[1] for r in [*runs, other]] == ["added", "replaced", "", "added"]
        listed = store.runs()
    assert [r["cases"] for r in listed] == [2, 1]


def test_the_sweep_keeps_its_id_when_resumed(tmp_path):
    from resnet.engine.journal import Journal

    first = Journal(tmp_path / "j.jsonl", {"sweep_id": "one", "axes": 1}, resume=False)
    first.close()
    again = Journal(tmp_path / "j.jsonl", {"sweep_id": "two", "axes": 1}, resume=True)
    assert again.header["sweep_id"] == "one"
    again.close()


def test_dates_with_an_offset_sort_as_instants(tmp_path, url):
    early = make_run(tmp_path / "early.json", [_row("v1", "inference", 8, ips=10.0)])
    late = make_run(tmp_path / "late.json", [_row("v1", "inference", 8, ips=9.0)])
    for path, when in ((early, "2026-12-06T10:00:00+00:00"), (late, "2026-12-06T06:00:00-05:00")):
        data = json.loads(path.read_text())
        data["datetime"] = when  # 06:00 at -05:00 is 11:00 UTC: an hour after the other
        path.write_text(json.dumps(data))
    assert read_run(late).datetime == "2026-12-06T11:00:00+00:00"
    assert _cli("store", "add", str(late), str(early), "--db", url)[0] == 0
    with Store(url) as store:
        assert [r["source"] for r in store.runs()] == [str(early), str(late)]


def test_readers_refuse_what_is_not_a_run_file(tmp_path, monkeypatch):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    loop = tmp_path / "loop.json"
    loop.symlink_to(tmp_path / "loop2.json")
    (tmp_path / "loop2.json").symlink_to(loop)
    device = tmp_path / "zero.json"
    device.symlink_to("/dev/zero")
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    big = make_run(tmp_path / "big.json", [_row("v1", "inference", 8)])
    said = {}
    for path in (deep, loop, device, fifo, big):
        if path is big:
            monkeypatch.setattr("resnet.runs.reading.MAX_BYTES", 100)
        with pytest.raises(LoadError) as err:
            read_run(path)
        said[path.name] = err.value.problem
    assert "deeper" in said["deep.json"] and "loop" in said["loop.json"]
    assert "not a regular file" in said["zero.json"] and "not a regular file" in said["fifo.json"]
    assert "over the 0 MiB" in said["big.json"]


def test_an_unreadable_file_is_skipped_with_a_line_and_the_rest_reported(tmp_path, monkeypatch, capsys):
    good = make_run(tmp_path / "good.json", [_row("v1", "inference", 8)])
    locked = make_run(tmp_path / "locked.json", [_row("v2", "inference", 8)])
    real = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.json":
            raise PermissionError(13, "Permission denied")
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    code = _cli("report", str(locked), str(good), "--out", str(tmp_path / "rep"))[0]
    assert code == 2 and (tmp_path / "rep" / "report.html").is_file()
    errors: list[LoadError] = []
    assert len(load([locked, good], errors=errors)) == 1 and "Permission denied" in errors[0].problem


def test_a_run_without_tail_latencies_reports(tmp_path):
    rows = [_row(v, "inference", 8, latency_ms_p90=None, latency_ms_p99=None) for v in ("v1", "v2")]
    assert _cli("report", str(make_run(tmp_path / "a.json", rows)), "--out", str(tmp_path / "rep"))[0] == 0
    assert "n/a" in (tmp_path / "rep" / "latency.md").read_text()


def test_no_csv_cell_runs_as_a_formula(tmp_path):
    rows = [_row("v1", "inference", 8, note="=HYPERLINK(1)"), _row("v2", "inference", 8, case_id="@SUM(A1)")]
    run = make_run(tmp_path / "a.json", rows)
    out = tmp_path / "export.csv"
    assert _cli("export", str(run), "--format", "csv", "--out", str(out))[0] == 0
    text = out.read_text()
    assert "'=HYPERLINK(1)" in text and "'@SUM(A1)" in text and ",=" not in text and ",@" not in text
    assert _cli("compare", str(run), str(run), "--out", str(tmp_path / "cmp.csv"))[0] == 0
    assert "'@SUM(A1)" in (tmp_path / "cmp.csv").read_text()


def test_control_characters_never_reach_a_terminal_a_table_or_a_metric(tmp_path):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    rows = [_row("v1", "inference", 8, case_id="v1\rINJECTED|x\x1b]0;owned\x07")]
    run = make_run(tmp_path / "a.json", rows)
    code, out, _ = _cli("export", str(run), "--format", "openmetrics")
    assert code == 0 and "\r" not in out and "\x1b" not in out
    assert list(text_string_to_metric_families(out))
    md = tmp_path / "summary.md"
    assert _cli("compare", str(run), str(run), "--markdown", str(md))[0] == 0
    text = md.read_text()
    assert "\r" not in text and "\x1b" not in text
    url = _sqlite(tmp_path)
    _cli("store", "add", str(run), "--db", url)
    code, out, _ = _cli("compare", str(run), str(run))
    assert "\x1b" not in out and "\r" not in out


@pytest.mark.parametrize("name", ["..", "...", " ", "!!!", "a\x1bb"])
def test_a_machine_name_that_is_no_folder_name_is_refused(tmp_path, name):
    code, _, err = _cli("machine", "--name", name, "--write", str(tmp_path))
    assert code == 2 and "needs a letter or a digit" in err and list(tmp_path.iterdir()) == []


def test_a_run_file_round_trips_as_written(tmp_path, url):
    rows = [_row("v1", "inference", 8, custom={"nested": [1, 2, {"deep": True}]})]
    run = make_run(tmp_path / "a.json", rows)
    with Store(url, create=True) as store:
        store.add(read_run(run))
        back = store.load()
    assert back.loc[0, "custom"] == {"nested": [1, 2, {"deep": True}]}
    assert isinstance(read_run(run), RunFile)


def test_a_store_error_in_the_middle_of_a_read_is_one_line(tmp_path, monkeypatch):
    url = _sqlite(tmp_path)
    assert _cli("store", "add", _one_run(tmp_path), "--db", url)[0] == 0

    def broken(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(sa.engine.Connection, "execute", broken)
    code, _, err = _cli("store", "list", "--db", url)
    assert code == 2 and "disk I/O error" in err and isinstance(StoreError("x"), ValueError)


def test_a_postgresql_role_without_the_rights_it_needs_is_one_line(tmp_path, url):
    if not url.startswith("postgresql"):
        pytest.skip("roles are PostgreSQL's")
    role = f"nopriv_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(sa.text(f'REVOKE CREATE ON SCHEMA public FROM "{role}", PUBLIC'))
    try:
        limited = sa.make_url(url).set(username=role).render_as_string(hide_password=False)
        code, _, err = _cli("store", "add", _one_run(tmp_path), "--db", limited)
        assert code == 2 and "permission denied" in err and "CREATE" in err and "Traceback" not in err
        assert _cli("store", "add", _one_run(tmp_path), "--db", url)[0] == 0  # the owner makes it
        code, _, err = _cli("store", "list", "--db", limited)
        assert code == 2 and "permission denied" in err and "SELECT" in err
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            conn.execute(sa.text(f'DROP ROLE "{role}"'))
        admin.dispose()


@pytest.mark.parametrize(
    "command", [["store", "list"], ["history", "--db", "default"], ["store", "add", "x.json"]]
)
def test_an_empty_store_variable_is_refused_not_read_as_the_local_file(
    tmp_path, monkeypatch, capsys, command
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RESNET_BENCH_DB", "  ")
    if command[-1] == "x.json":
        command = [*command[:-1], _one_run(tmp_path)]
    assert main(command) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "RESNET_BENCH_DB is set but empty" in err
    assert not (tmp_path / ".benchmarks").exists()


def test_windows_that_kept_no_step_give_no_step_statistics_not_a_traceback():
    """Found by the fuzz test in CI (a random draw): samples_s of empty windows."""
    from resnet.runs.reading import _step_stats

    assert _step_stats({"samples_s": [[]]})["step_median_s"] is None
    assert _step_stats({"samples_s": [[], "x", [0.1, 0.3]]})["step_median_s"] == 0.2

"""Faults, tried as a hostile but fair user would: nothing measured is lost, nothing is
misread, every bad input is one line with exit code 2 (4 for pytest's usage errors)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from resnet.cli import main
from resnet.engine.journal import Journal, read_journal
from resnet.engine.options import UsageError, parse_case_timeout, parse_options
from resnet.engine.worker.client import CaseFailure, WorkerClient
from resnet.engine.worker.protocol import is_out_of_memory
from tests.sweeps import TEST_WORKER, run_bench, start_bench
from tests.test_results import _row, make_run

HEADER = {"profile": "smoke", "backend": "tensorflow", "image_size": 32, "rounds": 3, "batch_sizes": [2]}
#: A sweep of one tiny case: v1 inference, batch 2, 32x32.
TINY = ["bench/test_throughput.py", "--profile", "smoke", "--versions", "v1", "--modes", "inference"]
TINY += ["--repeat", "1", "--devices", "cpu"]


def _wait_for(proc: subprocess.Popen, text: str, timeout: float = 120) -> str:
    """Read the sweep's output until a line contains ``text``."""
    seen = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return "".join(seen)
    raise AssertionError(f"{text!r} never appeared: {''.join(seen)[-2000:]}")


def _workers_of(pid: int) -> list[psutil.Process]:
    try:
        return [
            p
            for p in psutil.Process(pid).children(recursive=True)
            if "resnet.engine.worker" in " ".join(p.cmdline())
        ]
    except psutil.NoSuchProcess:
        return []


# -- the journal ------------------------------------------------------------------
def test_append_after_a_cut_line_starts_a_new_line_and_resume_drops_the_fragment(tmp_path):
    path = tmp_path / "j.jsonl"
    j = Journal(path, HEADER, resume=False)
    j.append({"case_id": "a", "status": "ok"})
    j.close()
    with path.open("a") as f:
        f.write('{"type": "case", "row": {"case_id": "b", "st')  # a crash mid-write
    j = Journal(path, HEADER, resume=True)
    j.append({"case_id": "c", "status": "ok"})
    j.close()
    for line in path.read_text().splitlines():
        json.loads(line)  # every line parses: the fragment is gone, "c" is whole
    assert [r["case_id"] for r in read_journal(path).rows] == ["a", "c"]
    # A fragment left by someone else is never glued onto: the next line starts anew.
    with path.open("a") as f:
        f.write('{"frag')
    j = Journal(path, HEADER, resume=True)
    j.close()
    text = path.read_text()
    assert text.endswith("\n") and '{"frag' not in text


@pytest.mark.parametrize(
    "change,named",
    [
        ({"batch_sizes": [2, 8]}, "batch_sizes"),
        ({"min_time": 5.0}, "min_time"),
        ({"image_size": 64}, "image_size"),
    ],
)
def test_resume_refuses_other_settings_and_names_them(tmp_path, change, named):
    path = tmp_path / "j.jsonl"
    Journal(path, HEADER, resume=False).close()
    with pytest.raises(UsageError, match=f"other settings \\({named}="):
        Journal(path, {**HEADER, **change}, resume=True)
    Journal(path, {**HEADER, "profile": "quick"}, resume=True).close()  # a preset's name changes nothing
    # Settings as the sweep holds them (tuples) match the same settings read back (lists).
    Journal(path, {**HEADER, "batch_sizes": (2,)}, resume=True).close()


def test_a_second_sweep_on_a_locked_journal_is_refused_naming_the_holder(tmp_path):
    path = tmp_path / "j.jsonl"
    first = Journal(path, HEADER, resume=False)
    first.append({"case_id": "a", "status": "ok"})
    with pytest.raises(UsageError, match=f"in use by another sweep \\(pid {os.getpid()}\\)"):
        Journal(path, HEADER, resume=False)
    assert [r["case_id"] for r in read_journal(path).rows] == ["a"]  # not truncated
    first.close()
    Journal(path, HEADER, resume=True).close()


def test_a_journal_path_that_is_not_a_journal_is_never_truncated(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"benchmarks": [], "big": "x" * 10_000}))
    before = results.read_bytes()
    with pytest.raises(UsageError, match="is not a resnet-bench journal; it is left untouched"):
        Journal(results, HEADER, resume=False)
    assert results.read_bytes() == before
    with pytest.raises(UsageError, match="is a directory"):
        Journal(tmp_path, HEADER, resume=False)


def test_two_concurrent_sweeps_on_one_journal(tmp_path):
    """A second sweep on a journal in use stops before any case, naming the first's
    pid; the first finishes with its cases intact."""
    journal = tmp_path / "shared.journal.jsonl"
    first = start_bench(
        *TINY, "--min-time", "6", "--journal", str(journal), "--benchmark-json", str(tmp_path / "a.json")
    )
    try:
        _wait_for(first, "start  v1-inference")
        second = run_bench(*TINY, "--journal", str(journal), "--benchmark-json", str(tmp_path / "b.json"))
        assert second.returncode == 4
        assert f"in use by another sweep (pid {first.pid})" in second.stderr
        assert "Traceback" not in second.stderr and "INTERNALERROR" not in second.stdout + second.stderr
        assert first.wait(timeout=180) == 0
    finally:
        first.kill()
    rows = read_journal(journal).rows
    assert [r["status"] for r in rows] == ["ok"]


def test_collect_only_does_not_touch_the_journal(tmp_path):
    journal = tmp_path / "j.jsonl"
    journal.write_text(json.dumps({"type": "header", **HEADER}) + "\n")
    before = journal.read_bytes()
    out = run_bench(*TINY, "--journal", str(journal), "--collect-only")
    assert out.returncode == 0, out.stdout[-1000:]
    assert journal.read_bytes() == before


def test_a_sweep_of_skipped_cases_still_writes_its_json(tmp_path):
    out_json = tmp_path / "out.json"
    out = run_bench(*TINY[:-2], "--devices", "gpu:7", "--benchmark-json", str(out_json))
    assert out.returncode == 0, out.stdout[-2000:]
    data = json.loads(out_json.read_text())
    (row,) = data["resnet_bench"]["cases"]
    assert row["status"] == "skipped" and "no GPU gpu:7" in row["reason"]
    assert main(["report", str(out_json), "--out", str(tmp_path / "r")]) == 0


@pytest.mark.parametrize("journal", ["dir", "unwritable"])
def test_a_bad_journal_path_is_a_usage_error(tmp_path, journal):
    path = tmp_path if journal == "dir" else Path("/proc/resnet-bench/j.jsonl")
    out = run_bench(*TINY, "--journal", str(path), timeout=120)
    assert out.returncode == 4
    assert "--journal:" in out.stderr and "INTERNALERROR" not in out.stdout + out.stderr


# -- processes ----------------------------------------------------------------------
def test_a_killed_parent_leaves_no_worker(tmp_path):
    sweep = start_bench(*TINY, "--min-time", "30", "--benchmark-json", str(tmp_path / "o.json"))
    try:
        _wait_for(sweep, "start  v1-inference")
        deadline = time.monotonic() + 60
        while not (workers := _workers_of(sweep.pid)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert workers
        sweep.kill()  # SIGKILL: no clean-up code runs in the parent
        sweep.wait()
        time.sleep(1.0)
        alive = [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"workers still alive: {[w.pid for w in alive]}"
    finally:
        sweep.kill()


def test_sigterm_stops_the_sweep_and_writes_what_finished(tmp_path):
    out_json = tmp_path / "o.json"
    args = [*TINY[:-4], "--modes", "inference,training", "--repeat", "1", "--devices", "cpu"]
    sweep = start_bench(*args, "--min-time", "20", "--benchmark-json", str(out_json))
    try:
        _wait_for(sweep, "finish v1-inference")
        _wait_for(sweep, "start  v1-training")
        time.sleep(2.0)
        workers = _workers_of(sweep.pid)
        sweep.send_signal(signal.SIGTERM)
        sweep.wait(timeout=60)
    finally:
        sweep.kill()
    assert sweep.returncode != 0
    data = json.loads(out_json.read_text())
    assert [r["case_id"] for r in data["resnet_bench"]["cases"]] == ["v1-inference-bs2-float32-cpu-32px"]
    time.sleep(1.0)
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]


def test_a_worker_killed_from_outside_is_an_error_not_oom():
    with WorkerClient(timeout=120, env=TEST_WORKER) as w:
        w.send("sleep", seconds=30)
        time.sleep(0.5)
        os.kill(w.proc.pid, signal.SIGKILL)
        with pytest.raises(CaseFailure) as info:
            w.receive("sleep")
    assert info.value.status == "error"
    assert info.value.reason == "worker killed by SIGKILL"


def test_out_of_memory_only_with_evidence():
    class ResourceExhaustedError(Exception):  # TensorFlow's type, by name
        pass

    class XlaRuntimeError(Exception):
        pass

    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(ResourceExhaustedError("OOM when allocating tensor"))
    assert is_out_of_memory(XlaRuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 4 GiB"))
    for text in ("no room left in the queue", "zoom level", "bloom filter", "oom", "out of memory?"):
        assert not is_out_of_memory(RuntimeError(text)), text
    assert not is_out_of_memory(XlaRuntimeError("INTERNAL: bloom"))
    with WorkerClient(timeout=120, env=TEST_WORKER) as w:
        with pytest.raises(CaseFailure) as info:
            w.call("raise", kind="MemoryError", message="cannot allocate")
        assert info.value.status == "oom"
        with pytest.raises(CaseFailure) as info:
            w.call("raise", kind="RuntimeError", message="bloom filter out of room")
        assert info.value.status == "error"


# -- options ------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["inf", "nan", "1e12", "0", "-5", "soon"])
def test_case_timeout_must_be_finite_and_positive(value):
    with pytest.raises(
        UsageError, match=r"--case-timeout: .* is not a number of seconds between 0 and 86400"
    ):
        parse_case_timeout(value)
    assert parse_case_timeout("90") == 90.0


@pytest.mark.parametrize(
    "options,message",
    [
        ({"image_size": "64,32"}, "--image-size takes one value, not a list"),
        ({"rounds": "5,10"}, "--rounds takes one value, not a list"),
        ({"rounds": "0"}, "--rounds: 0 is less than 1"),
        ({"min_time": "inf"}, "--min-time: 'inf' is not a number of seconds"),
        ({"warmup_rounds": "-1"}, "--warmup-rounds: '-1' is not a non-negative integer"),
    ],
)
def test_options_are_checked_where_they_are_parsed(options, message):
    with pytest.raises(UsageError) as info:
        parse_options(options)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_bad_options_stop_pytest_before_any_case(tmp_path):
    out = run_bench(*TINY, "--case-timeout", "inf", "--image-size", "64,32", timeout=120)
    assert out.returncode == 4
    assert "--case-timeout" in out.stderr or "--image-size" in out.stderr
    assert "Traceback" not in out.stderr and "start" not in out.stdout


# -- the command line: every malformed input is exit 2, one line, no traceback ------
def _one_line_exit_2(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


MALFORMED = {
    "binary.journal.jsonl": bytes(range(256)) * 4,
    "bench-not-object.json": b'{"benchmarks": [1]}',
    "case-not-object.json": b'{"benchmarks": [], "resnet_bench": {"cases": [1]}}',
    "list-line.journal.jsonl": b'{"type": "header"}\n[1, 2]\n',
    "number-line.journal.jsonl": b'{"type": "header"}\n42\n',
    "string-number.json": json.dumps(
        {"benchmarks": [], "resnet_bench": {"cases": [{**_row("v1", "inference", 8), "batch_size": "8"}]}}
    ).encode(),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
@pytest.mark.parametrize("command", ["report", "compare", "machines", "dashboard"])
def test_malformed_inputs(tmp_path, capsys, name, command):
    bad = tmp_path / "runs" / name
    bad.parent.mkdir()
    bad.write_bytes(MALFORMED[name])
    good = make_run(tmp_path / "runs" / "good.json", [_row("v1", "inference", 8)])
    out = str(tmp_path / "out")
    argv = {
        "report": ["report", str(good), str(bad), "--out", out],
        "compare": ["compare", str(good), str(bad)],
        "machines": ["machines", str(good), str(bad), "--out", out],
        "dashboard": ["dashboard", str(bad.parent), "--out", out],
    }[command]
    err = _one_line_exit_2(capsys, argv)
    assert str(bad) in err
    if name.endswith("line.journal.jsonl"):
        assert "line 2" in err
    if command in ("report", "machines"):
        assert any((tmp_path / "out").iterdir())  # the readable input is still reported


@pytest.mark.parametrize("where", ["a file", "under a file", "under /proc"])
@pytest.mark.parametrize("command", ["report", "machines", "dashboard"])
def test_bad_output_paths_are_refused_before_work(tmp_path, capsys, where, command):
    (tmp_path / "runs").mkdir()
    good = make_run(tmp_path / "runs" / "good.json", [_row("v1", "inference", 8)])
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    out = {"a file": blocker, "under a file": blocker / "out", "under /proc": Path("/proc/resnet-bench")}[
        where
    ]
    source = str(good.parent) if command == "dashboard" else str(good)
    err = _one_line_exit_2(capsys, [command, source, "--out", str(out)])
    assert "--out" in err


def test_prices_with_a_machine_twice_name_the_file_and_line(tmp_path, capsys):
    good = make_run(tmp_path / "good.json", [_row("v1", "inference", 8)])
    prices = tmp_path / "prices.csv"
    prices.write_text("machine,price_per_hour\nbox,1\nbox,2\n")
    err = _one_line_exit_2(
        capsys, ["machines", str(good), "--prices", str(prices), "--out", str(tmp_path / "m")]
    )
    assert str(prices) in err and "line 3" in err and "priced twice" in err
    for value in ("nan", "inf", "-1"):
        prices.write_text(f"machine,price_per_hour\nbox,{value}\n")
        _one_line_exit_2(
            capsys, ["machines", str(good), "--prices", str(prices), "--out", str(tmp_path / "m")]
        )


@pytest.mark.parametrize("value", [math.nan, math.inf, -3.0])
def test_impossible_figures_are_reported_invalid_never_averaged(tmp_path, value):
    from resnet.analysis.tables import throughput_table
    from resnet.runs import load

    rows = [_row("v1", "inference", 8), _row("v1", "inference", 1, ips=value)]
    path = make_run(tmp_path / "run.json", rows)
    df = load(path)
    bad = df[df["batch_size"] == 1].iloc[0]
    assert bad["status"] == "invalid" and "images_per_sec=" in bad["reason"]
    assert "invalid" in throughput_table(df).to_string()


def test_a_dollar_in_a_label_is_text(tmp_path):
    machine = {"cpu_model": "Cheap $5 CPU $x^2$", "cpu_affinity": 2, "gpus": []}
    path = make_run(
        tmp_path / "run.json", [_row("v1", "inference", bs, ips=10.0 * bs) for bs in (1, 8)], machine
    )
    assert main(["report", str(path), "--out", str(tmp_path / "r")]) == 0
    assert main(["machines", str(path), "--out", str(tmp_path / "m")]) == 0


# -- the gate ------------------------------------------------------------------------
def _three(path: Path, ips: float = 100.0, drop: tuple[int, ...] = ()) -> Path:
    rows = [_row(v, "inference", 8, ips=ips) for i, v in enumerate(("v1", "v1.5", "v2")) if i not in drop]
    return make_run(path, rows)


def test_a_new_run_missing_cases_fails_the_gate(tmp_path, capsys):
    base, new = _three(tmp_path / "a.json"), _three(tmp_path / "b.json", drop=(1, 2))
    assert main(["compare", str(base), str(new)]) == 1
    out = capsys.readouterr().out
    assert "v1.5-inference-bs8-float32-cpu" in out and "not in new run" in out
    assert main(["compare", str(base), str(new), "--allow-missing"]) == 0
    assert "missing (allowed)" in capsys.readouterr().out


def test_a_nan_figure_in_the_new_run_fails_the_gate(tmp_path, capsys):
    base, new = _three(tmp_path / "a.json"), _three(tmp_path / "b.json", ips=math.nan)
    assert main(["compare", str(base), str(new)]) == 1
    assert "invalid" in capsys.readouterr().out

"""A/B runs of two software stacks (#37): SPECs, the alternating rounds across workers, the
verdict and its gate, and real runs: identical stacks, a setting that changes the speed, a
stack missing a package, a stack whose worker dies."""

from __future__ import annotations

import json
import math
import os
import sys
import typing
from pathlib import Path

import pandas as pd
import pytest

from resnet.analysis import ab
from resnet.cli import main as cli
from resnet.engine.errors import CaseFailure, UsageError
from resnet.engine.kinds.rounds import Alternation, Budget, Member
from resnet.engine.stacks import Stack, parse_stack
from resnet.stats import paired_median_ratio
from tests.sweeps import run_bench

ROOT = Path(__file__).resolve().parents[1]
SMALL = ("--bench-profile", "smoke", "--versions", "v1.5", "--batch-sizes", "4", "--paired", "off")


# -- SPECs -------------------------------------------------------------------------------
def test_a_spec_reads_settings_an_interpreter_a_venv_and_a_checkout(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(sys.executable)
    stack = parse_stack(f"TF_ENABLE_ONEDNN_OPTS=0 'XLA_FLAGS=--a --b' {venv} {ROOT}")
    assert stack.env == (("TF_ENABLE_ONEDNN_OPTS", "0"), ("XLA_FLAGS", "--a --b"))
    assert stack.python == str(venv / "bin" / "python")
    assert stack.checkout == str(ROOT) and stack.cwd == str(ROOT)
    assert stack.environment()["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)
    assert parse_stack(sys.executable).interpreter == sys.executable
    assert parse_stack("same") == Stack(spec="same") and Stack().describe() == "this stack"


@pytest.mark.parametrize(
    "spec, says",
    [
        ("", "empty"),
        ("no-such-thing", "'no-such-thing' is neither KEY=VALUE"),
        ("1BAD=x", "'1BAD=x' is neither"),
        (f"{ROOT} {ROOT}", "two checkouts"),
        (f"{sys.executable} {sys.executable}", "two interpreters"),
        ("'unclosed", "cannot be split"),
    ],
)
def test_a_bad_spec_is_one_line_naming_it(spec, says):
    with pytest.raises(UsageError, match=r"^--ab: ") as err:
        parse_stack(spec)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_stack_that_cannot_import_resnet_stops_the_run_before_any_case(tmp_path):
    script = tmp_path / "python"  # Python without its site packages or the current folder
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -I -S "$@"\n')
    script.chmod(0o755)
    out = run_bench("bench/test_ab.py", *SMALL, "--modes", "inference", f"--ab={script}", timeout=120)
    assert out.returncode == 4, out.stdout[-1000:]
    (line,) = [x for x in out.stderr.splitlines() if "cannot import resnet-bench" in x]
    assert f"stack B (python {script})" in line and "No module named 'resnet'" in line
    assert "start " not in out.stdout


def test_a_gate_without_an_ab_run_is_refused_before_the_store_is_made(tmp_path):
    db = tmp_path / "store.db"
    out = run_bench("bench/test_ab.py", *SMALL, "--fail-on=-3%", "--store", f"sqlite:///{db}", timeout=120)
    assert out.returncode == 4 and "--fail-on gates an A/B run" in out.stderr, out.stderr[-1000:]
    assert not db.exists()


# -- the rounds across workers ------------------------------------------------------------
class FakeWorker:
    """A worker whose steps take the seconds it is given, round after round."""

    def __init__(self, times, fail_at=None, log=None, name=""):
        self.times, self.calls, self.fail_at = list(times), 0, fail_at
        self.log, self.name = log if log is not None else [], name

    def call(self, cmd, **args):
        self.calls += 1
        self.log.append(self.name)
        if self.fail_at and self.calls >= self.fail_at:
            raise CaseFailure("error", "worker killed by SIGKILL")
        return {"seconds": self.times[(self.calls - 1) % len(self.times)]}


def test_an_alternation_steps_each_member_once_a_round_in_a_shuffled_order():
    log: list[str] = []
    a, b = FakeWorker([0.1], log=log, name="A"), FakeWorker([0.2], log=log, name="B")
    rounds = Alternation([Member("A", a), Member("B", b)], seed=3)
    for _ in range(20):
        rounds.one_round()
    pairs = [log[i : i + 2] for i in range(0, 40, 2)]
    assert all(sorted(p) == ["A", "B"] for p in pairs)  # each once a round
    firsts = [p[0] for p in pairs]
    assert 5 <= firsts.count("A") <= 15  # neither always first
    found = rounds.ratio("B", "A")
    assert found["ratio"] == pytest.approx(0.5) and found["pairs"] == 20 and found["differs"]


def test_an_alternation_goes_on_till_its_minimum_time_and_its_width():
    noisy = [0.10, 0.13, 0.09, 0.12, 0.11, 0.14, 0.08]
    a, b = FakeWorker(noisy), FakeWorker([t * 1.05 for t in noisy[3:] + noisy[:3]])
    rounds = Alternation([Member("A", a), Member("B", b)], seed=1)
    rounds.run(Budget(rounds=4, min_time=1.0), [("B", "A")])
    assert rounds.timed("A") >= 1.0 and rounds.rounds < 15
    wide = Alternation([Member("A", FakeWorker(noisy)), Member("B", FakeWorker(noisy[::-1]))], seed=1)
    wide.run(Budget(rounds=6, width=1.0, max_time=3.0), [("B", "A")])
    assert wide.timed("A") >= 3.0 or wide.narrow([("B", "A")], 1.0)


def test_a_member_whose_worker_dies_is_named():
    rounds = Alternation(
        [Member("A", FakeWorker([0.1])), Member("B", FakeWorker([0.1], 3), label="stack B")], 1
    )
    with pytest.raises(CaseFailure, match=r"^error: stack B: worker killed by SIGKILL"):
        rounds.run(Budget(rounds=5), [("B", "A")])


# -- the verdict -------------------------------------------------------------------------
def _row(case, ratio, low, high, status="ok", a=100.0):
    return {"kind": "ab", "case_id": f"ab-{case}", "status": status, "version": "v1.5",
            "mode": "inference", "batch_size": 4, "precision": "float32", "device": "cpu",
            "backend": "tensorflow", "numerator": "B", "denominator": "A", "ratio": ratio,
            "ratio_ci_low": low,
            "ratio_ci_high": high, "pairs": 20, "denominator_images_per_sec": a,
            "numerator_images_per_sec": a * ratio if ratio == ratio else None,
            "stack_a": "this stack", "stack_b": "TF_ENABLE_ONEDNN_OPTS=0", "reason": None}  # fmt: skip


def test_the_gate_fails_on_a_real_slowdown_past_its_threshold_only():
    gate = ab.parse_ab_threshold("-5%")
    same = pd.DataFrame([_row("x", 1.002, 0.99, 1.01), _row("y", 0.995, 0.985, 1.006)])
    table, wide = ab.case_table(same, gate), ab.run_wide(same, gate)
    assert not ab.failed(table, wide) and wide["low"] < 1 < wide["high"] and wide["cases"] == 2
    slower = pd.DataFrame([_row("x", 0.90, 0.88, 0.92), _row("y", 0.91, 0.89, 0.93)])
    table, wide = ab.case_table(slower, gate), ab.run_wide(slower, gate)
    assert ab.failed(table, wide) and set(table["verdict"]) == {"regression"}
    assert "REGRESSION" in ab.wide_line(wide)
    noisy = pd.DataFrame([_row("x", 0.90, 0.70, 1.10)])  # past the threshold, within its noise
    assert not ab.failed(ab.case_table(noisy, gate), ab.run_wide(noisy, gate))
    assert ab.parse_ab_threshold("images_per_sec:-3%").limit == -3
    with pytest.raises(ab.CompareError, match="images_per_sec"):
        ab.parse_ab_threshold("peak_host_rss_mb:+10%")


def test_a_case_that_did_not_finish_shows_its_status_and_stays_out_of_the_run_wide_figure():
    frame = pd.DataFrame([_row("x", 1.0, 0.98, 1.02), {**_row("y", math.nan, math.nan, math.nan, "error"),
                          "reason": "stack B: worker killed by SIGKILL"}])  # fmt: skip
    table = ab.case_table(frame)
    assert table.set_index("case_id").loc["ab-y", "verdict"] == "error: stack B: worker killed by SIGKILL"
    assert ab.run_wide(frame)["cases"] == 1


def test_the_ab_command_prints_the_verdict_gates_and_writes_the_summary(tmp_path, capsys):
    run = tmp_path / "ab.json"
    rows = [_row("x", 0.90, 0.88, 0.92), _row("y", 0.91, 0.89, 0.93)]
    run.write_text(json.dumps({"machine_info": {"node": "m"}, "datetime": "2026-12-06T08:00:00",
                               "benchmarks": [], "resnet_bench": {"cases": rows}}))  # fmt: skip
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    assert cli(["ab", str(run), "--fail-on=-5%", "--markdown", str(summary)]) == 1
    out = capsys.readouterr().out
    assert "run-wide B/A images/s over 2 cases" in out and "FAILED" in out
    assert summary.read_text().startswith("earlier step\n### resnet-bench A/B: REGRESSION")
    assert cli(["ab", str(run), "--fail-on=-20%"]) == 0
    assert cli(["ab", str(run), "--fail-on=+5%"]) == 2


# -- real runs ---------------------------------------------------------------------------


def _rows(path: Path) -> list[dict]:
    return [r for r in json.loads(path.read_text())["resnet_bench"]["cases"] if r["kind"] == "ab"]


def test_identical_stacks_give_an_interval_that_holds_1(tmp_path):
    out = run_bench("bench/test_ab.py", *SMALL, "--modes", "inference", "--ab", "same",
                    "--paired-rounds", "30", "--fail-on=-5%",
                    f"--benchmark-json={tmp_path / 'aa.json'}")  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:]
    (row,) = _rows(tmp_path / "aa.json")
    assert row["status"] == "ok" and row["pairs"] >= 30 and row["stack_b"].endswith("; this stack")
    # The row's 95% interval misses 1 once in 20 identical runs by design; at 99.9% the
    # same rounds must hold it (a test must not fail by chance).
    _, low, high = paired_median_ratio(*row["samples_s"], level=0.999)
    assert low <= 1 <= high, (low, high)
    assert "A/B gate (-5% on images/s): passed" in out.stdout


def test_a_stack_without_onednn_is_told_apart_and_fails_the_gate(tmp_path):
    out = run_bench("bench/test_ab.py", *SMALL, "--modes", "training", "--ab", "TF_ENABLE_ONEDNN_OPTS=0",
                    "--paired-rounds", "10", "--fail-on=-1%", f"--markdown={tmp_path / 's.md'}",
                    f"--benchmark-json={tmp_path / 'ab.json'}")  # fmt: skip
    (row,) = _rows(tmp_path / "ab.json")
    assert row["status"] == "ok" and row["differs"] is True, row
    assert row["stack_b"].endswith("TF_ENABLE_ONEDNN_OPTS=0")
    slower = row["ratio_ci_high"] < 0.99
    assert out.returncode == (1 if slower else 0), out.stdout[-2000:]
    assert ("REGRESSION" in (tmp_path / "s.md").read_text()) == slower


@pytest.mark.slow
def test_a_stack_missing_a_package_skips_each_case_in_one_line(tmp_path):
    pytest.importorskip("openvino")
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "openvino.py").write_text(
        "raise ImportError('No module named openvino (hidden for the test)')\n"
    )
    out = run_bench("bench/test_ab.py", *SMALL, "--modes", "inference", "--runtimes", "openvino",
                    "--batch-sizes", "2,4", "--ab", f"PYTHONPATH={hidden}",
                    f"--benchmark-json={tmp_path / 'ab.json'}", "-rs", timeout=900)  # fmt: skip
    rows = _rows(tmp_path / "ab.json")
    assert [r["status"] for r in rows] == ["skipped", "skipped"], out.stdout[-2000:]
    assert all(r["reason"].startswith("stack B: openvino is not installed") for r in rows)
    assert (
        "Traceback" not in out.stdout + out.stderr
        and out.stdout.count("stack B: openvino is not installed") >= 2
    )


def test_a_killed_b_worker_leaves_a_s_figures_and_a_clear_status(tmp_path):
    plugin = "RESNET_BENCH_WORKER_PLUGINS=tests.worker_commands RESNET_BENCH_TEST_DIE_AFTER=6"
    out = run_bench("bench/test_ab.py", *SMALL, "--modes", "inference", "--batch-sizes", "2,4",
                    "--paired-rounds", "8", "--ab", plugin,
                    f"--benchmark-json={tmp_path / 'ab.json'}")  # fmt: skip
    assert out.returncode == 1, out.stdout[-2000:]
    rows = _rows(tmp_path / "ab.json")
    assert [r["status"] for r in rows] == ["error", "error"]
    for row in rows:
        assert row["reason"] == "stack B: worker killed by SIGKILL"
        assert row["denominator_images_per_sec"] > 0 and len(row["samples_s"][1]) >= 1  # A's steps kept
    assert "Traceback" not in out.stdout


class _StackWorker:
    """A worker of a stack whose settings say WHO it is: steps of 0.1 s (B: 0.098 s)."""

    started: typing.ClassVar[list[str]] = []

    def __init__(self, threads=None, timeout=None, env=None, python=None, cwd=None):
        self.who = env["WHO"]
        _StackWorker.started.append(self.who)
        self.info = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def call(self, cmd, **args):
        return {"seconds": 0.098 if self.who == "B" else 0.1} if cmd == "step" else {}

    def kill(self):
        pass

    def close(self):
        pass


def test_each_session_starts_fresh_workers_the_first_started_stack_alternating(monkeypatch):
    from types import SimpleNamespace

    from resnet.engine.kinds import ab as kind
    from resnet.engine.plan import Axes, RunPlan, Settings
    from resnet.schema import Case

    monkeypatch.setattr(kind, "WorkerClient", _StackWorker)
    _StackWorker.started.clear()
    axes = Axes(("v1",), ("inference",), (8,), ("float32",), ("cpu",), (False,), 224, (None,))
    plan = RunPlan(axes, Settings(rounds=3, warmup_rounds=1, ab="same", ab_sessions=3, paired_rounds=8))
    stacks = {"A": Stack(env=(("WHO", "A"),)), "B": Stack(env=(("WHO", "B"),))}
    state = {"stacks": stacks}
    run = SimpleNamespace(plan=plan, case_timeout=60, remember_info=lambda info: None, state=lambda k: state)
    row = kind.measure_ab(run, kind.ABCase(Case("v1", "inference", 8, "float32", "cpu", False, 224)), None)
    assert _StackWorker.started == ["A", "B", "B", "A", "A", "B"]
    assert row["status"] == "ok" and row["windows"] == 3 and row["pairs"] == 3 * 8
    assert row["ratio"] == pytest.approx(0.1 / 0.098)

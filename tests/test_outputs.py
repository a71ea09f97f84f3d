"""A command owns only what it wrote: every writing command against the user's own files,
failures part-way, hostile result files and options that make no sense."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from resnet.cli import main
from resnet.outputs import MANIFEST, OutputError, foreign_files, staged_folder
from tests.test_results import _row, make_run


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def runs(tmp_path) -> Path:
    """A folder with two runs of one machine (the second 30% slower) and a price file."""
    folder = tmp_path / "runs"
    folder.mkdir()
    make_run(
        folder / "a.json", [_row(v, "inference", bs, ips=10.0 * bs) for v in ("v1", "v2") for bs in (1, 8)]
    )
    make_run(
        folder / "b.json", [_row(v, "inference", bs, ips=7.0 * bs) for v in ("v1", "v2") for bs in (1, 8)]
    )
    return folder


def _command(name: str, runs: Path, out: Path) -> list[str]:
    return {
        "report": ["report", str(runs / "a.json"), "--out", str(out)],
        "machines": ["machines", str(runs / "a.json"), "--out", str(out)],
        "dashboard": ["dashboard", str(runs), "--out", str(out)],
        "make-data": ["make-data", str(out), "--images", "2", "--force"],
    }[name]


WRITERS = ["report", "machines", "dashboard", "make-data"]


# -- the user's own files ------------------------------------------------------------
@pytest.mark.parametrize("command", WRITERS)
def test_a_folder_with_the_users_own_files_is_refused_and_kept_byte_for_byte(tmp_path, runs, capsys, command):
    out = tmp_path / "mine"
    (out / "important").mkdir(parents=True)
    (out / "README.md").write_text("# my project\n")
    (out / "dataset.json").write_text("{}")  # a name make-data writes, but not its set
    (out / "important" / "thesis.tex").write_bytes(b"\\documentclass{article}")
    before = _tree(out)
    assert main(_command(command, runs, out)) == 2
    err = _err(capsys)
    assert str(out) in err
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


@pytest.mark.parametrize("command", WRITERS)
def test_a_rerun_replaces_its_own_output_whole(tmp_path, runs, command):
    out = tmp_path / "out"
    assert main(_command(command, runs, out)) == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["tool"] == "resnet-bench" and manifest["command"] == command
    assert sorted(_tree(out)) == sorted([MANIFEST, *manifest["files"]])
    assert foreign_files(out, command) == []
    assert main(_command(command, runs, out)) == 0
    assert sorted(_tree(out)) == sorted([MANIFEST, *json.loads((out / MANIFEST).read_text())["files"]])


def test_a_file_of_ours_changed_by_the_user_is_theirs_now(tmp_path, runs, capsys):
    out = tmp_path / "out"
    assert main(_command("report", runs, out)) == 0
    (out / "README.md").write_text("my notes on this report")
    assert main(_command("report", runs, out)) == 2
    assert "README.md" in _err(capsys)
    assert (out / "README.md").read_text() == "my notes on this report"


def test_one_commands_output_is_not_anothers(tmp_path, runs, capsys):
    out = tmp_path / "out"
    assert main(_command("dashboard", runs, out)) == 0
    before = _tree(out)
    assert main(_command("report", runs, out)) == 2
    assert "a dashboard output" in _err(capsys)
    assert _tree(out) == before


def test_report_into_the_projects_results_folder_is_refused(tmp_path, runs, capsys):
    results = tmp_path / "results"
    results.mkdir()
    (results / "README.md").write_text("# the project's results index\n")
    assert main(["report", str(runs / "a.json"), "--out", str(results)]) == 2
    _err(capsys)
    assert (results / "README.md").read_text() == "# the project's results index\n"


def test_a_report_that_fails_part_way_leaves_the_earlier_report(tmp_path, runs, monkeypatch):
    from resnet.analysis import report
    from resnet.runs import load

    out = tmp_path / "out"
    assert main(_command("report", runs, out)) == 0
    before = _tree(out)

    def broken(*args, **kwargs):
        raise ValueError("Index contains duplicate entries")

    monkeypatch.setattr(report, "report_figures", broken)
    with pytest.raises(ValueError):
        report.write_report(load(runs / "b.json"), out)
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_two_rows_sharing_every_axis_are_refused_on_load(tmp_path, capsys):
    rows = [_row("v1", "inference", 8), {**_row("v1", "inference", 8), "case_id": "v1-twin"}]
    path = make_run(tmp_path / "twins.json", rows)
    out = tmp_path / "out"
    assert main(["report", str(path), "--out", str(out)]) == 2
    err = _err(capsys)
    assert "share every axis" in err and "v1-twin" in err
    assert not out.exists()


def test_machines_leaves_no_chart_of_an_earlier_run(tmp_path, runs):
    from resnet.engine.machine import machine_label
    from tests.test_results import MACHINE

    prices = tmp_path / "prices.csv"
    prices.write_text(f"machine,price_per_hour\n{machine_label(MACHINE)},1.5\n")
    out = tmp_path / "m"
    assert main(["machines", str(runs / "a.json"), "--prices", str(prices), "--out", str(out)]) == 0
    priced = set(_tree(out))
    assert main(["machines", str(runs / "a.json"), "--out", str(out)]) == 0
    assert any("dollar" in n for n in priced)
    assert not any("dollar" in n for n in _tree(out))


@pytest.mark.parametrize("which", ["base", "new"])
def test_compare_never_writes_over_an_input(runs, capsys, which):
    base, new = runs / "a.json", runs / "b.json"
    before = {p: p.read_bytes() for p in (base, new)}
    target = base if which == "base" else new
    assert main(["compare", str(base), str(new), "--out", str(target)]) == 2
    assert "input" in _err(capsys)
    assert {p: p.read_bytes() for p in (base, new)} == before


def test_compare_replaces_only_a_csv_of_its_own(tmp_path, runs, capsys):
    out = tmp_path / "table.csv"
    args = ["compare", str(runs / "a.json"), str(runs / "a.json")]
    assert main([*args, "--out", str(out)]) == 0
    first = out.read_text()
    assert first.startswith("case_id,metric,base,new,")
    assert main([*args, "--out", str(out)]) == 0
    mine = tmp_path / "mine.csv"
    mine.write_text("name,budget\nme,100\n")
    assert main([*args, "--out", str(mine)]) == 2
    _err(capsys)
    assert mine.read_text() == "name,budget\nme,100\n"


def test_an_input_inside_the_output_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    run = make_run(out / "run.json", [_row("v1", "inference", 8)])
    assert main(["report", str(run), "--out", str(out)]) == 2
    assert "input" in _err(capsys)
    assert run.exists()


def test_stale_temporary_folders_of_killed_runs_are_cleaned_not_others(tmp_path):
    out = tmp_path / "out"
    dead = tmp_path / f".out.resnet-bench-partial-{2**22 + 17}-abc"  # no such pid
    dead.mkdir()
    (dead / "half.png").write_bytes(b"half")
    alive = tmp_path / f".out.resnet-bench-partial-{os.getpid()}-xyz"
    alive.mkdir()
    theirs = tmp_path / ".out.something-else"
    theirs.mkdir()
    with staged_folder(out, "report") as tmp:
        (tmp / "a.txt").write_text("a")
    assert not dead.exists() and alive.exists() and theirs.exists()
    assert (out / "a.txt").read_text() == "a"


def test_a_symlink_in_the_output_folder_is_not_ours(tmp_path):
    out = tmp_path / "out"
    with staged_folder(out, "report") as tmp:
        (tmp / "a.txt").write_text("a")
    (out / "link").symlink_to(tmp_path)
    with pytest.raises(OutputError, match="link"):
        with staged_folder(out, "report"):
            pass


# -- make-data -----------------------------------------------------------------------
def test_make_data_force_replaces_only_its_own_set(tmp_path, capsys):
    from resnet.data import files

    folder = tmp_path / "set"
    assert main(["make-data", str(folder), "--images", "3"]) == 0
    assert main(["make-data", str(folder), "--images", "2"]) == 2  # no --force
    assert "--force" in _err(capsys)
    assert main(["make-data", str(folder), "--images", "2", "--force"]) == 0
    assert len(files(folder)) == 2
    (folder / "jpeg" / "class_000" / "mine.txt").write_text("notes")
    assert main(["make-data", str(folder), "--images", "2", "--force"]) == 2
    assert "mine.txt" in _err(capsys)
    assert (folder / "jpeg" / "class_000" / "mine.txt").read_text() == "notes"


def test_make_data_with_a_negative_seed_is_one_line_and_writes_nothing(tmp_path, capsys):
    folder = tmp_path / "set"
    assert main(["make-data", str(folder), "--images", "2", "--seed", "-1"]) == 2
    assert "--seed" in _err(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_half_written_set_in_the_cache_is_replaced(tmp_path, monkeypatch):
    from resnet.data import complete_dataset, dataset_dir, ensure_dataset

    monkeypatch.setenv("RESNET_BENCH_CACHE", str(tmp_path / "cache"))
    folder = dataset_dir(4)
    (folder / "jpeg" / "class_000").mkdir(parents=True)
    (folder / "dataset.json").write_text('{"images": 4}')  # as an older, killed make-data left it
    assert complete_dataset(folder, 4) is None
    made, stats = ensure_dataset(4)
    assert made == folder and stats["images"] == 4 and complete_dataset(folder, 4) == stats
    assert ensure_dataset(4)[1] == stats  # complete: used as it is


def test_an_unwritable_cache_names_the_cache_and_how_to_move_it(tmp_path, monkeypatch):
    from resnet.data import DataError, ensure_dataset
    from resnet.engine import exports
    from resnet.engine.kinds import runtimes

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RESNET_BENCH_CACHE", str(blocker / "cache"))
    with pytest.raises(DataError, match="RESNET_BENCH_CACHE") as err:
        ensure_dataset(4)
    assert str(blocker) in str(err.value)
    with pytest.raises(exports.CacheUnwritable, match="RESNET_BENCH_CACHE"):
        runtimes.cached_export(None, "key", "onnxruntime")


# -- results that cannot be right ------------------------------------------------------
def _with_samples(path: Path, scale: float = 1.0, value: float | None = None, stats_min: float | None = None):
    """Three cases with step samples (one window each); ``value`` replaces every sample."""
    rows, benchmarks = [], []
    for v in ("v1", "v1.5", "v2"):
        steps = [0.1 * scale * (1 + 0.01 * i) for i in range(12)]
        if value is not None:
            steps = [value] * 12
        row = _row(v, "inference", 8, ips=8 / (0.1 * scale), samples_s=[steps], windows=1)
        rows.append(row)
        median = sorted(steps)[6]
        benchmarks.append(
            {
                "name": f"test_case[{row['case_id']}]",
                "params": {"case_id": row["case_id"]},
                "extra_info": {k: x for k, x in row.items() if k != "case_id"},
                "stats": {"median": median, "mean": median, "max": median, "rounds": 12,
                          "min": stats_min if stats_min is not None else median},
            }
        )  # fmt: skip
    data = {"machine_info": {"cpu_model": "Test CPU", "cpu_affinity": 2}, "datetime": "2026-12-01T10:00:00",
            "benchmarks": benchmarks, "resnet_bench": {"cases": rows}}  # fmt: skip
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("value", [math.nan, -0.1, 0.0])
def test_impossible_samples_fail_the_gate_never_pass_it(tmp_path, capsys, value):
    from resnet.runs import load

    base = _with_samples(tmp_path / "base.json")
    new = _with_samples(tmp_path / "new.json", scale=1.3, value=value)
    rows = load(new)
    assert set(rows["status"]) == {"invalid"} and rows["samples_s"].isna().all()
    assert main(["compare", str(base), str(new), "--fail-on", "images_per_sec:-3%"]) == 1
    out = capsys.readouterr().out
    assert "invalid" in out and "within noise" not in out and "[+nan" not in out
    assert "3 comparisons: 3 regression" in out


def test_a_negative_fastest_step_is_invalid_not_a_negative_speed(tmp_path):
    from resnet.runs import load

    df = load(_with_samples(tmp_path / "run.json", stats_min=-0.05))
    assert set(df["status"]) == {"invalid"}
    assert not (df["images_per_sec_best"].dropna() < 0).any()
    assert "stats.min" in df["reason"].iloc[0]


MALFORMED_FIELDS = {
    "gpus of strings": ({"machine_info": {"cpu_model": "x", "gpus": ["H100"]}}, "machine_info.gpus[0]"),
    "series of the wrong shape": (
        {"case": {"machine_speed_series": [[1.0, 2.0, 3.0]]}},
        "machine_speed_series",
    ),
    "string samples": ({"case": {"samples_s": [["0.1", "0.2"]]}}, "samples_s"),
    "datetime a number": ({"datetime": 20261201}, "datetime"),
    "batch size 0": ({"case": {"batch_size": 0}}, "batch_size"),
    "cpu flags of numbers": ({"machine_info": {"cpu_model": "x", "cpu_flags": [1, 2]}}, "cpu_flags"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_FIELDS))
@pytest.mark.parametrize("command", ["report", "compare", "history"])
def test_malformed_fields_are_one_line_naming_file_case_and_field(tmp_path, capsys, name, command):
    change, field = MALFORMED_FIELDS[name]
    folder = tmp_path / "runs"
    folder.mkdir()
    good = _with_samples(folder / "good.json")
    data = json.loads(good.read_text())
    for key, value in change.items():
        if key == "case":
            data["resnet_bench"]["cases"][0].update(value)
            data["benchmarks"][0]["extra_info"].update(value)
        else:
            data[key] = value
    bad = folder / "bad.json"
    bad.write_text(json.dumps(data))
    argv = {
        "report": ["report", str(bad), "--out", str(tmp_path / "out")],
        "compare": ["compare", str(good), str(bad), "--fail-on", "images_per_sec:-3%"],
        "history": ["history", str(folder)],
    }[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = next(x for x in err.splitlines() if str(bad) in x)
    assert field in line
    if "case" in change:
        assert "v1-inference-bs8-float32-cpu" in line


def test_history_with_an_unknown_or_non_numeric_metric_is_one_line(runs, capsys):
    for metric in ("no_such_figure", "device_name", "samples_s"):
        assert main(["history", str(runs), "--metric", metric]) == 2
        assert "--metric" in _err(capsys)


def test_dashboard_keeps_same_named_runs_of_two_folders_apart(tmp_path, capsys):
    folder = tmp_path / "runs"
    for sub, ips in (("one", 10.0), ("two", 11.0)):
        (folder / sub).mkdir(parents=True)
        make_run(folder / sub / "run.json", [_row("v1", "inference", 8, ips=ips)])
    later = make_run(folder / "later.json", [_row("v1", "inference", 8, ips=12.0)])
    data = json.loads(later.read_text())
    data["datetime"] = "2026-11-27T10:00:00"
    later.write_text(json.dumps(data))
    assert main(["dashboard", str(folder), "--out", str(tmp_path / "site")]) == 0
    page = (tmp_path / "site" / "index.html").read_text()
    assert "one/run.json" in page and "two/run.json" in page


def test_a_folder_of_ours_inside_the_runs_is_not_read_as_a_run(tmp_path, runs, capsys):
    assert main(["make-data", str(runs / "set"), "--images", "2"]) == 0
    assert main(["report", str(runs / "a.json"), "--out", str(runs / "report")]) == 0
    assert main(["dashboard", str(runs), "--out", str(runs / "site")]) == 0
    assert "error" not in capsys.readouterr().err


def test_the_reports_markdown_shows_a_machine_label_as_text(tmp_path):
    machine = {"cpu_model": "Evil <script>alert(1)</script> *CPU*", "cpu_affinity": 2}
    path = make_run(tmp_path / "run.json", [_row("v1", "inference", 8)], machine)
    assert main(["report", str(path), "--out", str(tmp_path / "r")]) == 0
    text = (tmp_path / "r" / "README.md").read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text and "\\*CPU\\*" in text


# -- journal-only runs ------------------------------------------------------------------
def test_a_run_that_left_only_its_journal_keeps_its_machine_date_and_commit(tmp_path, capsys):
    from resnet.engine.journal import Journal
    from resnet.engine.machine import machine_info, machine_label
    from resnet.runs import load

    info = machine_info()
    header = {"profile": "smoke", "machine_info": info, "datetime": "2026-12-02T07:00:00+00:00",
              "commit_info": {"id": "feedc0de", "branch": "main"}}  # fmt: skip
    journal = Journal(tmp_path / "run.journal.jsonl", header, resume=False)
    journal.append(_row("v1", "inference", 8))
    journal.close()
    df = load(tmp_path / "run.journal.jsonl")
    row = df.iloc[0]
    assert row["machine"] == machine_label(info)
    assert row["datetime"] == "2026-12-02T07:00:00+00:00" and row["commit"] == "feedc0de"
    json_run = make_run(tmp_path / "run.json", [_row("v1", "inference", 8)], info)
    journal_run = str(tmp_path / "run.journal.jsonl")
    assert main(["compare", str(json_run), journal_run, "--fail-on", "images_per_sec:-5%"]) == 0
    assert (
        main(["report", str(json_run), str(tmp_path / "run.journal.jsonl"), "--out", str(tmp_path / "r")])
        == 0
    )
    assert load([json_run, tmp_path / "run.journal.jsonl"])["machine"].nunique() == 1


def test_the_sweeps_journal_header_names_machine_date_and_commit(tmp_path):
    from resnet.engine.journal import read_journal
    from resnet.engine.sweep import Sweep

    sweep = Sweep({"profile": "smoke", "devices": ("cpu",)}, journal_path=tmp_path / "j.jsonl")
    sweep.close()
    header = read_journal(tmp_path / "j.jsonl").header
    assert header["machine_info"]["cpu_model"] and header["datetime"].startswith("20")
    assert "id" in header["commit_info"]


def test_resume_on_a_case_line_without_a_case_id_is_a_usage_error(tmp_path):
    from resnet.engine.errors import UsageError
    from resnet.engine.journal import Journal

    path = tmp_path / "j.jsonl"
    path.write_text('{"type": "header"}\n{"type": "case", "row": {"status": "ok"}}\n')
    with pytest.raises(UsageError, match="without a case_id"):
        Journal(path, {}, resume=True)
    assert "status" in path.read_text()  # left untouched


# -- options that make no sense -------------------------------------------------------------
def _axes(**options):
    from resnet.engine.options import parse_options
    from tests.sweeps import resolve_flat as resolve_axes

    allow = options.pop("allow_oversubscribe", False)
    return resolve_axes({**parse_options({"devices": "cpu", **options}), "allow_oversubscribe": allow})


def test_threads_beyond_the_cores_are_refused_unless_asked_for(monkeypatch):
    from resnet.engine import plan as options
    from resnet.engine.errors import UsageError

    monkeypatch.setattr(options, "available_cores", lambda: 2)
    with pytest.raises(UsageError, match="--threads 99: this run may use 2 cores"):
        _axes(threads="1,99")
    assert _axes(threads="99", allow_oversubscribe=True).threads == (99,)
    assert _axes(threads="1,2").threads == (1, 2)
    monkeypatch.setattr(options, "available_cores", lambda: 128)
    assert _axes(threads="99").threads == (99,)


def test_a_sample_library_beyond_memory_is_refused_with_its_size(monkeypatch):
    from resnet.engine import plan as options
    from resnet.engine.errors import UsageError

    monkeypatch.setattr(options, "available_memory_bytes", lambda: 8 * 2**30)
    with pytest.raises(UsageError, match=r"--sample-count 99999999999: .* would need [\d.]+ GiB; .* 8.0 GiB"):
        _axes(scenarios="offline", sample_count="99999999999")
    assert _axes(scenarios="offline", sample_count="1024").sample_count == 1024
    assert _axes(sample_count="99999999999").scenarios == ()  # no LoadGen case: nothing is held


def test_paired_groups_must_pair_what_the_run_measures():
    from resnet.engine.errors import UsageError

    with pytest.raises(UsageError, match="--paired training:2: mode training is not in --modes inference"):
        _axes(profile="smoke", modes="inference", paired="training:2")
    with pytest.raises(UsageError, match="batch 16 is not among"):
        _axes(profile="smoke", paired="inference:16")
    # The profile's own pairs that the run leaves out are dropped, not run.
    assert _axes(profile="quick", modes="inference").paired == (("inference", 32),)
    assert _axes(profile="quick", batch_sizes="16").paired == ()
    assert _axes(profile="quick").paired == (("inference", 32), ("training", 8))


def test_paired_max_time_below_min_time_is_refused():
    from resnet.engine.errors import UsageError

    with pytest.raises(
        UsageError, match="--paired-max-time training:10 is below --paired-min-time training:20"
    ):
        _axes(profile="quick", paired_max_time="training:10")
    assert _axes(profile="quick", paired_max_time="training:60").paired_cap("training") == 60.0


def test_bad_options_stop_pytest_bench_before_any_case(tmp_path):
    from tests.sweeps import run_bench

    out = run_bench(
        "bench", "--profile", "smoke", "--threads", "999", "--benchmark-json", str(tmp_path / "x.json")
    )
    assert out.returncode == 4, out.stdout[-1000:] + out.stderr[-1000:]
    assert "--threads 999" in out.stderr and not (tmp_path / "x.json").exists()


def test_counted_work_past_the_peak_is_no_utilization(tmp_path):
    import pandas as pd

    from resnet.analysis.tables import utilization_table
    from resnet.runs import load

    rows = [_row("v1", "inference", 8, utilization=1.013), _row("v1", "inference", 1, utilization=0.9)]
    df = load(make_run(tmp_path / "run.json", rows)).set_index("batch_size")
    assert pd.isna(df.loc[8, "utilization"]) and df.loc[8, "above_peak"] == True  # noqa: E712
    assert df.loc[1, "utilization"] == 0.9 and df.loc[8, "status"] == "ok"
    assert "101" not in utilization_table(df.reset_index()).to_string()


def test_a_cache_entry_holding_other_files_is_never_replaced(tmp_path, monkeypatch):
    from resnet.data import DataError, dataset_dir, ensure_dataset

    monkeypatch.setenv("RESNET_BENCH_CACHE", str(tmp_path / "cache"))
    folder = dataset_dir(4)
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="left untouched"):
        ensure_dataset(4)
    assert (folder / "notes.txt").read_text() == "mine"

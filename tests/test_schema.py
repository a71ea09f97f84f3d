"""The one schema: every kind of row fits it, and the loader holds rows to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resnet.runs import LoadError, load
from resnet.schema import AXES, FIELDS, KINDS, METRICS, REQUIRED, Case, new_row, row_problems

ROOT = Path(__file__).resolve().parents[1]
CASE = Case("v1.5", "training", 8, "mixed_bfloat16", "cpu", False, 64, None, "tensorflow")


def _rows_of_every_kind() -> dict[str, dict]:
    ok = {**new_row(CASE), "status": "ok", "images_per_sec": 12.5, "latency_ms_p50": 640.0, "rounds": 5}
    failed = {**new_row(CASE.replace(batch_size=512)), "status": "error", "reason": "exited with code 3"}
    skipped = {**new_row(CASE.replace(device="gpu:0")), "status": "skipped", "reason": "no GPU gpu:0 found"}
    resumed = json.loads(json.dumps(ok))  # as it comes back from a journal line
    ratio = {**new_row(CASE, kind="goal", case_id="harness-vs-bare-loop"), "goal": "harness-vs-bare-loop"}
    ratio.update(status="ok", ratio=1.004, reference="bare loop", reference_images_per_sec=12.4)
    build = {**new_row(CASE, kind="build", case_id="build-v1.5"), "status": "ok", "build_s": 0.9}
    build.update(params_total=25_636_712, gmacs_per_image=4.09)
    return dict(ok=ok, failed=failed, skipped=skipped, resumed=resumed, ratio=ratio, build=build)


@pytest.mark.parametrize("name", ["ok", "failed", "skipped", "resumed", "ratio", "build"])
def test_every_kind_of_row_fits_the_schema(name):
    row = _rows_of_every_kind()[name]
    assert row_problems(row) == []
    assert set(row) == set(FIELDS)  # every field present, none invented
    assert row["kind"] in KINDS


@pytest.mark.parametrize(
    "change,problem",
    [
        ({"status": None}, "missing field 'status'"),
        ({"version": None}, "missing field 'version'"),
        ({"batch_size": "8"}, "field 'batch_size' is '8', not int"),
        ({"jit": 1}, "field 'jit' is 1, not bool"),
        ({"status": "fine"}, "status 'fine' is not one of"),
    ],
)
def test_rows_that_do_not_fit_are_named(change, problem):
    row = {**_rows_of_every_kind()["ok"], **change}
    assert any(problem in p for p in row_problems(row))


def test_case_ids_and_axes_come_from_one_place():
    assert AXES[:6] == ("version", "mode", "batch_size", "precision", "device", "jit")
    assert CASE.id == "v1.5-training-bs8-mixed_bfloat16-cpu-64px"
    assert Case.from_dict({**CASE.to_dict(), "replicas": None, "threads": 0}) == CASE  # older rows
    assert METRICS["images_per_sec"] == "higher" and METRICS["latency_ms_p99"] == "lower"
    assert set(REQUIRED) <= set(FIELDS)


def test_loader_rejects_a_row_missing_a_required_field(tmp_path):
    row = {**_rows_of_every_kind()["ok"]}
    del row["version"]
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"benchmarks": [], "resnet_bench": {"cases": [row]}}))
    with pytest.raises(LoadError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message and "missing field 'version'" in message and "\n" not in message


def test_every_committed_result_loads():
    """Every run committed in results/ (JSON and journals) still loads after the move;
    LoadGen's own logs (ignored by git, kept beside a local run) are not runs."""

    from resnet.commands.store import run_files

    # Every run; a folder's files that are not runs at all (a trial's or a benchmark's
    # summary.json) are passed over as `store add` passes over them.
    runs, passed = run_files([str(ROOT / "results")])
    files = [r.path for r in runs if not r.path.name.startswith("mlperf_log_")]
    assert all("summary.json" in p or "fault-injection" in p for p in passed), passed
    assert len(files) > 20
    df = load(files)
    assert len(df) > 300 and set(df["kind"]) <= set(KINDS)
    machines = {"Intel Xeon x2 (AMX)", "AMD EPYC Zen 4 x2 (AVX-512 BF16)", "AMD EPYC Zen 5 x2 (AVX-512 BF16)",
                "Intel Xeon Emerald Rapids x2 (no BF16)"}  # fmt: skip
    assert machines <= set(df["machine"])


def test_one_number_rule_for_every_reader():
    import math

    import numpy as np

    from resnet.schema import finite, is_number

    assert [finite(v) for v in (3, 2.5, np.int64(4), np.float32(0.5))] == [3.0, 2.5, 4.0, 0.5]
    assert [finite(v) for v in (None, True, "3", math.nan, math.inf, -math.inf, [1])] == [None] * 7
    assert is_number(3) and is_number(2.5) and not is_number(True) and not is_number("3")


def test_the_package_names_one_set_of_precisions_and_the_dtypes_a_build_takes():
    import resnet
    from resnet import schema

    assert resnet.PRECISIONS == schema.PRECISIONS == ("float32", "mixed_float16", "mixed_bfloat16")
    assert resnet.DTYPES == (*schema.PRECISIONS, "bfloat16", "float16")


def test_a_file_that_is_no_run_is_told_apart_from_a_broken_run(tmp_path):
    from resnet.runs import NotARun, read_run

    (tmp_path / "summary.json").write_text('{"trials": 3}')
    (tmp_path / "broken.json").write_text('{"benchmarks": [1]}')
    with pytest.raises(NotARun, match="not a pytest-benchmark JSON file"):
        read_run(tmp_path / "summary.json")
    with pytest.raises(LoadError) as err:
        read_run(tmp_path / "broken.json")
    assert not isinstance(err.value, NotARun) and "benchmarks[0] is not an object" in str(err.value)

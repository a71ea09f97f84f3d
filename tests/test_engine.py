"""The measurement engine: axes, journals, workers, time-outs, crashes."""

from __future__ import annotations

import json
import time

import pytest

from resnet.engine.errors import UsageError
from resnet.engine.journal import Journal, read_journal
from resnet.engine.kinds.case import MAX_ROUNDS, metrics_from_times, percentile, rounds_for
from resnet.engine.options import parse_options
from resnet.engine.profiles import PROFILES
from resnet.engine.worker.client import CaseFailure, WorkerClient
from resnet.schema import Case
from tests.sweeps import TEST_WORKER, run_bench
from tests.sweeps import resolve_flat as resolve_axes


def axes(backend="tensorflow", **kw):
    return resolve_axes(parse_options({"devices": "cpu", **kw}), backend)


def test_quick_profile_is_the_default():
    a = axes()
    assert a.versions == ("v1", "v1.5", "v2")
    assert a.modes == ("inference", "training")
    assert a.image_size == 224
    assert "float32" in a.precisions and "mixed_bfloat16" in a.precisions
    # Two windows per case, training at batch 8, and paired comparisons (see README).
    assert a.repeat == 3 and a.batches("training") == (8,) and a.batches("inference") == (1, 8, 32)
    assert a.paired == (("inference", 32), ("training", 8))
    cases = a.cases("tensorflow")
    assert len(cases) == 3 * (3 + 1) * 2
    groups = a.paired_groups("tensorflow")
    assert [g.id for g in groups] == ["paired-inference-bs32-cpu", "paired-training-bs8-cpu"]
    with pytest.raises(UsageError, match="--paired: 'inference' is not MODE:BATCH"):
        axes(paired="inference")
    assert axes(paired="off").paired == ()


def test_explicit_options_override_the_profile():
    a = axes(profile="smoke", batch_sizes="4,8", precisions="mixed_float16")
    assert a.batch_sizes == (4, 8)
    assert a.precisions == ("mixed_float16",)
    assert a.image_size == PROFILES["smoke"]["image_size"]
    # The quick profile trains at batch 8; an explicit --batch-sizes holds for training too,
    # unless --training-batch-sizes says otherwise.
    assert axes(batch_sizes="32").batches("training") == (32,)
    assert axes(batch_sizes="32", training_batch_sizes="4").batches("training") == (4,)


def test_case_ids_read_well():
    case = Case("v1.5", "training", 32, "mixed_bfloat16", "cpu", False, 224, None, "tensorflow")
    assert case.id == "v1.5-training-bs32-mixed_bfloat16-cpu"
    assert Case.from_dict(case.to_dict()) == case
    other = Case("v1", "inference", 1, "float32", "gpu:0", True, 64, 2, "jax")
    assert other.id == "v1-inference-bs1-float32-gpu:0-xla-t2-64px"


def test_cases_are_the_product_of_the_axes():
    a = axes(profile="smoke", threads="1,2", jit="off,on")
    cases = a.cases("tensorflow")
    assert len(cases) == 3 * 2 * 1 * 1 * 1 * 2 * 2
    assert len({c.id for c in cases}) == len(cases)


@pytest.mark.parametrize(
    "kw,message",
    [
        ({"versions": "v1,v3"}, "--versions: unknown value 'v3'; valid: v1, v1.5, v2, keras-v1, keras-v2"),
        ({"modes": "eval"}, "--modes: unknown value 'eval'; valid: inference, training"),
        ({"precisions": "fp8"}, "--precisions: unknown value 'fp8'"),
        ({"devices": "tpu"}, "--devices: unknown device 'tpu'; valid: cpu, gpu, gpu:0"),
        ({"batch_sizes": "8,0"}, "--batch-sizes: '0' is not a positive integer"),
        ({"batch_sizes": "two"}, "--batch-sizes: 'two' is not a positive integer"),
        ({"threads": "-1"}, "--threads: '-1' is not a positive integer"),
        ({"image_size": "16"}, "--image-size: 16 is too small; the smallest is 32"),
        ({"jit": "maybe"}, "--jit: unknown value 'maybe'; valid: off, on"),
        ({"profile": "huge"}, "--bench-profile: unknown profile 'huge'; valid: smoke, quick, full"),
    ],
)
def test_bad_axes_are_usage_errors(kw, message):
    with pytest.raises(UsageError) as info:
        axes(**kw)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_rounds_for_min_time():
    assert rounds_for(5, None, 0.01) == 5
    assert rounds_for(5, 2.0, 0.01) == 200  # 2 s of 10 ms steps
    assert rounds_for(5, 2.0, 1.0) == 5  # long steps: --rounds already covers it
    assert rounds_for(5, 10.0, 1e-6) == MAX_ROUNDS


def test_min_time_option():
    assert axes().min_time == 4.0  # the quick profile: at least four seconds of steps per window
    assert axes(profile="full").min_time is None
    assert axes(min_time="10").min_time == 10.0
    assert axes(min_time="2.5s").min_time == 2.5
    for bad in ("0", "-3", "soon", "7200"):
        with pytest.raises(UsageError, match=r"--min-time: .* is not a number of seconds between 0 and 3600"):
            axes(min_time=bad)


def test_paired_min_time_option_is_per_mode():
    assert axes().paired_time("inference") == 25.0 and axes().paired_time("training") == 20.0
    assert axes(paired_min_time="20").paired_min_time == (("inference", 20.0), ("training", 20.0))
    assert axes(paired_min_time="40,training:10s").paired_time("training") == 10.0
    assert axes(paired_min_time="inference:5").paired_time("training") is None  # rounds only
    assert axes(paired_min_time="off").paired_time("inference") is None
    with pytest.raises(UsageError, match=r"--paired-min-time: 'serving:3' names no mode; give SECONDS"):
        axes(paired_min_time="serving:3")
    with pytest.raises(UsageError, match=r"--paired-min-time: '-1' is not a number of seconds"):
        axes(paired_min_time="training:-1")


def test_paired_width_and_max_time_options():
    quick = axes()
    assert quick.paired_width == 3.0 and quick.paired_cap("training") == 25.0
    assert quick.paired_cap("inference") is None  # inference stops at its minimum
    assert axes(paired_width="2.5%", paired_max_time="90").paired_cap("inference") == 90.0
    assert axes(profile="full").paired_width == 0 and axes(paired_width="off").paired_width == 0
    for bad in ("0", "-1", "wide", "80"):
        with pytest.raises(UsageError, match=r"--paired-width: .* is not a percentage between 0 and 50 \(or"):
            axes(paired_width=bad)


def test_cases_a_paired_group_times_run_in_paired_windows():
    quick = axes()
    cases = {c.id: c for c in quick.cases("tensorflow")}
    counts = {cid: quick.windows_of(c) for cid, c in cases.items()}
    assert counts["v1-inference-bs32-float32-cpu"] == 1 and counts["v2-training-bs8-mixed_bfloat16-cpu"] == 1
    # The quick profile adds windows (3 at least, 6 at most) until +-3% or its time budget.
    assert counts["v1-inference-bs8-float32-cpu"] == 6 and counts["v1.5-inference-bs1-float32-cpu"] == 6
    assert sum(n == 1 for n in counts.values()) == 12  # 2 paired groups x 3 versions x 2 precisions
    assert {axes(paired_windows="2").windows_of(c) for c in cases.values()} == {2, 6}
    assert {axes(windows="2").windows_of(c) for c in cases.values()} == {1, 2}  # --windows fixes it
    full = axes(profile="full")  # paired_windows unset: every case runs in --repeat windows
    assert {full.windows_of(c) for c in full.cases("tensorflow")[:50]} == {3}
    keras_ref = next(c for c in full.cases("tensorflow") if c.version == "keras-v1" and c.batch_size == 32)
    assert axes(profile="full", paired_windows="1").windows_of(keras_ref) == 3  # no group times it
    alone = axes(versions="v1", precisions="float32")  # a group of one model never runs
    assert not alone.paired_groups("tensorflow")
    assert {alone.windows_of(c) for c in alone.cases("tensorflow")} == {6}


def test_metrics_from_times():
    case = Case("v1", "training", 8, "float32", "cpu", False, 224, None, "tensorflow")
    row = metrics_from_times(case, [0.5, 1.0, 2.0], 4.0)
    assert row["images_per_sec"] == pytest.approx(8.0)
    assert row["latency_ms_p50"] == pytest.approx(1000.0)
    assert row["latency_ms_p99"] == pytest.approx(1980.0)
    # 2 FLOPs per MAC, x3 for training, 8 images per 1 s.
    assert row["achieved_tflops"] == pytest.approx(2 * 4e9 * 3 * 8 / 1e12)
    assert percentile([3.0], 90) == 3.0


def test_journal_keeps_complete_lines_and_resumes(tmp_path):
    path = tmp_path / "run.journal.jsonl"
    header = {"profile": "smoke", "backend": "tensorflow", "image_size": 32, "rounds": 3, "warmup_rounds": 1}
    j = Journal(path, header, resume=False)
    j.append({"case_id": "a", "status": "ok"})
    j.append({"case_id": "b", "status": "error", "reason": "boom"})
    j.close()
    with path.open("a") as f:
        f.write('{"type": "case", "row": {"case_id": "c", "sta')  # killed mid-line
    contents = read_journal(path)
    assert contents.header["profile"] == "smoke" and contents.cut_off
    assert [r["case_id"] for r in contents.rows] == ["a", "b"]
    resumed = Journal(path, header, resume=True)
    assert set(resumed.done) == {"a"}  # failed cases run again
    resumed.close()
    with pytest.raises(UsageError, match="other settings"):
        Journal(path, {**header, "image_size": 224}, resume=True)


def test_worker_timeout_kills_and_reports(tmp_path):
    w = WorkerClient(timeout=60, env=TEST_WORKER)
    w.deadline = time.monotonic() + 1.0
    t0 = time.monotonic()
    with pytest.raises(CaseFailure) as info:
        w.call("sleep", seconds=30)
    assert time.monotonic() - t0 < 10
    assert info.value.status == "timeout"
    assert w.proc.poll() is not None
    w.close()


def test_worker_crash_is_a_failed_case():
    w = WorkerClient(timeout=60, env=TEST_WORKER)
    with pytest.raises(CaseFailure) as info:
        w.call("crash", code=3)
    assert info.value.status == "error"
    assert "exited with code 3" in info.value.reason
    w.close()


def test_missing_gpu_is_skipped_never_run_on_cpu():
    case = Case("v1", "inference", 2, "float32", "gpu:0", False, 32, None, "tensorflow")
    with WorkerClient(timeout=120) as w:
        if "gpu:0" in w.info["devices"]:
            pytest.skip("this machine has a GPU")
        with pytest.raises(CaseFailure) as info:
            w.call("setup", case=case.to_dict())
    assert info.value.status == "skipped"
    assert "no GPU gpu:0 found" in info.value.reason


def test_bench_bad_option_is_a_usage_error_before_any_case(tmp_path):
    out = run_bench("bench", "--versions", "v1,v9", "--benchmark-json", str(tmp_path / "o.json"), timeout=120)
    assert out.returncode == 4
    assert "--versions: unknown value 'v9'" in out.stderr
    assert "start" not in out.stdout
    assert not (tmp_path / "o.json").exists()


def test_pytest_benchmark_calibration_options_are_refused_not_ignored(tmp_path):
    from resnet.engine.options import BENCHMARK_CALIBRATION, ignored_benchmark_options

    assert ignored_benchmark_options(["bench", "--rounds", "5", "--benchmark-json", "x.json"]) is None
    for flag, instead in BENCHMARK_CALIBRATION.items():
        said = ignored_benchmark_options(["bench", f"{flag}=3"])
        assert said.startswith(f"{flag} tunes pytest-benchmark's own calibration") and instead in said
    out = run_bench("bench", "--benchmark-min-rounds", "3", "--benchmark-json", str(tmp_path / "o.json"))
    assert out.returncode == 4 and "use --rounds" in out.stderr and "start" not in out.stdout
    assert not (tmp_path / "o.json").exists()


@pytest.mark.slow
def test_bench_end_to_end_with_journal_and_resume(tmp_path):
    """A tiny real run: JSON fields, journal, progress lines, then --resume skips it."""
    out_json = tmp_path / "run.json"
    args = [
        "bench/test_throughput.py",
        "--profile",
        "smoke",
        "--versions",
        "v1.5",
        "--modes",
        "inference",
        "--devices",
        "cpu,gpu:0",
        "--min-time",
        "0.5",
        "--repeat",
        "1",
        "--benchmark-json",
        str(out_json),
    ]
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    out = run_bench(*args, "--store", store)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "start  v1.5-inference-bs2-float32-cpu-32px" in out.stdout
    # --store: the run went into the store when the sweep ended, whole, from its JSON.
    from resnet.runs import load
    from resnet.store import Store

    (stored,) = Store(store).runs()
    assert f"{out_json} stored as run {stored['id']}" in out.stdout and stored["cases"] == 2
    pd_frame = Store(store).load()
    assert sorted(pd_frame["case_id"]) == sorted(load(out_json)["case_id"])
    assert "finish v1.5-inference-bs2-float32-cpu-32px" in out.stdout
    data = json.loads(out_json.read_text())
    (bench,) = data["benchmarks"]
    extra = bench["extra_info"]
    for key in (
        "version mode batch_size precision device jit image_size threads backend status reason "
        "images_per_sec images_per_sec_mean latency_ms_p50 latency_ms_p90 latency_ms_p99 compile_s "
        "peak_host_rss_mb peak_device_mem_mb params_total params_trainable params_non_trainable "
        "gmacs_per_image achieved_tflops device_peak_tflops utilization device_name"
    ).split():
        assert key in extra, key
    assert extra["status"] == "ok" and extra["images_per_sec"] > 0
    assert extra["images_per_sec"] == pytest.approx(2 / bench["stats"]["median"])
    # --min-time 0.5: steps of a few ms need many more rounds than the profile's 3.
    assert extra["rounds"] == bench["stats"]["rounds"] > 3
    assert extra["timed_s"] == pytest.approx(bench["stats"]["mean"] * bench["stats"]["rounds"])
    assert "CPU:0" in extra["device_name"]
    assert 0 < extra["utilization"] < 1.5
    assert extra["params_total"] == 25_636_712
    # The harness's own cost per step: parent-side time minus the worker's time of the same step.
    assert 0 <= extra["harness_overhead_ms"] < 0.1 * extra["latency_ms_p50"]
    assert data["resnet_bench"]["backend_info"]["backend"] == "tensorflow"
    from resnet.schema import row_problems

    assert all(row_problems(r) == [] for r in data["resnet_bench"]["cases"])  # every row fits the schema
    rows = {r["case_id"]: r for r in data["resnet_bench"]["cases"]}
    gpu = rows["v1.5-inference-bs2-float32-gpu:0-32px"]
    if gpu["status"] != "ok":
        assert gpu["status"] == "skipped" and "no GPU" in gpu["reason"]
    journal = tmp_path / "run.journal.jsonl"
    assert len(read_journal(journal).rows) == 2
    again = run_bench(*args, "--resume")
    assert again.returncode == 0
    assert "2 skipped" in again.stdout
    assert "start  v1.5-inference-bs2-float32-cpu-32px" not in again.stdout


@pytest.mark.parametrize("backend,jit", [("tensorflow", (False,)), ("jax", (True,)), ("torch", (False,))])
def test_profile_jit_follows_the_backend(backend, jit):
    assert axes(profile="smoke").jit == (False,)
    assert axes(backend, profile="smoke").jit == jit
    assert axes(backend, jit="off,on").jit == (False, True)


def test_unknown_or_missing_backend_is_a_usage_error(monkeypatch):
    from resnet.engine import machine as config

    monkeypatch.setenv("KERAS_BACKEND", "mxnet")
    with pytest.raises(
        UsageError, match="KERAS_BACKEND='mxnet' is not supported; valid: tensorflow, jax, torch"
    ):
        config.current_backend()
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setattr(config, "installed_backends", lambda: ["tensorflow"])
    with pytest.raises(UsageError, match="KERAS_BACKEND='jax' is not installed; installed: tensorflow"):
        config.current_backend()


def test_bench_unknown_backend_stops_before_any_case():
    out = run_bench("bench", "--profile", "smoke", timeout=120, env={"KERAS_BACKEND": "mxnet"})
    assert out.returncode == 4
    assert "KERAS_BACKEND='mxnet' is not supported" in out.stderr


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_backends_measure_a_case(backend):
    """The engine runs one small case on JAX and PyTorch too (CPU), where installed."""
    pytest.importorskip(backend)
    case = Case("v1.5", "training", 2, "float32", "cpu", backend == "jax", 32, None, backend)
    with WorkerClient(timeout=300, env={"KERAS_BACKEND": backend}) as w:
        assert w.info["backend"] == backend
        setup = w.call("setup", case=case.to_dict())
        assert setup["params_total"] == 25_636_712
        w.call("warm")
        assert w.call("step")["seconds"] > 0
        assert w.call("finish")["peak_host_rss_mb"] > 0
        skipped = Case("v1", "inference", 2, "float32", "cpu", backend != "jax", 32, None, backend)
        with pytest.raises(CaseFailure) as info:
            w.call("setup", case=skipped.to_dict())
        assert info.value.status == "skipped" and "jit" in info.value.reason


def test_rapl_counter_sums_packages_and_handles_wrap(tmp_path):
    from resnet.engine.energy import RaplCounter, counter_for

    for zone, value in [("intel-rapl:0", 1_000_000), ("intel-rapl:1", 2_000_000)]:
        (tmp_path / zone).mkdir()
        (tmp_path / zone / "energy_uj").write_text(str(value))
        (tmp_path / zone / "max_energy_range_uj").write_text("10000000")
    (tmp_path / "intel-rapl:0:0").mkdir()  # a sub-zone (core): not counted twice
    c = RaplCounter(str(tmp_path))
    assert c.read() == 0.0
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("3000000")  # +2 J
    (tmp_path / "intel-rapl:1" / "energy_uj").write_text("500000")  # wrapped: +8.5 J
    assert c.read() == pytest.approx(10.5)
    # No counter on this kind of machine: None, never an estimate.
    assert counter_for("gpu:7").read() is None


def test_replicas_axis_and_ids():
    a = axes(profile="smoke", replicas="1,2")
    cases = a.cases("tensorflow")
    assert {c.replicas for c in cases} == {1, 2}
    two = next(c for c in cases if c.replicas == 2)
    assert two.id.endswith("-r2") and two.global_batch == 2 * two.batch_size
    with pytest.raises(UsageError, match="--replicas: '0' is not a positive integer"):
        axes(replicas="0")


def test_mirrored_training_on_two_logical_cpus():
    """A MirroredStrategy training case end to end, the CPU split into two devices."""
    case = Case("v1.5", "training", 2, "float32", "cpu", False, 32, None, "tensorflow", 2)
    with WorkerClient(timeout=300) as w:
        setup = w.call("setup", case=case.to_dict())
        assert setup["replicas_in_sync"] == 2
        w.call("warm")
        assert w.call("step")["seconds"] > 0
        assert w.call("finish")["traces"] >= 1
    gpus = Case("v1", "training", 2, "float32", "gpu:0", False, 32, None, "tensorflow", 2)
    with WorkerClient(timeout=120) as w:
        with pytest.raises(CaseFailure) as info:
            w.call("setup", case=gpus.to_dict())
    assert info.value.status == "skipped"  # more replicas than devices: a reason, not a hang


@pytest.mark.parametrize("mode", ["training", "inference"])
def test_jax_data_parallel_on_two_cpu_devices(mode):
    """keras.distribution.DataParallel: the batch sharded over two CPU devices, compiled once."""
    pytest.importorskip("jax")
    case = Case("v1.5", mode, 2, "float32", "cpu", True, 32, None, "jax", 2)
    with WorkerClient(timeout=300, env={"KERAS_BACKEND": "jax"}, cpu_devices=2) as w:
        setup = w.call("setup", case=case.to_dict())
        assert setup["replicas_in_sync"] == 2
        assert setup["device_name"].count("CPU") == 2 or setup["device_name"].count("cpu") == 2
        assert w.call("warm")["traces"] == 1
        w.call("step")
        w.call("step")
        assert w.call("finish")["traces"] == 1  # no retrace after warm-up


def test_data_parallel_where_it_cannot_run_is_skipped():
    pytest.importorskip("jax")
    # JAX started with one CPU device: two replicas do not fit.
    case = Case("v1", "inference", 2, "float32", "cpu", True, 32, None, "jax", 2)
    with WorkerClient(timeout=120, env={"KERAS_BACKEND": "jax"}) as w:
        with pytest.raises(CaseFailure) as info:
            w.call("setup", case=case.to_dict())
    assert info.value.status == "skipped" and "2 replicas from cpu need 2 CPU devices" in info.value.reason
    pytest.importorskip("torch")
    case = Case("v1", "inference", 2, "float32", "cpu", False, 32, None, "torch", 2)
    with WorkerClient(timeout=120, env={"KERAS_BACKEND": "torch"}) as w:
        with pytest.raises(CaseFailure) as info:
            w.call("setup", case=case.to_dict())
    assert info.value.status == "skipped" and "not supported on the torch backend" in info.value.reason


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tf_config(ports, index):
    return json.dumps(
        {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
    )


def test_multiworker_case_on_two_local_workers():
    """Two worker processes on 127.0.0.1 with TF_CONFIG run one training case together."""
    ports = [_free_port(), _free_port()]
    case = Case("v1.5", "training", 2, "float32", "cpu", False, 32, None, "tensorflow", 2, "multiworker")
    workers = [WorkerClient(timeout=240, env={"TF_CONFIG": _tf_config(ports, i)}) for i in range(2)]
    try:
        for w in workers:
            w.send("setup", case=case.to_dict())
        assert [w.receive("setup")["replicas_in_sync"] for w in workers] == [2, 2]
        for cmd in ("warm", "step", "step", "finish"):
            for w in workers:
                w.send(cmd)
            replies = [w.receive(cmd) for w in workers]
        assert all(r["traces"] >= 1 for r in replies)
    finally:
        for w in workers:
            w.close()


def test_multiworker_peer_that_never_joins_times_out():
    ports = [_free_port(), _free_port()]
    case = Case("v1", "inference", 2, "float32", "cpu", False, 32, None, "tensorflow", 2, "multiworker")
    t0 = time.monotonic()
    with WorkerClient(timeout=45, env={"TF_CONFIG": _tf_config(ports, 0)}) as w:
        with pytest.raises(CaseFailure) as info:
            w.call("setup", case=case.to_dict())
    assert info.value.status in ("timeout", "error")
    assert time.monotonic() - t0 < 120


@pytest.mark.parametrize(
    "tf_config,message",
    [
        (None, "needs TF_CONFIG"),
        ("{not json", "TF_CONFIG is malformed"),
        ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "TF_CONFIG is malformed"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "out of range"),
    ],
)
def test_bad_tf_config(monkeypatch, tf_config, message):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(UsageError, match=message):
        axes(strategy="multiworker")


def test_multiworker_replicas_must_match_cluster(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", _tf_config([1, 2], 0))
    assert axes(strategy="multiworker").replicas == (2,)
    with pytest.raises(UsageError, match="cluster's size, 2 workers"):
        axes(strategy="multiworker", replicas="4")
    with pytest.raises(UsageError, match="--strategy: unknown value 'ring'"):
        axes(strategy="ring")


@pytest.mark.slow
def test_pytest_benchmark_compare_is_quiet_on_the_same_machine(tmp_path):
    """machine_info holds only the machine and its software, the same at every run: a
    saved run and a rerun compare without "machine_info is different"."""
    storage = f"file://{tmp_path / 'storage'}"
    args = ["bench/test_model_size.py", "--versions", "v1", "--image-size", "32", "--devices", "cpu"]
    args += ["--journal", str(tmp_path / "j.jsonl"), "--benchmark-storage", storage]
    first = run_bench(*args, "--benchmark-autosave")
    assert first.returncode == 0, first.stdout[-2000:]
    second = run_bench(*args, "--benchmark-compare")
    assert second.returncode == 0, second.stdout[-2000:]
    assert "machine_info is different" not in second.stdout + second.stderr
    saved = json.loads(next((tmp_path / "storage").rglob("*.json")).read_text())
    assert "backend_info" not in saved["machine_info"]
    assert saved["machine_info"]["cpu_model"]


@pytest.mark.slow
def test_a_paired_group_gives_its_fast_precision_more_rounds(tmp_path):
    """A real paired group (two precisions, three versions, one worker): with
    --paired-min-time every model gets its timed seconds, the version ratios pair every
    round of their block, and the mixed-precision speed-up pairs only the rounds both
    precisions ran in."""
    out_json = tmp_path / "paired.json"
    out = run_bench(
        "bench/test_paired.py", "--profile", "smoke", "--precisions", "float32,mixed_bfloat16",
        "--batch-sizes", "8", "--paired", "inference:8", "--paired-rounds", "6", "--paired-min-time", "1",
        "--benchmark-json", str(out_json),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    rows = {r["case_id"].removeprefix("paired-inference-bs8-cpu-32px-"): r
            for r in json.loads(out_json.read_text())["resnet_bench"]["cases"]}  # fmt: skip
    assert all(r["status"] == "ok" for r in rows.values()), rows
    f32, bf16 = rows["float32-v1.5/v1"], rows["mixed_bfloat16-v1.5/v1"]
    speedup = rows["v1.5-mixed_bfloat16/float32"]
    assert f32["pairs"] >= 6 and bf16["pairs"] >= 6
    # 1 s of steps of a few ms each: more than 6 rounds, and every model has its second.
    assert max(f32["pairs"], bf16["pairs"]) > 6
    for row in (f32, bf16):
        assert min(sum(row["samples_s"][0]), sum(row["samples_s"][1])) >= 1.0
    assert speedup["pairs"] <= min(f32["pairs"], bf16["pairs"])  # the rounds both ran in
    assert len(speedup["samples_s"][0]) == len(speedup["samples_s"][1]) == speedup["pairs"]
    assert speedup["ratio_ci_low"] <= speedup["ratio"] <= speedup["ratio_ci_high"]


def test_warm_up_goes_on_until_the_step_time_is_steady():
    from resnet.engine.kinds.case import WARMUP_MAX_STEPS, steady, warm_up

    slow_start = iter([1.0, 0.7, 0.52, 0.5, 0.5, 0.5, 0.5])
    times, settled = warm_up(lambda: next(slow_start), 1)
    assert settled and times == [1.0, 0.7, 0.52, 0.5, 0.5, 0.5] and steady(times)
    # Fast but never steady: stops at the step cap and says so.
    jumpy = iter([0.01 * 1.1**i for i in range(100)])  # every step 10% slower than the last
    times, settled = warm_up(lambda: next(jumpy), 1)
    assert not settled and len(times) == WARMUP_MAX_STEPS
    # Slow steps stop at the time cap.
    times, settled = warm_up(lambda: 3.0 if not settled else 0.0, 1)
    assert len(times) == 2 and sum(times) >= 5.0


@pytest.mark.parametrize(
    ("profiling", "names"), [(False, ("--bench-profile", "--profile")), (True, ("--bench-profile",))]
)
def test_profile_is_also_profile_only_where_pytest_profiling_does_not_claim_it(profiling, names):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "conftest.py"
    spec = importlib.util.spec_from_file_location("bench_conftest_options", path)
    plugin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plugin)
    added = []

    class Group:
        def addoption(self, *flags, **_):
            added.append(flags)

    class Parser:
        def getgroup(self, *_):
            return Group()

    class Plugins:
        def has_plugin(self, name):
            return profiling and name == "profiling"

    plugin.pytest_addoption(Parser(), Plugins())
    assert added[0] == names
    assert len({flag for flags in added for flag in flags}) == sum(len(flags) for flags in added)

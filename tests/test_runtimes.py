"""Deployment runtimes: export once (cached, checked), load, parity against Keras."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from resnet.engine import exports
from resnet.engine.kinds import runtimes
from resnet.engine.options import UsageError, parse_options
from resnet.engine.worker.client import CaseFailure, WorkerClient
from resnet.schema import Case


def _available(runtime: str) -> bool:
    try:
        runtimes.require(runtime)
    except runtimes.RuntimeUnavailable:
        return False
    return True


def test_runtimes_are_an_axis_of_inference_cases():
    from tests.sweeps import resolve_flat as resolve_axes

    axes = resolve_axes(
        parse_options({"profile": "smoke", "devices": "cpu", "runtimes": "keras,onnxruntime"})
    )
    cases = axes.cases("tensorflow")
    assert {c.runtime for c in cases if c.mode == "inference"} == {"keras", "onnxruntime"}
    assert {c.runtime for c in cases if c.mode == "training"} == {"keras"}
    assert Case("v1", "inference", 8, "float32", "cpu", False, runtime="openvino").id.endswith("-openvino")
    with pytest.raises(
        UsageError, match="--runtimes: unknown value 'tensorrt'; valid: keras, onnxruntime, openvino"
    ):
        parse_options({"runtimes": "tensorrt"})


def test_parity_figures():
    ref = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
    err, top1 = runtimes.parity(ref, ref * 1.001)
    assert err == pytest.approx(0.001, rel=1e-3) and top1 == 1.0  # 0.0007 of a largest logit of 0.7
    err, top1 = runtimes.parity(ref, ref[:, ::-1])
    assert top1 == 0.5 and err == pytest.approx(0.3 / 0.7)


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_a_corrupted_export_is_rebuilt_not_trusted(tmp_path, runtime):
    if not _available(runtime):
        pytest.skip(f"{runtime} is not installed ({runtimes.INSTALL[runtime]})")
    import resnet

    model = resnet.build("v1", depth=18, input_shape=(32, 32, 3), classes=10)
    key = runtimes.export_key("v1-depth18", 32, runtime)
    path, seconds, rebuilt = runtimes.cached_export(model, key, runtime, tmp_path)
    assert rebuilt and seconds > 0 and path.exists()
    again, seconds, rebuilt = runtimes.cached_export(model, key, runtime, tmp_path)
    assert again == path and not rebuilt and seconds == 0.0
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    path.write_bytes(bytes(data))
    _, _, rebuilt = runtimes.cached_export(model, key, runtime, tmp_path)
    assert rebuilt
    # What the tool did not write is never replaced: a file of someone's in the entry, an
    # entry without its manifest, a file where the folder should be. One line, untouched.
    (tmp_path / key / "notes.txt").write_text("mine")
    with pytest.raises(exports.CacheForeign, match="RESNET_BENCH_CACHE"):
        runtimes.cached_export(model, key, runtime, tmp_path)
    assert (tmp_path / key / "notes.txt").read_text() == "mine" and path.exists()
    shutil.rmtree(tmp_path / key)
    (tmp_path / key).write_text("not a folder")
    with pytest.raises(exports.CacheForeign, match="did not write"):
        runtimes.cached_export(model, key, runtime, tmp_path)
    assert (tmp_path / key).read_text() == "not a folder"
    (tmp_path / key).unlink()
    (tmp_path / key).mkdir()
    (tmp_path / key / "model.onnx").write_text("someone's")
    with pytest.raises(exports.CacheForeign):
        runtimes.cached_export(model, key, runtime, tmp_path)
    assert (tmp_path / key / "model.onnx").read_text() == "someone's"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_the_export_key_holds_the_weights():
    import resnet

    a = resnet.build("v1", depth=18, input_shape=(32, 32, 3), classes=10)
    b = resnet.build("v1", depth=18, input_shape=(32, 32, 3), classes=10)  # other random weights
    assert exports.weights_digest(a) == exports.weights_digest(a)
    assert exports.weights_digest(a) != exports.weights_digest(b)
    keys = {runtimes.export_key("v1-depth18", 32, "onnxruntime", exports.weights_digest(m)) for m in (a, b)}
    assert len(keys) == 2


def test_one_export_serves_the_cases_of_other_workers(tmp_path):
    """A second worker (another batch size) reuses the first one's export and its logits
    still match its own Keras model: every worker builds the same weights."""
    if not _available("onnxruntime"):
        pytest.skip(f"onnxruntime is not installed ({runtimes.INSTALL['onnxruntime']})")
    setups = []
    for batch in (1, 3):
        case = Case("v1", "inference", batch, "float32", "cpu", False, 64, runtime="onnxruntime")
        with WorkerClient(timeout=300, env={"RESNET_BENCH_CACHE": str(tmp_path)}) as w:
            setups.append(w.call("setup", case=case))
            w.call("finish")
    assert setups[0]["export_s"] > 0 and setups[1]["export_s"] == 0.0  # the second found the cache
    assert all(s["parity_top1_agreement"] == 1.0 for s in setups)
    assert all(s["parity_max_rel_err"] <= runtimes.TOLERANCE["float32"] for s in setups)


@pytest.mark.parametrize("version", ["v1", "v1.5", "v2"])
@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_export_and_parity_at_64px(tmp_path, runtime, version):
    """Each runtime that installs here runs each version, its logits within float32's tolerance."""
    if not _available(runtime):
        pytest.skip(f"{runtime} is not installed ({runtimes.INSTALL[runtime]})")
    case = Case(version, "inference", 2, "float32", "cpu", False, 64, runtime=runtime)
    with WorkerClient(timeout=300, env={"RESNET_BENCH_CACHE": str(tmp_path)}) as w:
        setup = w.call("setup", case=case)
        w.call("warm")
        assert w.call("step")["seconds"] > 0
        w.call("finish")
    assert setup["parity_max_rel_err"] <= runtimes.TOLERANCE["float32"]
    assert setup["parity_top1_agreement"] == 1.0
    assert (
        setup["runtime_version"]
        and runtime.replace("onnxruntime", "onnx").lower()[:4] in setup["device_name"].lower()
    )
    assert setup["exported_from"] == "the model itself" and setup["export_s"] > 0


def test_a_precision_a_runtime_cannot_do_here_is_skipped(tmp_path):
    if not _available("onnxruntime"):
        pytest.skip("onnxruntime is not installed")
    case = Case("v1", "inference", 2, "mixed_bfloat16", "cpu", False, 32, runtime="onnxruntime")
    with WorkerClient(timeout=300, env={"RESNET_BENCH_CACHE": str(tmp_path)}) as w:
        with pytest.raises(CaseFailure) as info:
            w.call("setup", case=case)
    assert (
        info.value.status == "skipped" and "no float16 or bfloat16 convolution kernels" in info.value.reason
    )


def test_a_parity_failure_fails_the_case(tmp_path, monkeypatch):
    """A runtime whose outputs are off (a deliberately perturbed model) fails its case with
    the figures as the reason, in the worker's own code path."""
    if not _available("onnxruntime"):
        pytest.skip("onnxruntime is not installed")
    import resnet.engine.kinds  # noqa: F401  (the runtime's step source)
    from resnet.engine.worker.core import WorkerCore

    real = runtimes.load

    def perturbed(*args, **kwargs):
        step, infer, info = real(*args, **kwargs)
        return step, (lambda x: infer(x) + 0.01), info

    monkeypatch.setattr(runtimes, "load", perturbed)
    monkeypatch.setenv("RESNET_BENCH_CACHE", str(tmp_path))
    server = WorkerCore()
    server.start(None)
    with pytest.raises(CaseFailure) as info:
        server.setup(Case("v1", "inference", 2, "float32", "cpu", False, 32, runtime="onnxruntime"))
    assert info.value.status == "error" and info.value.reason.startswith(
        "parity: onnxruntime float32 differs"
    )


# -- configurations (#38) ---------------------------------------------------------------
def test_runtime_configs_are_an_axis_of_runtime_cases_only():
    from tests.sweeps import resolve_flat as resolve_axes

    options = {"profile": "smoke", "devices": "cpu", "runtimes": "keras,openvino",
               "runtime_configs": "latency,throughput", "modes": "inference"}  # fmt: skip
    plan = resolve_axes(parse_options(options))
    ids = {c.id for c in plan.cases("tensorflow") if c.version == "v1"}
    assert ids == {
        "v1-inference-bs2-float32-cpu-32px",
        "v1-inference-bs2-float32-cpu-32px-openvino",
        "v1-inference-bs2-float32-cpu-32px-openvino-throughput",
    }
    with pytest.raises(UsageError, match="--runtime-configs: unknown"):
        parse_options({"runtime_configs": "fastest"})


def test_a_throughput_step_counts_every_request_it_held():
    from resnet.engine.kinds.case import metrics_from_times

    case = Case(
        "v1", "inference", 8, "float32", "cpu", False, 224, runtime="openvino", runtime_config="throughput"
    )
    one, four = metrics_from_times(case, [0.5, 0.5], None), metrics_from_times(case, [0.5, 0.5], None, 4)
    assert one["images_per_sec"] == 16 and four["images_per_sec"] == 64 and four["global_batch"] == 32
    assert four["latency_ms_p50"] == 500  # a step's time: its requests together


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_a_throughput_configuration_runs_its_requests_at_once(tmp_path, runtime):
    if not _available(runtime):
        pytest.skip(f"{runtime} is not installed ({runtimes.INSTALL[runtime]})")
    case = Case("v1", "inference", 2, "float32", "cpu", False, 32, threads=2, runtime=runtime,
                runtime_config="throughput")  # fmt: skip
    with WorkerClient(threads=2, timeout=300, env={"RESNET_BENCH_CACHE": str(tmp_path)}) as w:
        setup = w.call("setup", case=case)
        w.call("warm")
        assert w.call("step")["seconds"] > 0
        done = w.call("finish")
    assert setup["requests"] >= (2 if runtime == "onnxruntime" else 1)
    assert setup["parity_top1_agreement"] == 1.0 and done["worker_step_s"]
    assert runtime != "openvino" or "THROUGHPUT hint" in setup["device_name"]

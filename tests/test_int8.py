"""int8 through the deployment runtimes' own quantization tools, the int8 peak, and a
runtime's own memory in a process holding only the runtime."""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from resnet.engine import quantize
from resnet.engine.kinds import runtimes
from resnet.engine.options import UsageError, parse_options
from resnet.engine.worker import core as worker_core
from resnet.engine.worker import peaks
from tests.sweeps import TEST_WORKER, run_bench


def _installed(runtime: str) -> bool:
    try:
        runtimes.require(runtime)
        quantize.require_int8(runtime, flags=["avx512_vnni"])
    except (runtimes.RuntimeUnavailable, quantize.Int8Unavailable):
        return False
    return True


def test_int8_needs_dot_product_instructions_faked_both_ways():
    assert quantize.int8_capable(["avx2", "avx512_vnni"]) and quantize.int8_capable(["amx_int8"])
    assert quantize.int8_capable(["avx_vnni"]) and not quantize.int8_capable(
        ["avx2", "avx512f", "avx512_bf16"]
    )
    with pytest.raises(quantize.Int8Unavailable, match=r"int8 needs int8 dot-product instructions .*VNNI"):
        quantize.require_int8("openvino", flags=["avx2", "avx512f"])


def test_a_missing_quantization_tool_names_its_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "nncf", None)  # import nncf raises ImportError
    with pytest.raises(quantize.Int8Unavailable, match=r"nncf is not installed \(pip install nncf\)"):
        quantize.require_int8("openvino", flags=["avx512_vnni"])


def test_int8_is_a_precision_of_runtime_cases_only():
    assert parse_options({"precisions": "float32,int8"})["precisions"] == ("float32", "int8")
    with pytest.raises(UsageError, match=r"--precisions: unknown value 'int4'; valid: .*int8"):
        parse_options({"precisions": "int4"})


def _compiled(kinds: list[str]):
    """A stand-in for OpenVINO's compiled model whose convolutions run in ``kinds``."""

    class Value:
        def __init__(self, text):
            self.text = text

        def astype(self, _):
            return self.text

    ops = [
        SimpleNamespace(
            get_rt_info=lambda k=k: {"layerType": Value("Convolution"), "runtimePrecision": Value(k)}
        )
        for k in kinds
    ]
    return SimpleNamespace(get_runtime_model=lambda: SimpleNamespace(get_ops=lambda: ops))


def test_openvino_must_run_the_int8_convolutions_in_8_bits_faked_both_ways():
    runtimes._check_int8(_compiled(["u8", "i8"]))
    with pytest.raises(runtimes.RuntimeUnavailable, match="convolutions in f32, u8, not in 8 bits"):
        runtimes._check_int8(_compiled(["u8", "f32"]))


def test_the_peak_process_reads_its_own_high_water_mark(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmPeak:\t 900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t 1024 kB\n")
    assert worker_core.peak_rss_mb(str(status)) == 200.0
    # No /proc (another system): getrusage's figure, whatever it carries over.
    assert worker_core.peak_rss_mb(str(tmp_path / "missing")) > 0


def test_the_int8_peak_is_the_fastest_library_and_none_without_one(monkeypatch):
    monkeypatch.setattr(peaks, "SIZES", (256,))
    found = peaks.int8_peaks(0.05)
    assert found and all(tops > 0 and size == 256 for tops, size in found.values())

    def absent(n, seconds):
        raise ImportError("no such library")

    monkeypatch.setattr(peaks, "INT8_LIBRARIES", {"torch": absent, "openvino": absent})
    assert peaks.int8_peaks(0.05) == {}


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_quantized_models_are_cached_and_agree_with_float32(tmp_path, runtime, monkeypatch):
    if not _installed(runtime):
        pytest.skip(f"{runtime} or its quantization tool is not installed ({quantize.INSTALL[runtime]})")
    import keras

    import resnet

    monkeypatch.setenv("RESNET_BENCH_CACHE", str(tmp_path / "cache"))
    keras.utils.set_random_seed(runtimes.EXPORT_SEED)
    model = resnet.build("v1.5", input_shape=(64, 64, 3))
    key = runtimes.export_key("v1.5", 64, runtime, runtimes.weights_digest(model))
    source, _, _ = runtimes.cached_export(model, key, runtime, tmp_path)
    data = quantize.images(64)
    assert data.shape == (quantize.DATA_IMAGES, 64, 64, 3) and abs(float(data.mean())) < 1.5
    calibration, held_out = data[: quantize.CALIBRATION], data[quantize.CALIBRATION :]
    path, seconds, rebuilt = runtimes.cached_int8(source, key, runtime, calibration, tmp_path)
    assert rebuilt and seconds > 0 and path.exists() and path.parent != source.parent
    again, seconds, rebuilt = runtimes.cached_int8(source, key, runtime, calibration, tmp_path)
    assert again == path and not rebuilt and seconds == 0.0
    _, infer, _ = runtimes.load(runtime, path, "int8", None, "cpu")
    err, top1 = runtimes.parity(np.asarray(model(held_out, training=False)), infer(held_out))
    assert err <= runtimes.TOLERANCE["int8"] and top1 >= runtimes.TOP1_INT8, (err, top1)
    # The runtime's own process: the model file, NumPy and the runtime, no framework.
    spec = {"runtime": runtime, "path": str(path), "precision": "int8", "batch": 2, "size": 64}
    done = subprocess.run(
        [sys.executable, "-m", "resnet.engine.kinds.runtime_host", json.dumps(spec)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    figures = json.loads(done.stdout.splitlines()[-1])
    assert figures["frameworks_loaded"] == [] and figures["peak_rss_mb"] > figures["baseline_rss_mb"] > 0


def test_a_runtime_case_over_windows_keeps_its_worst_parity_and_what_its_memory_covers():
    from resnet.engine.kinds.windows import combine_windows
    from resnet.schema import Case
    from tests.test_stats import _steps, _window

    case = Case("v1.5", "inference", 2, "int8", "cpu", False, 64, runtime="openvino")
    windows = [_window(case, i, _steps(i, 12, 0.01), 10.0 * i) for i in (1, 2)]
    for w, err, top1 in zip(windows, (0.01, 0.02), (1.0, 0.95), strict=True):
        w.update(parity_max_rel_err=err, parity_top1_agreement=top1, quantized_by="nncf 3.4.0",
                 memory_scope="runtime process", worker_peak_rss_mb=1500.0 + err * 100)  # fmt: skip
    row = combine_windows(case, windows)
    assert (row["parity_max_rel_err"], row["parity_top1_agreement"]) == (0.02, 0.95)
    assert row["quantized_by"] == "nncf 3.4.0" and row["memory_scope"] == "runtime process"
    assert row["worker_peak_rss_mb"] == 1502.0 and row["peak_host_rss_mb"] == 1002.0


def _rows(path):
    return {r["case_id"]: r for r in json.loads(path.read_text())["resnet_bench"]["cases"]}


#: A small int8 sweep: v1.5 inference at batch 2 and 64 px through both runtimes (and Keras).
SWEEP = ["bench/test_throughput.py", "--versions", "v1.5", "--modes", "inference", "--batch-sizes", "2",
         "--image-size", "64", "--windows", "1", "--rounds", "3", "--min-time", "1",
         "--runtimes", "keras,openvino,onnxruntime", "--precisions", "int8"]  # fmt: skip


def _sweep(tmp_path, env: dict[str, str]) -> dict[str, dict]:
    if not (_installed("openvino") and _installed("onnxruntime")):
        pytest.skip("int8 cases need openvino, nncf and onnxruntime (bash scripts/setup.sh --backends)")
    out = tmp_path / "int8.json"
    done = run_bench(*SWEEP, "--benchmark-json", str(out), env={"RESNET_BENCH_CACHE": str(tmp_path), **env})
    assert done.returncode == 0, done.stdout[-3000:]
    return {k.removesuffix("@w1"): r for k, r in _rows(out).items()}


@pytest.mark.slow
def test_int8_cases_run_quantized_with_the_runtime_s_own_memory(tmp_path):
    from resnet.engine.machine import cpu_flags

    if not quantize.int8_capable(cpu_flags()):
        pytest.skip("this CPU has no int8 dot products (the next test fakes one without on any CPU)")
    rows = _sweep(tmp_path, {})
    keras_int8 = rows["v1.5-inference-bs2-int8-cpu-64px"]
    assert keras_int8["status"] == "skipped" and "Keras has no int8 convolution" in keras_int8["reason"]
    for runtime, tool in (("openvino", "nncf"), ("onnxruntime", "onnxruntime")):
        row = rows[f"v1.5-inference-bs2-int8-cpu-64px-{runtime}"]
        assert row["status"] == "ok" and row["quantized_by"].startswith(tool), row
        assert row["parity_top1_agreement"] >= runtimes.TOP1_INT8 and "held-out" in row["parity_on"]
        assert row["device_peak_source"] in ("torch", "openvino") and row["utilization"] <= 1.0
        # The runtime's own process, far smaller than the worker with TensorFlow and the Keras twin.
        assert row["memory_scope"] == "runtime process"
        assert row["peak_host_rss_mb"] < row["worker_peak_rss_mb"] / 2


def test_int8_cases_skip_on_a_cpu_without_int8_dot_products(tmp_path):
    """The workers see a CPU without VNNI or AMX-INT8 (faked): skipped, saying why."""
    rows = _sweep(tmp_path, {**TEST_WORKER, "RESNET_BENCH_TEST_CPU_FLAGS": "avx2,fma,avx512f"})
    for runtime in ("openvino", "onnxruntime"):
        row = rows[f"v1.5-inference-bs2-int8-cpu-64px-{runtime}"]
        assert row["status"] == "skipped" and "int8 dot-product instructions" in row["reason"], row

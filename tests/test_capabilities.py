"""Every branch that depends on the hardware, or on what a library says of it, with the
capability faked both ways: CPU flags, OpenVINO's capabilities, ONNX Runtime's providers,
GPU presence and placement, energy counters. The project's own machine has only some of
them; these tests run the paths it lacks."""

from __future__ import annotations

import sys
import types
import typing

import numpy as np
import pytest

from resnet.engine import energy, machine
from resnet.engine.kinds import runtimes
from resnet.engine.kinds.runtimes import RuntimeUnavailable


# -- CPU flags -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "label"),
    [
        ("fpu avx2 fma avx512f avx512_bf16 avx512_vnni", "AVX-512 BF16"),
        ("fpu avx2 fma avx512f amx_tile amx_bf16 amx_int8 avx512_bf16", "AMX"),
        ("fpu avx2 fma avx512f", "no BF16"),
    ],
)
def test_cpu_flags_from_cpuinfo_name_the_bfloat16_hardware(tmp_path, flags, label):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n")
    found = machine.cpu_flags(str(cpuinfo))
    assert set(found) <= set(flags.split()) and "fpu" not in found
    info = {"cpu_model": "Some CPU", "cpu_affinity": 2, "cpu_flags": found}
    assert machine.machine_label(info) == f"Some x2 ({label})"


def test_no_cpuinfo_gives_no_flags(tmp_path):
    assert machine.cpu_flags(str(tmp_path / "missing")) == []


@pytest.mark.parametrize(
    ("cpu", "label"),
    [
        ({"vendor_id_raw": "AuthenticAMD", "family": 26, "model": 2, "stepping": 1,
          "flags": ["avx512f", "avx512_bf16"]}, "AMD EPYC Zen 5 x2 (AVX-512 BF16)"),
        ({"vendor_id_raw": "GenuineIntel", "family": 6, "model": 207, "stepping": 2,
          "flags": ["amx_bf16", "avx512_bf16"]}, "Intel Xeon Emerald Rapids x2 (AMX)"),
        ({"vendor_id_raw": "AuthenticAMD", "family": "26", "flags": "avx512f"}, "AMD EPYC x2"),
        ("not a dict", "AMD EPYC x2"),
    ],
)  # fmt: skip
def test_a_run_s_py_cpuinfo_names_its_cpu_where_our_own_facts_are_missing(cpu, label):
    brand = "AMD EPYC" if "AMD" in str(cpu) or cpu == "not a dict" else "Intel(R) Xeon(R) Processor"
    info = {"cpu_model": brand, "cpu_affinity": 2, "cpu": cpu}  # a run before we recorded family and flags
    assert machine.machine_label(info) == label
    ours = {
        **info,
        "cpu_family": 25,
        "cpu_model_number": 17,
        "cpu_vendor": "AuthenticAMD",
        "cpu_flags": ["avx2"],
    }
    if isinstance(cpu, dict) and cpu.get("family") == 26:  # our own facts win over py-cpuinfo's
        assert machine.machine_label(ours) == "AMD EPYC Zen 4 x2 (no BF16)"
        assert machine.machine_identity(info)["cpu_family"] == 26


# -- OpenVINO's capabilities ------------------------------------------------------------
def _fake_openvino(capabilities: list[str], ran: str, hints: tuple[str, ...] = ("LATENCY", "THROUGHPUT"),
                   optimal: int = 3) -> types.SimpleNamespace:  # fmt: skip
    """OpenVINO's CPU plugin as a test needs it: the capabilities it lists, the precision it
    runs, the performance hints it honours (another is read back as LATENCY, as a plugin
    without the hint does) and the requests it recommends under THROUGHPUT."""

    class Compiled:
        def get_property(self, name):
            if name == "PERFORMANCE_HINT":
                asked = Core.config["PERFORMANCE_HINT"]
                return f"PerformanceMode.{asked if asked in hints else 'LATENCY'}"
            if name == "OPTIMAL_NUMBER_OF_INFER_REQUESTS":
                return optimal
            return f"<Type: '{ran}'>"

        def create_infer_request(self):
            return types.SimpleNamespace(infer=lambda inputs: {"out": inputs[0] * 2})

        def output(self, index):
            return "out"

    class Core:
        def get_property(self, device, name):
            assert (device, name) == ("CPU", "OPTIMIZATION_CAPABILITIES")
            return capabilities

        def compile_model(self, path, device, config):
            Core.config = config
            return Compiled()

    class AsyncInferQueue:
        started: typing.ClassVar[list] = []

        def __init__(self, compiled, jobs):
            self.jobs = jobs

        def start_async(self, inputs):
            AsyncInferQueue.started.append(inputs)

        def wait_all(self):
            AsyncInferQueue.waited = len(AsyncInferQueue.started)

    return types.SimpleNamespace(Core=Core, AsyncInferQueue=AsyncInferQueue, __version__="2026.fake")


@pytest.mark.parametrize(
    ("capabilities", "precision", "runs"),
    [
        (
            ["BF16", "WINOGRAD", "FP32", "INT8", "BIN", "EXPORT_IMPORT"],
            "mixed_bfloat16",
            True,
        ),  # AMD EPYC Zen 5
        (["WINOGRAD", "FP32", "INT8", "BIN", "EXPORT_IMPORT"], "mixed_bfloat16", False),  # no BF16 hardware
        (["FP32", "FP16", "INT8"], "mixed_float16", True),
        (["BF16", "FP32"], "mixed_float16", False),
        (["FP32"], "float32", True),
    ],
)
def test_openvino_runs_the_precisions_its_cpu_plugin_offers(monkeypatch, capabilities, precision, runs):
    hint = runtimes.OPENVINO_PRECISION[precision]
    ran = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[hint]
    monkeypatch.setattr(runtimes, "require", lambda name, **_: _fake_openvino(capabilities, ran))
    assert runtimes.openvino_can_run(hint, capabilities) is runs
    if runs:
        step, infer, info = runtimes.load("openvino", "model.xml", precision, 2, "cpu")
        assert info["device_name"] == f"CPU (OpenVINO {hint}, LATENCY hint)" and info["requests"] == 1
        np.testing.assert_array_equal(infer(np.ones(3)), np.full(3, 2.0))
        assert step is infer  # latency: one synchronous request
    else:
        with pytest.raises(RuntimeUnavailable, match=f"cannot run {hint} here"):
            runtimes.load("openvino", "model.xml", precision, 2, "cpu")


def test_openvino_that_runs_another_precision_than_asked_is_unavailable(monkeypatch):
    monkeypatch.setattr(runtimes, "require", lambda name, **_: _fake_openvino(["BF16", "FP32"], "float32"))
    with pytest.raises(RuntimeUnavailable, match="ran <Type: 'float32'> when asked for bf16"):
        runtimes.load("openvino", "model.xml", "mixed_bfloat16", None, "cpu")


# -- ONNX Runtime's providers ---------------------------------------------------------------
def _fake_onnxruntime(seen: dict) -> types.SimpleNamespace:
    class Session:
        def __init__(self, path, options, providers):
            seen["providers"] = providers
            seen["threads"] = options.intra_op_num_threads
            seen["sessions"] = seen.get("sessions", 0) + 1

        def get_inputs(self):
            return [types.SimpleNamespace(name="images")]

        def run(self, outputs, feed):
            return [feed["images"] + 1]

    return types.SimpleNamespace(
        SessionOptions=lambda: types.SimpleNamespace(intra_op_num_threads=None),
        InferenceSession=Session,
        __version__="1.fake",
    )


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_onnxruntime_runs_float32_on_its_cpu_provider_only(monkeypatch, precision):
    seen: dict = {}
    monkeypatch.setattr(runtimes, "require", lambda name, **_: _fake_onnxruntime(seen))
    if precision == "float32":
        step, infer, info = runtimes.load("onnxruntime", "model.onnx", precision, 2, "cpu")
        assert step is infer and info["requests"] == 1
        assert seen == {"providers": ["CPUExecutionProvider"], "threads": 2, "sessions": 1}
        assert infer(np.zeros(2)).tolist() == [1.0, 1.0] and "CPUExecutionProvider" in info["device_name"]
    else:
        with pytest.raises(RuntimeUnavailable, match="not a precision it can run here"):
            runtimes.load("onnxruntime", "model.onnx", precision, 2, "cpu")


@pytest.mark.parametrize("hints", [("LATENCY", "THROUGHPUT"), ("LATENCY",)])
def test_openvino_throughput_runs_its_recommended_requests_where_the_hint_exists(monkeypatch, hints):
    fake = _fake_openvino(["FP32"], "float32", hints=hints, optimal=4)
    monkeypatch.setattr(runtimes, "require", lambda name, **_: fake)
    if "THROUGHPUT" not in hints:  # a plugin without the hint: the configuration is skipped
        with pytest.raises(
            RuntimeUnavailable, match=r"ran the PerformanceMode\.LATENCY hint when asked for THROUGHPUT"
        ):
            runtimes.load("openvino", "model.xml", "float32", None, "cpu", "throughput")
        return
    step, infer, info = runtimes.load("openvino", "model.xml", "float32", None, "cpu", "throughput")
    assert info["requests"] == 4 and info["device_name"] == "CPU (OpenVINO f32, THROUGHPUT hint)"
    fake.AsyncInferQueue.started.clear()
    step(np.ones(3))
    assert (
        len(fake.AsyncInferQueue.started) == 4 and fake.AsyncInferQueue.waited == 4
    )  # 4 in flight, all awaited
    np.testing.assert_array_equal(infer(np.ones(3)), np.full(3, 2.0))  # parity: one synchronous request


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_onnxruntime_throughput_runs_a_single_thread_session_per_core(monkeypatch, threads):
    seen: dict = {}
    monkeypatch.setattr(runtimes, "require", lambda name, **_: _fake_onnxruntime(seen))
    if threads == 1:
        with pytest.raises(RuntimeUnavailable, match="with one core it is its latency setup"):
            runtimes.load("onnxruntime", "model.onnx", "float32", threads, "cpu", "throughput")
        return
    step, infer, info = runtimes.load("onnxruntime", "model.onnx", "float32", threads, "cpu", "throughput")
    assert info["requests"] == threads and seen["sessions"] == threads and seen["threads"] == 1
    assert step(np.zeros(2)) is None and infer(np.zeros(2)).tolist() == [1.0, 1.0]


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_a_runtime_on_a_gpu_needs_its_gpu_build(runtime):
    with pytest.raises(RuntimeUnavailable, match="needs its GPU build"):
        runtimes.load(runtime, "model", "float32", None, "gpu:0")


def test_a_runtime_not_installed_names_its_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import fails
    with pytest.raises(RuntimeUnavailable, match="pip install openvino"):
        runtimes.require("openvino")


# -- GPU presence and placement -----------------------------------------------------------------
@pytest.mark.parametrize("gpus", [0, 1, 2])
def test_default_devices_follow_the_gpus_found(monkeypatch, gpus):
    from resnet.engine.machine import default_devices

    found = tuple({"index": str(i), "name": "NVIDIA H200", "memory_mb": "143771"} for i in range(gpus))
    monkeypatch.setattr(machine, "nvidia_gpus", lambda: found)
    assert default_devices() == ("cpu", *(f"gpu:{i}" for i in range(gpus)))
    info = {"cpu_model": "Some CPU", "cpu_affinity": 16, "gpus": list(found)}
    assert machine.machine_label(info) == {0: "Some x16", 1: "NVIDIA H200", 2: "2x NVIDIA H200"}[gpus]


def test_no_nvidia_smi_means_no_gpu(monkeypatch):
    machine.nvidia_gpus.cache_clear()
    monkeypatch.setattr(machine.shutil, "which", lambda name: None)
    try:
        assert machine.nvidia_gpus() == ()
    finally:
        machine.nvidia_gpus.cache_clear()


def test_nvidia_smi_output_is_parsed(monkeypatch):
    machine.nvidia_gpus.cache_clear()
    monkeypatch.setattr(machine.shutil, "which", lambda name: "/usr/bin/nvidia-smi")
    done = types.SimpleNamespace(stdout="0, NVIDIA H200, 143771, 580.1, 9.0\n")
    monkeypatch.setattr(machine.subprocess, "run", lambda *a, **k: done)
    try:
        (gpu,) = machine.nvidia_gpus()
        assert gpu == {"index": "0", "name": "NVIDIA H200", "memory_mb": "143771", "driver": "580.1",
                       "compute_capability": "9.0"}  # fmt: skip
    finally:
        machine.nvidia_gpus.cache_clear()


@pytest.mark.parametrize(
    ("device", "placed", "ok"),
    [
        ("gpu:0", "/job:localhost/replica:0/task:0/device:GPU:0", True),
        ("gpu:0", "cuda:0", True),
        ("gpu:0", "TFRT_CPU_0", False),
        ("cpu", "/job:localhost/replica:0/task:0/device:CPU:0", True),
        ("cpu", "cuda:0", False),
    ],
)
def test_a_step_placed_on_another_device_is_caught(device, placed, ok):
    from resnet.schema import placed_on

    assert placed_on(device, placed) is ok


# -- energy counters ----------------------------------------------------------------------
def _rapl(root, joules_uj: int, max_uj: int = 10**9) -> None:
    zone = root / "intel-rapl:0"
    zone.mkdir(parents=True, exist_ok=True)
    (zone / "energy_uj").write_text(str(joules_uj))
    (zone / "max_energy_range_uj").write_text(str(max_uj))


def test_rapl_counts_joules_across_a_wrap(tmp_path):
    _rapl(tmp_path, 999_000_000)
    counter = energy.RaplCounter(str(tmp_path))
    assert counter.read() == 0.0
    _rapl(tmp_path, 1_000_000)  # wrapped past 10**9 microjoules
    assert counter.read() == pytest.approx(2.0)


def test_no_rapl_zone_means_no_reading(tmp_path, monkeypatch):
    assert energy.RaplCounter(str(tmp_path)).read() is None
    real = energy.RaplCounter
    monkeypatch.setattr(energy, "RaplCounter", lambda: real(str(tmp_path)))
    assert energy.counter_for("cpu").source == "none"
    _rapl(tmp_path, 5)
    assert energy.counter_for("cpu").source == "rapl"


@pytest.mark.parametrize("works", [True, False])
def test_nvml_reads_a_gpus_energy_or_gives_none(monkeypatch, works):
    def total(handle):
        if not works:
            raise RuntimeError("NVML_ERROR_NOT_SUPPORTED")
        return 12_500

    fake = types.SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetTotalEnergyConsumption=total,
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    counter = energy.counter_for("gpu:0")
    assert counter.source == ("nvml" if works else "none")
    assert counter.read() == (12.5 if works else None)


def test_no_nvml_library_means_no_reading(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert energy.counter_for("gpu:0").read() is None


# -- the device peak: the fastest matrix product, and the analytic figure ------------------
@pytest.mark.parametrize(
    ("family", "model", "flags", "dtype", "expected"),
    [
        (
            26,
            2,
            ["avx512f", "avx512_bf16"],
            "bfloat16",
            2 * 2.5 * 32 * 2 * 2 / 1000,
        ),  # Zen 5: two 512-bit FMAs
        (26, 2, ["avx512f", "avx512_bf16"], "float32", 2 * 2.5 * 16 * 2 * 2 / 1000),
        (25, 17, ["avx512f", "avx512_bf16"], "bfloat16", 2 * 2.5 * 32 * 1 * 2 / 1000),  # Zen 4: one
        (25, 17, ["avx512f"], "bfloat16", None),  # no BF16 instructions: bf16 is emulated
        (26, 2, ["avx2"], "float32", None),  # no AVX-512: not derived
        (99, 1, ["avx512f"], "float32", None),  # unknown generation
    ],
)
def test_the_analytic_peak_where_it_can_be_derived(family, model, flags, dtype, expected):
    from resnet.engine.worker.peaks import analytic_tflops

    info = {"cpu_vendor": "AuthenticAMD", "cpu_family": family, "cpu_model_number": model, "cpu_mhz": 2500.0,
            "cpu_flags": flags}  # fmt: skip
    got = analytic_tflops(info, dtype, cores=2)
    assert got == (pytest.approx(expected) if expected else None)
    amx = {"cpu_vendor": "GenuineIntel", "cpu_family": 6, "cpu_model_number": 143, "cpu_mhz": 2500.0,
           "cpu_flags": ["avx512f", "avx512_bf16", "amx_bf16"]}  # fmt: skip
    assert analytic_tflops(amx, "bfloat16", 2) is None  # AMX tiles: not a vector formula


def test_the_peak_is_the_fastest_library_and_names_it(monkeypatch):
    from resnet.engine.worker import peaks

    def missing(dtype, n, seconds):
        raise ImportError("not installed")

    monkeypatch.setattr(peaks, "CPU_LIBRARIES", {"torch": lambda d, n, s: n / 4096, "openvino": missing})
    found = peaks.cpu_peaks(lambda n: 0.5, "tensorflow", "bfloat16", 1.0)
    # torch's best size, 4096 (8192 at its 1 TFLOP/s would take 1.1 s, past the 1 s cap);
    # TensorFlow's first size that reached its best; OpenVINO absent
    assert found == {"tensorflow": (0.5, 2048), "torch": (1.0, 4096)}
    monkeypatch.setattr(peaks, "CPU_LIBRARIES", {"openvino": lambda d, n, s: 0.1})
    best = max(peaks.cpu_peaks(lambda n: 0.5, "tensorflow", "float32", 1.0).items(), key=lambda kv: kv[1])
    assert best == ("tensorflow", (0.5, 2048))


def test_a_larger_product_is_tried_only_while_it_stays_short():
    from resnet.engine.worker import peaks

    tried = []

    def slow(n):  # 0.05 TFLOP/s: 4096 would take 2.7 s
        tried.append(n)
        return 0.05

    assert peaks.best_size(slow) == (0.05, 2048) and tried == [2048]


def test_a_workers_peak_probe_tries_every_installed_library():
    import importlib.util

    from resnet.engine.worker.client import WorkerClient

    with WorkerClient(timeout=300) as worker:
        reply = worker.call("matmul_peak", device="cpu", precision="float32", seconds=0.5)
    assert reply["tflops"] == max(reply["by_library"].values()) > 0
    assert reply["source"] in reply["by_library"] and "tensorflow" in reply["by_library"]
    for name in ("torch", "openvino"):
        assert (name in reply["by_library"]) == (importlib.util.find_spec(name) is not None)

"""The device peak behind ``utilization``: the fastest matrix product the machine has, not
only the backend's own.  On a CPU a runtime's kernels can outrun TensorFlow's (OpenVINO's
bf16 convolutions read 93-102% of TensorFlow's bf16 matrix product on an AMD EPYC Zen 5), so
the peak is the best of every library installed (the backend, PyTorch, OpenVINO), at two
sizes, with the library named; beside it the analytic figure where it can be derived:
cores x clock x vector lanes x FMA units x 2, at the clock /proc/cpuinfo reports.  int8's
peak (TOP/s, in the same field) is the fastest int8 x int8 product of PyTorch and OpenVINO
(the backends have none).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

#: 512-bit FMA operations per cycle and core, by CPU generation (resnet.engine.machine):
#: Zen 4 runs AVX-512 on 256-bit halves; Zen 5 and the Intel server cores have two full units.
FMA_512_PER_CYCLE = {
    "Zen 4": 1, "Zen 4c": 1, "Zen 5": 2, "Skylake/Cascade Lake": 2, "Ice Lake": 2, "Sapphire Rapids": 2,
    "Emerald Rapids": 2, "Granite Rapids": 2,
}  # fmt: skip
#: Square sizes tried, smallest first; a larger one only while one product of it would take at
#: most MAX_PRODUCT_S at the rate the smaller one ran (AMX and GPUs reach their peak only on
#: large products; an emulated dtype would take minutes).
SIZES = (2048, 4096, 8192)
MAX_PRODUCT_S = 1.0


def _best(run: Callable[[], Any], seconds: float) -> float:
    """The fastest of enough repetitions of ``run`` for about ``seconds`` (at least 3)."""
    run()
    t0 = time.perf_counter()
    run()
    once = max(time.perf_counter() - t0, 1e-6)
    times = []
    for _ in range(max(3, min(50, int(seconds / once)))):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def torch_tflops(dtype: str, n: int, seconds: float) -> float:
    """PyTorch's CPU matrix product in ``dtype`` (float32, bfloat16, float16), TFLOP/s."""
    import torch

    kind = getattr(torch, dtype)
    a, b = torch.randn(n, n).to(kind), torch.randn(n, n).to(kind)
    return 2 * n**3 / _best(lambda: torch.matmul(a, b), seconds) / 1e12


def _opset() -> Any:
    """OpenVINO's opset 13 (its module moved between releases)."""
    try:
        import openvino.opset13 as ops
    except ImportError:  # older releases
        from openvino.runtime import opset13 as ops
    return ops


def openvino_tflops(dtype: str, n: int, seconds: float) -> float:
    """OpenVINO's CPU MatMul at the inference precision of ``dtype``, TFLOP/s; ValueError
    where the CPU plugin cannot run that precision."""
    import openvino as ov

    ops = _opset()
    hint = {"float32": "f32", "bfloat16": "bf16", "float16": "f16"}[dtype]
    core = ov.Core()
    if hint != "f32" and {"bf16": "BF16", "f16": "FP16"}[hint] not in core.get_property(
        "CPU", "OPTIMIZATION_CAPABILITIES"
    ):
        raise ValueError(f"OpenVINO cannot run {hint} on this CPU")
    rng = np.random.default_rng(0)
    a = ops.parameter([n, n], ov.Type.f32)
    product = ops.matmul(a, ops.constant(rng.standard_normal((n, n)).astype(np.float32)), False, False)
    request = core.compile_model(ov.Model([product], [a]), "CPU", {"INFERENCE_PRECISION_HINT": hint})
    infer = request.create_infer_request()
    x = rng.standard_normal((n, n)).astype(np.float32)
    return 2 * n**3 / _best(lambda: infer.infer([x]), seconds) / 1e12


#: The other libraries' matrix products on a CPU, by name (tried where installed).
CPU_LIBRARIES: dict[str, Callable[[str, int, float], float]] = {
    "torch": torch_tflops,
    "openvino": openvino_tflops,
}


def analytic_tflops(info: dict[str, Any], dtype: str, cores: int) -> float | None:
    """cores x clock x lanes x FMA units x 2 for ``dtype`` on this CPU, where its generation,
    clock and vector width are known (None otherwise: AMX's tiles are not a vector formula)."""
    from resnet.engine.machine import cpu_generation

    units = FMA_512_PER_CYCLE.get(cpu_generation(info) or "")
    flags = info.get("cpu_flags") or []
    ghz = info.get("cpu_mhz")
    if not units or not ghz or "avx512f" not in flags or dtype not in ("float32", "bfloat16"):
        return None
    if dtype == "bfloat16" and ("avx512_bf16" not in flags or "amx_bf16" in flags):
        return None
    lanes = 16 * (2 if dtype == "bfloat16" else 1)  # VDPBF16PS: two bf16 products per fp32 lane
    return cores * ghz / 1000 * lanes * units * 2 / 1000


def best_size(tflops_at: Callable[[int], float]) -> tuple[float, int]:
    """(the best TFLOP/s over SIZES, its size), trying a larger size only while one product of
    it would take at most MAX_PRODUCT_S."""
    best: tuple[float, int] = (0.0, SIZES[0])
    for n in SIZES:
        if best[0] and 2 * n**3 / (best[0] * 1e12) > MAX_PRODUCT_S:
            break
        rate = tflops_at(n)
        if rate > best[0]:
            best = (rate, n)
    return best


def cpu_peaks(
    backend_tflops: Callable[[int], float], backend: str, dtype: str, seconds: float
) -> dict[str, tuple[float, int]]:
    """(TFLOP/s, size) of every library's CPU matrix product in ``dtype``, each its best
    size (best_size)."""
    found = {backend: best_size(backend_tflops)}
    for name, fn in CPU_LIBRARIES.items():
        if name == backend:
            continue
        try:
            found[name] = best_size(lambda n, fn=fn: fn(dtype, n, seconds / len(SIZES)))
        except (ImportError, ValueError, RuntimeError, AttributeError, TypeError):
            continue  # not installed, or not this precision here
    return found


def torch_int8_tops(n: int, seconds: float) -> float:
    """PyTorch's int8 x int8 -> int32 CPU matrix product (``torch._int_mm``, oneDNN's VNNI or
    AMX-INT8 kernels), TOP/s."""
    import torch

    a = torch.randint(-128, 128, (n, n), dtype=torch.int8)
    b = torch.randint(-128, 128, (n, n), dtype=torch.int8)
    return 2 * n**3 / _best(lambda: torch._int_mm(a, b), seconds) / 1e12


def openvino_int8_tops(n: int, seconds: float) -> float:
    """OpenVINO's CPU MatMul on 8-bit activations (a FakeQuantize to 256 levels) and 8-bit
    weights, which its CPU plugin runs as an int8 product, TOP/s."""
    import openvino as ov

    ops = _opset()
    rng = np.random.default_rng(0)
    a = ops.parameter([n, n], ov.Type.f32)
    low, high = ops.constant(np.float32(-4.0)), ops.constant(np.float32(4.0))
    quantized = ops.fake_quantize(a, low, high, low, high, 256)
    weights = ops.constant(rng.integers(-127, 128, (n, n)).astype(np.int8))
    scaled = ops.multiply(ops.convert(weights, ov.Type.f32), ops.constant(np.float32(1 / 32)))
    product = ops.matmul(quantized, scaled, False, False)
    infer = ov.Core().compile_model(ov.Model([product], [a]), "CPU").create_infer_request()
    x = rng.standard_normal((n, n)).astype(np.float32)
    return 2 * n**3 / _best(lambda: infer.infer([x]), seconds) / 1e12


#: The int8 matrix products on a CPU, by library (tried where installed).
INT8_LIBRARIES: dict[str, Callable[[int, float], float]] = {
    "torch": torch_int8_tops,
    "openvino": openvino_int8_tops,
}


def int8_peaks(seconds: float) -> dict[str, tuple[float, int]]:
    """(TOP/s, size) of every installed library's int8 matrix product, each its best size;
    empty where none runs here."""
    found = {}
    for name, fn in INT8_LIBRARIES.items():
        try:
            found[name] = best_size(lambda n, fn=fn: fn(n, seconds / len(SIZES)))
        except (ImportError, ValueError, RuntimeError, AttributeError, TypeError):
            continue
    return found

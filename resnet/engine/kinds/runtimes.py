"""Deployment runtimes: our models exported once and run by ONNX Runtime or OpenVINO,
parity-checked against Keras on every case.

A model is exported from its float32 twin (Keras exports float32 policies only; the
runtime's own precision setting then makes it mixed) into a cache folder keyed by the
model's spec, the image size, Keras's version and the exporter's version, written
atomically with a manifest of checksums: a file that does not match its manifest is
rebuilt, never trusted.  Each case then compares the runtime's logits with the Keras
model's on the same random batch; beyond the precision's tolerance the case fails with
the figures as its reason, never a silent wrong number.

Each runtime runs in one of two configurations (``--runtime-configs``): latency, one
synchronous request at a time (OpenVINO's LATENCY hint); or throughput, as its vendor
advises for it: OpenVINO's THROUGHPUT hint with the number of requests the plugin
recommends, started asynchronously and all awaited in each step, and ONNX Runtime with one
single-thread session per core, run at once from a thread each.  A throughput step holds
``requests`` batches, and its row counts them (``requests``, ``global_batch``).  The worker half is a step
source of the model core (resnet.engine.worker.core); the parent half is the plain case's.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from resnet.engine import exports, quantize
from resnet.engine.errors import CaseFailure
from resnet.engine.exports import weights_digest
from resnet.engine.worker.core import step_source
from resnet.errors import Unavailable
from resnet.schema import Case

#: The seed of the models exported to deployment runtimes: every worker builds the same weights.
EXPORT_SEED = 1234
INSTALL = {"onnxruntime": "pip install onnxruntime tf2onnx", "openvino": "pip install openvino"}
#: The file format each runtime loads, and the package that writes it from Keras.
FORMATS = {"onnxruntime": ("onnx", "tf2onnx"), "openvino": ("openvino", "openvino")}
#: OpenVINO's inference precision per case precision (an int8 model's own operations are
#: int8; what NNCF leaves in float, the softmax, runs in f32).
OPENVINO_PRECISION = {"float32": "f32", "mixed_bfloat16": "bf16", "mixed_float16": "f16", "int8": "f32"}
#: Parity tolerance: the largest difference from Keras's float32 logits, relative to their
#: largest magnitude.  float32 must agree to float rounding; bf16 and f16 carry 8 and 11
#: mantissa bits through 50 layers (OpenVINO's bf16 measured 5e-3 on an AMD EPYC).
#: int8 is held to the same 5% of the scale as bf16 (v1.5 measured 0.9-1.8% at 224 px and
#: 1.3-3.3% at 64 px on an AMD EPYC Zen 4) and, on the held-out images, to top-1 agreement
#: with float32 of at least TOP1_INT8: a floor that a broken quantization (near chance) falls
#: through, not an accuracy claim.  The suite's models carry random weights, whose classes
#: are near ties (top-2 margins of about 0.03 in log-probability at 224 px): agreement there
#: was 100% at 224 px and 97% at 64 px for both runtimes, 88% at 32 px for OpenVINO.
TOLERANCE = {"float32": 1e-4, "mixed_bfloat16": 5e-2, "mixed_float16": 2e-2, "int8": 5e-2}
TOP1_INT8 = 0.75


class RuntimeUnavailable(Unavailable):
    """The runtime cannot run this case here (not installed, or not this precision on this
    device); the case is skipped with this reason."""


#: The name OpenVINO's CPU plugin gives each inference precision among its
#: OPTIMIZATION_CAPABILITIES (it lists "BF16" and "FP16", never the hints' own spelling).
OPENVINO_CAPABILITY = {"bf16": "BF16", "f16": "FP16"}


def openvino_can_run(hint: str, capabilities: list[str] | tuple[str, ...]) -> bool:
    """Whether OpenVINO's CPU plugin, offering ``capabilities``, runs the precision ``hint``
    (f32 always; bf16 and f16 where the CPU lists BF16 or FP16)."""
    return hint == "f32" or OPENVINO_CAPABILITY.get(hint) in capabilities


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def require(runtime: str, exporter: bool = True) -> Any:
    """The runtime's module, or RuntimeUnavailable naming the install command; with
    ``exporter`` also the package that exports to it (tf2onnx, which loads TensorFlow: a
    process that only runs a model file asks without)."""
    name = {"onnxruntime": "onnxruntime", "openvino": "openvino"}[runtime]
    try:
        module = __import__(name)
        if exporter:
            __import__(FORMATS[runtime][1])
    except ImportError as err:
        raise RuntimeUnavailable(f"{runtime} is not installed ({INSTALL[runtime]}): {err}") from None
    return module


def export_key(spec: str, image_size: int, runtime: str, weights: str = "") -> str:
    """The cache key: what changes the exported file, the weights' digest included (an
    export of other weights must never stand in for this model's)."""
    fmt, exporter = FORMATS[runtime]
    text = json.dumps([spec, image_size, fmt, _version("keras"), exporter, _version(exporter), weights])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_export(model: Any, key: str, runtime: str, root: Path | None = None) -> tuple[Path, float, bool]:
    """The model file ``runtime`` loads, exported from ``model`` through the cache: (path,
    export seconds, rebuilt); resnet.engine.exports.cached."""
    return exports.cached_export(model, key, FORMATS[runtime][0], root)


def cached_int8(
    source: Path, key: str, runtime: str, calibration: np.ndarray, root: Path | None = None
) -> tuple[Path, float, bool]:
    """The int8 model of the exported float32 model ``source`` (resnet.engine.quantize),
    cached under its own key: the float model's, the tool's version and the calibration
    images' digest.  Returns (path, quantization seconds, rebuilt)."""
    digest = hashlib.sha256(np.ascontiguousarray(calibration).tobytes()).hexdigest()[:16]
    own = hashlib.sha256(json.dumps([key, "int8", quantize.tool_version(runtime), digest]).encode())
    name = "model-int8.onnx" if runtime == "onnxruntime" else "model-int8.xml"
    return exports.cached(
        own.hexdigest()[:16], name, lambda path: quantize.quantize(runtime, source, path, calibration), root
    )


def _cores(threads: int | None) -> int:
    """The cores a runtime may use: ``threads``, else every core this process may run on."""
    if threads:
        return threads
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def load(
    runtime: str, path: Path, precision: str, threads: int | None, device: str, config: str = "latency"
) -> tuple[Callable, Callable, dict]:
    """``(step, infer, info)``: ``step(x)`` runs the configuration's work on a NumPy batch (one
    synchronous request; for throughput, ``info["requests"]`` requests in flight at once);
    ``infer(x)`` gives the logits of one batch (for parity); info names the runtime, its
    version, where it runs and the requests a step holds, and holds ``many(xs)``: the
    batches ``xs`` run as the configuration runs them (one after another; or in flight at
    once, up to its requests), all awaited.  RuntimeUnavailable for a precision
    or a configuration it cannot do here."""
    if device != "cpu":
        raise RuntimeUnavailable(f"{runtime} cases run on the CPU here; {device} needs its GPU build")
    if runtime == "onnxruntime":
        return _onnxruntime(path, precision, threads, config)
    return _openvino(path, precision, threads, config)


def _onnxruntime(
    path: Path, precision: str, threads: int | None, config: str
) -> tuple[Callable, Callable, dict]:
    """ONNX Runtime: one session on every core (latency), or one single-thread session per
    core run at once from a thread each (throughput: its sessions release the GIL)."""
    ort = require("onnxruntime", exporter=False)
    if precision not in ("float32", "int8"):
        raise RuntimeUnavailable(
            "ONNX Runtime's CPU execution provider has no float16 or bfloat16 convolution kernels: "
            f"{precision} is not a precision it can run here"
        )
    cores = _cores(threads)
    if config == "throughput" and cores < 2:
        raise RuntimeUnavailable(
            "ONNX Runtime's throughput setup runs one single-thread session per core; with one core "
            "it is its latency setup"
        )
    sessions = []
    for _ in range(cores if config == "throughput" else 1):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1 if config == "throughput" else threads or 0
        sessions.append(ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]))
    feed = sessions[0].get_inputs()[0].name

    def infer(x: np.ndarray) -> np.ndarray:
        return sessions[0].run(None, {feed: x})[0]

    def many(xs: list[np.ndarray]) -> None:
        for x in xs:
            infer(x)

    step = infer
    if config == "throughput":
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(len(sessions), thread_name_prefix="ort-request")

        def many(xs: list[np.ndarray]) -> None:
            n = len(sessions)
            for done in [pool.submit(sessions[i % n].run, None, {feed: x}) for i, x in enumerate(xs)]:
                done.result()

        def step(x: np.ndarray) -> None:
            many([x] * len(sessions))

    return (
        step,
        infer,
        {
            "runtime_version": ort.__version__,
            "device_name": "CPU (onnxruntime CPUExecutionProvider)",
            "requests": len(sessions) if config == "throughput" else 1,
            "many": many,
        },
    )


def openvino_hint_took(asked: str, got: object) -> bool:
    """Whether a compiled model's PERFORMANCE_HINT (``got``, as OpenVINO prints it, e.g.
    ``PerformanceMode.THROUGHPUT``) is the one asked for."""
    return str(got).rsplit(".", 1)[-1].upper() == asked


def _openvino(
    path: Path, precision: str, threads: int | None, config: str
) -> tuple[Callable, Callable, dict]:
    """OpenVINO's CPU plugin under its LATENCY hint (one synchronous request) or its
    THROUGHPUT hint with the number of requests it recommends, driven asynchronously."""
    ov = require("openvino", exporter=False)
    core = ov.Core()
    hint = OPENVINO_PRECISION[precision]
    capabilities = core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    if not openvino_can_run(hint, list(capabilities)):
        raise RuntimeUnavailable(
            f"OpenVINO's CPU plugin cannot run {hint} here (the CPU offers {', '.join(capabilities)}): "
            f"{precision} is not a precision it can run on this CPU"
        )
    mode = config.upper()
    settings: dict[str, Any] = {"INFERENCE_PRECISION_HINT": hint, "PERFORMANCE_HINT": mode}
    if threads:
        settings["INFERENCE_NUM_THREADS"] = threads
    compiled = core.compile_model(str(path), "CPU", settings)
    got = str(compiled.get_property("INFERENCE_PRECISION_HINT"))  # e.g. <Type: 'bfloat16'>
    if {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[hint] not in got:
        raise RuntimeUnavailable(
            f"OpenVINO ran {got} when asked for {hint}: {precision} is not available here"
        )
    if precision == "int8":
        _check_int8(compiled)
    took = compiled.get_property("PERFORMANCE_HINT")
    if not openvino_hint_took(mode, took):
        raise RuntimeUnavailable(
            f"OpenVINO's CPU plugin here ran the {took} hint when asked for {mode}: its {config} "
            "configuration is not available in this version"
        )
    request = compiled.create_infer_request()
    output = compiled.output(0)

    def infer(x: np.ndarray) -> np.ndarray:
        return request.infer([x])[output]

    def many(xs: list[np.ndarray]) -> None:
        for x in xs:
            infer(x)

    requests, step = 1, infer
    if config == "throughput":
        requests = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        queue = ov.AsyncInferQueue(compiled, requests)

        def many(xs: list[np.ndarray]) -> None:
            for x in xs:
                queue.start_async([x])  # waits for a free request when all are busy
            queue.wait_all()

        def step(x: np.ndarray) -> None:
            many([x] * requests)

    info = {"runtime_version": ov.__version__, "device_name": f"CPU (OpenVINO {hint}, {mode} hint)"}
    return step, infer, {**info, "requests": requests, "many": many}


def _check_int8(compiled: Any) -> None:
    """RuntimeUnavailable unless OpenVINO runs the int8 model's convolutions in 8 bits (its
    runtime model names each layer's runtime precision: u8 or i8)."""
    kinds = set()
    for op in compiled.get_runtime_model().get_ops():
        info = op.get_rt_info()
        if "layerType" in info and str(info["layerType"].astype(str)) == "Convolution":
            kinds.add(str(info["runtimePrecision"].astype(str)))
    if not kinds or not kinds <= {"u8", "i8"}:
        raise RuntimeUnavailable(
            "OpenVINO ran the int8 model's convolutions in "
            f"{', '.join(sorted(kinds)) or 'no known precision'}, not in 8 bits: int8 is not available here"
        )


def parity(reference: np.ndarray, got: np.ndarray) -> tuple[float, float]:
    """(largest difference relative to the reference's largest magnitude, the share of
    images whose top-1 class agrees)."""
    reference = np.asarray(reference, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64).reshape(reference.shape)
    scale = float(np.max(np.abs(reference))) or 1.0
    err = float(np.max(np.abs(got - reference))) / scale
    top1 = float(np.mean(np.argmax(got, axis=-1) == np.argmax(reference, axis=-1)))
    return err, top1


# -- the worker's half -----------------------------------------------------------------
def _spec_text(version: str) -> str:
    """What identifies a model's architecture, for the export cache's key."""
    from resnet.specs import VERSIONS, get_spec

    return repr(get_spec(version)) if version in VERSIONS else version


def _available(case: Case, backend: str) -> None:
    """A CaseFailure ("skipped") when the case's runtime cannot run it here."""
    if case.mode != "inference":
        raise CaseFailure("skipped", f"{case.runtime} runs inference only")
    if backend != "tensorflow":
        raise CaseFailure(
            "skipped",
            f"exporting to {case.runtime} uses Keras's TensorFlow exporters: run --runtimes under "
            f"KERAS_BACKEND=tensorflow, not {backend}",
        )
    try:
        require(case.runtime)
    except RuntimeUnavailable as err:
        raise CaseFailure("skipped", str(err)) from None


def _model_file(case: Case, model: Any, size: dict[str, Any]) -> tuple[Path, np.ndarray | None]:
    """The file the case's runtime loads (float32 export; for int8 its quantized model, with
    the held-out images its parity is checked on), its costs recorded in ``size``."""
    if case.precision == "int8":  # before exporting: a CPU without int8 skips at once
        try:
            quantize.require_int8(case.runtime)
        except quantize.Int8Unavailable as err:
            raise CaseFailure("skipped", str(err)) from None
    key = export_key(_spec_text(case.version), case.image_size, case.runtime, weights_digest(model))
    path, size["export_s"], _ = cached_export(model, key, case.runtime)
    if case.precision != "int8":
        return path, None
    data = quantize.images(case.image_size)
    path, size["quantize_s"], _ = cached_int8(path, key, case.runtime, data[: quantize.CALIBRATION])
    size["quantized_by"] = quantize.tool_version(case.runtime)
    return path, data[quantize.CALIBRATION :]


def _check_parity(case: Case, reference: np.ndarray, got: np.ndarray, size: dict[str, Any]) -> None:
    """The row's parity figures; a CaseFailure ("error") beyond the precision's tolerance."""
    err, top1 = parity(reference, got)
    tolerance = TOLERANCE[case.precision]
    floor = TOP1_INT8 if case.precision == "int8" else 0.0
    if not (err <= tolerance and top1 >= floor):
        raise CaseFailure(
            "error",
            f"parity: {case.runtime} {case.precision} differs from Keras by {err:.2e} of the logits' "
            f"scale (tolerance {tolerance:g}; top-1 agreement {top1:.0%}"
            + (f", at least {floor:.0%} asked)" if floor else ")"),
        )
    size.update(parity_max_rel_err=err, parity_top1_agreement=top1, parity_tolerance=tolerance)


@step_source(lambda case: case.runtime != "keras")
def runtime_step(core: Any, case: Case, images: Any, labels: Any) -> tuple:
    """A deployment runtime's step: the Keras model's float32 twin exported (cached; for
    int8 quantized by the runtime's own tool, cached too), loaded by the runtime in the
    case's precision, and parity-checked against Keras's float32 logits (on the case's own
    batch; int8 on held-out generated images).  Returns ``(step, args, size, host)``; size
    carries the runtime's facts and ``load_s`` (loading and compiling in the runtime).  At
    the case's end its memory is measured again in a process holding only the runtime."""
    import keras

    _available(case, core.backend.name)
    # The same weights in every worker, so one export serves every case of the model;
    # the key holds their digest, so an export of other weights is never reused.
    keras.utils.set_random_seed(EXPORT_SEED)
    model, size = core.built(case.replace(precision="float32", runtime="keras"))
    path, held_out = _model_file(case, model, size)
    t0 = time.perf_counter()
    try:
        step, infer, info = load(case.runtime, path, case.precision, case.threads, case.device,
                                 case.runtime_config)  # fmt: skip
    except RuntimeUnavailable as err:
        raise CaseFailure("skipped", str(err)) from None
    load_s = time.perf_counter() - t0
    checked = images if held_out is None else held_out
    _check_parity(case, np.asarray(model(checked, training=False)), infer(checked), size)
    size.update(
        runtime_version=info["runtime_version"],
        exported_from="float32 twin" if case.precision != "float32" else "the model itself",
        parity_on="the case's batch" if held_out is None else f"{len(held_out)} held-out generated images",
        load_s=load_s,
        requests=info["requests"],
    )
    core.state["own_memory"] = (case, lambda: runtime_memory(case, path))
    core.state["runtime_many"] = info["many"]
    return step, (images,), size, info["device_name"]


def serve(core: Any, case: Case, library: np.ndarray, sizes: tuple[int, ...]) -> tuple[Callable, dict]:
    """The case's runtime serving samples of ``library`` (LoadGen's SUT): ``run(indices)``
    runs those samples as the case's configuration does, split over its requests (one part
    for latency), each part padded up to the next batch size it may take: one of ``sizes``
    or a request's share of one (every such size run once here, timed as compile_s with the
    runtime's load).  Returns ``(run, setup figures)``."""
    _, _, size, placed = runtime_step(core, case, library[: case.batch_size], None)
    many, requests = core.state["runtime_many"], size.pop("requests", 1)
    sizes = tuple(sorted({*sizes, *(-(-b // requests) for b in sizes)}))

    def run(indices: list[int]) -> None:
        share = -(-len(indices) // requests)  # each request's part, rounded up
        parts = [indices[i : i + share] for i in range(0, len(indices), share)]
        many([library[p + [p[-1]] * (next(b for b in sizes if b >= len(p)) - len(p))] for p in parts])

    t0 = time.perf_counter()
    for batch in sizes:
        run(list(range(batch)))
    compile_s = time.perf_counter() - t0 + size.pop("load_s", 0.0)
    return run, {"compile_s": compile_s, "device_name": placed, "batch_sizes": list(sizes),
                 "requests": requests, **size}  # fmt: skip


def runtime_memory(case: Case, path: Path, timeout: float = 600.0) -> dict[str, Any]:
    """The peak memory of a process holding only the runtime, the case's compiled model and
    its inputs (resnet.engine.kinds.runtime_host), after as many steps as warm-up takes."""
    import subprocess
    import sys

    spec = {"runtime": case.runtime, "path": str(path), "precision": case.precision, "threads": case.threads,
            "config": case.runtime_config, "batch": case.global_batch, "size": case.image_size}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "resnet.engine.kinds.runtime_host", json.dumps(spec)],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CaseFailure("error", f"the runtime's own memory could not be measured: {tail}")
    return json.loads(lines[-1])

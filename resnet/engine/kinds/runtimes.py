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
import shutil
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from resnet.engine.errors import CaseFailure
from resnet.engine.worker.core import step_source
from resnet.errors import Unavailable
from resnet.schema import Case

#: The seed of the models exported to deployment runtimes: every worker builds the same weights.
EXPORT_SEED = 1234
INSTALL = {"onnxruntime": "pip install onnxruntime tf2onnx", "openvino": "pip install openvino"}
#: The file format each runtime loads, and the package that writes it from Keras.
FORMATS = {"onnxruntime": ("onnx", "tf2onnx"), "openvino": ("openvino", "openvino")}
#: OpenVINO's inference precision per Keras precision.
OPENVINO_PRECISION = {"float32": "f32", "mixed_bfloat16": "bf16", "mixed_float16": "f16"}
#: Parity tolerance: the largest difference from Keras's float32 logits, relative to their
#: largest magnitude.  float32 must agree to float rounding; bf16 and f16 carry 8 and 11
#: mantissa bits through 50 layers (OpenVINO's bf16 measured 5e-3 on an AMD EPYC).
TOLERANCE = {"float32": 1e-4, "mixed_bfloat16": 5e-2, "mixed_float16": 2e-2}


class RuntimeUnavailable(Unavailable):
    """The runtime cannot run this case here (not installed, or not this precision on this
    device); the case is skipped with this reason."""


#: The name OpenVINO's CPU plugin gives each inference precision among its
#: OPTIMIZATION_CAPABILITIES (it lists "BF16" and "FP16", never the hints' own spelling).
OPENVINO_CAPABILITY = {"bf16": "BF16", "f16": "FP16"}


class CacheUnwritable(OSError):
    """The export cache cannot be written; the message names it and how to move it."""


class CacheForeign(CacheUnwritable):
    """An export-cache entry holds what the tool did not write: left as it is, never replaced."""


def cache_root() -> Path:
    """Where exports are kept: the tool's cache (resnet.data.cache_root) ``/exports``."""
    from resnet.data import cache_root as root

    return root() / "exports"


def openvino_can_run(hint: str, capabilities: list[str] | tuple[str, ...]) -> bool:
    """Whether OpenVINO's CPU plugin, offering ``capabilities``, runs the precision ``hint``
    (f32 always; bf16 and f16 where the CPU lists BF16 or FP16)."""
    return hint == "f32" or OPENVINO_CAPABILITY.get(hint) in capabilities


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def require(runtime: str) -> Any:
    """The runtime's module, or RuntimeUnavailable naming the install command."""
    name = {"onnxruntime": "onnxruntime", "openvino": "openvino"}[runtime]
    exporter = FORMATS[runtime][1]
    try:
        module = __import__(name)
        __import__(exporter)
    except ImportError as err:
        raise RuntimeUnavailable(f"{runtime} is not installed ({INSTALL[runtime]}): {err}") from None
    return module


def export_key(spec: str, image_size: int, runtime: str, weights: str = "") -> str:
    """The cache key: what changes the exported file, the weights' digest included (an
    export of other weights must never stand in for this model's)."""
    fmt, exporter = FORMATS[runtime]
    text = json.dumps([spec, image_size, fmt, _version("keras"), exporter, _version(exporter), weights])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def weights_digest(model: Any) -> str:
    """SHA-256 of every weight of ``model`` (names, shapes and values), in order."""
    h = hashlib.sha256()
    for w in model.weights:
        value = np.ascontiguousarray(np.asarray(w))
        h.update(f"{w.path}:{value.dtype}:{value.shape};".encode())
        h.update(value.tobytes())
    return h.hexdigest()[:16]


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != "manifest.json"
    }


def _ours(folder: Path, key: str) -> dict[str, str] | None:
    """An entry's files as its manifest lists them, where the tool wrote it (a folder whose
    manifest names ``key`` and holds nothing but files the manifest lists); None otherwise."""
    if folder.is_symlink() or not folder.is_dir():
        return None
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        files = manifest["files"]
    except (ValueError, KeyError, TypeError, OSError):
        return None
    if manifest.get("key") != key or not isinstance(files, dict):
        return None
    present = [p for p in folder.iterdir() if p.name != "manifest.json"]
    if any(p.is_symlink() or not p.is_file() for p in present):
        return None  # a folder or a link inside: not something the tool writes
    return files if {p.name for p in present} <= set(files) else None


def _foreign(folder: Path) -> str:
    return (
        f"the export cache entry {folder} holds what resnet-bench did not write (no manifest of its "
        "own, a file it does not list, or not a folder); move it away or set RESNET_BENCH_CACHE "
        "to another folder"
    )


def cached_export(model: Any, key: str, runtime: str, root: Path | None = None) -> tuple[Path, float, bool]:
    """The exported model file for ``key``: from the cache when its manifest matches the
    files, else exported anew (atomically), replacing an entry of the tool's own whose files
    changed since; an entry holding anything else is CacheForeign, left untouched.
    Returns (path, export seconds, rebuilt)."""
    fmt = FORMATS[runtime][0]
    name = "model.onnx" if fmt == "onnx" else "model.xml"
    base = root or cache_root()
    folder = base / key
    listed = _ours(folder, key)
    if listed is not None and listed == _digest(folder) and (folder / name).exists():
        return folder / name, 0.0, False
    if listed is None and (folder.exists() or folder.is_symlink()):
        raise CacheForeign(_foreign(folder))
    try:
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=base))
    except OSError as err:
        raise CacheUnwritable(
            f"the export cache {base} cannot be written ({err.strerror or err}); set RESNET_BENCH_CACHE "
            "to a writable folder"
        ) from None
    t0 = time.perf_counter()
    try:
        # Keras's exporters read the input signature off a model that has been called.
        model(np.zeros((1, *model.input_shape[1:]), "float32"), training=False)
        model.export(str(tmp / name), format=fmt, verbose=False)
        (tmp / "manifest.json").write_text(json.dumps({"key": key, "format": fmt, "files": _digest(tmp)}))
        seconds = time.perf_counter() - t0
        if folder.exists() or folder.is_symlink():  # ours with a file changed since: replaced
            if _ours(folder, key) is None:  # checked again: something was put there meanwhile
                raise CacheForeign(_foreign(folder))
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder / name, seconds, True


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
    version, where it runs and the requests a step holds.  RuntimeUnavailable for a precision
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
    ort = require("onnxruntime")
    if precision != "float32":
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

    step = infer
    if config == "throughput":
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(len(sessions), thread_name_prefix="ort-request")

        def step(x: np.ndarray) -> None:
            for done in [pool.submit(s.run, None, {feed: x}) for s in sessions]:
                done.result()

    return (
        step,
        infer,
        {
            "runtime_version": ort.__version__,
            "device_name": "CPU (onnxruntime CPUExecutionProvider)",
            "requests": len(sessions) if config == "throughput" else 1,
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
    ov = require("openvino")
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

    requests, step = 1, infer
    if config == "throughput":
        requests = int(compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        queue = ov.AsyncInferQueue(compiled, requests)

        def step(x: np.ndarray) -> None:
            for _ in range(requests):
                queue.start_async([x])
            queue.wait_all()

    info = {"runtime_version": ov.__version__, "device_name": f"CPU (OpenVINO {hint}, {mode} hint)"}
    return step, infer, {**info, "requests": requests}


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


@step_source(lambda case: case.runtime != "keras")
def runtime_step(core: Any, case: Case, images: Any, labels: Any) -> tuple:
    """A deployment runtime's step: the Keras model's float32 twin exported (cached),
    loaded by the runtime in the case's precision, and parity-checked against Keras on
    the case's own batch.  Returns ``(step, args, size, host)``; size carries the
    runtime's facts and ``load_s`` (loading and compiling in the runtime)."""
    import keras

    _available(case, core.backend.name)
    # The same weights in every worker, so one export serves every case of the model;
    # the key holds their digest, so an export of other weights is never reused.
    keras.utils.set_random_seed(EXPORT_SEED)
    model, size = core.built(case.replace(precision="float32", runtime="keras"))
    key = export_key(_spec_text(case.version), case.image_size, case.runtime, weights_digest(model))
    path, export_s, _ = cached_export(model, key, case.runtime)
    t0 = time.perf_counter()
    try:
        step, infer, info = load(case.runtime, path, case.precision, case.threads, case.device,
                                 case.runtime_config)  # fmt: skip
    except RuntimeUnavailable as err:
        raise CaseFailure("skipped", str(err)) from None
    load_s = time.perf_counter() - t0
    err, top1 = parity(np.asarray(model(images, training=False)), infer(images))
    tolerance = TOLERANCE[case.precision]
    if not err <= tolerance:
        raise CaseFailure(
            "error",
            f"parity: {case.runtime} {case.precision} differs from Keras by {err:.2e} of the logits' "
            f"scale (tolerance {tolerance:g}; top-1 agreement {top1:.0%})",
        )
    size.update(
        runtime_version=info["runtime_version"],
        export_s=export_s,
        exported_from="float32 twin" if case.precision != "float32" else "the model itself",
        parity_max_rel_err=err,
        parity_top1_agreement=top1,
        parity_tolerance=tolerance,
        load_s=load_s,
        requests=info["requests"],
    )
    return step, (images,), size, info["device_name"]

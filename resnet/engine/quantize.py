"""int8 models for the deployment runtimes: post-training quantization through each
vendor's own tool, calibrated on the generated image set.

OpenVINO's models go through NNCF (``nncf.quantize``: 8-bit weights per channel, 8-bit
activations from the calibration statistics); ONNX Runtime's through its own
``onnxruntime.quantization.quantize_static`` (QDQ format, weights int8 per channel,
activations uint8).  The classifier's softmax stays in float in both (its probabilities
near 1/1000 would round to zero in 8 bits).  Calibration and parity use different images
of the generated set (``resnet.data``): photograph-like JPEGs, centre-cropped to the
case's size and normalised with ImageNet's mean and spread, the inputs such a model sees.

int8 needs dot-product instructions for 8-bit integers (AVX-512 VNNI, AVX-VNNI or AMX-INT8);
on a CPU without them a runtime falls back to slow paths, and the case is skipped with the
reason rather than timed.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from resnet.errors import Unavailable

#: The CPU flags (/proc/cpuinfo) that give int8 dot products: any one is enough.
INT8_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "avx_vnni_int8")
#: The generated set calibration and parity draw on: the first CALIBRATION images calibrate,
#: the rest (PARITY_IMAGES) are held out for the parity check.
DATA_IMAGES, DATA_SEED, CALIBRATION = 64, 8, 32
#: The tool that quantizes each runtime's model, and its install command.
QUANTIZER = {"openvino": "nncf", "onnxruntime": "onnxruntime"}
INSTALL = {"openvino": "pip install nncf", "onnxruntime": "pip install onnxruntime"}
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


class Int8Unavailable(Unavailable):
    """int8 cannot run here (no int8 dot products, or no quantization tool); the reason."""


def int8_capable(flags: list[str] | tuple[str, ...]) -> bool:
    """Whether a CPU with ``flags`` has int8 dot-product instructions."""
    return any(flag in flags for flag in INT8_FLAGS)


def require_int8(runtime: str, flags: list[str] | tuple[str, ...] | None = None) -> Any:
    """The quantization tool's module for ``runtime``, or Int8Unavailable: no int8 dot
    products on this CPU (``flags``, read from /proc/cpuinfo when not given), or the tool
    not installed (its install command)."""
    if flags is None:
        from resnet.engine.machine import cpu_flags

        flags = cpu_flags()
    if not int8_capable(flags):
        raise Int8Unavailable(
            "int8 needs int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI or AMX-INT8); this CPU "
            "lists none of " + ", ".join(INT8_FLAGS)
        )
    return _tool(runtime)


def _tool(runtime: str) -> Any:
    """The quantization tool's module for ``runtime``, or Int8Unavailable naming its install."""
    name = QUANTIZER[runtime]
    try:
        return __import__("onnxruntime.quantization" if name == "onnxruntime" else name, fromlist=["_"])
    except ImportError as err:
        raise Int8Unavailable(f"{name} is not installed ({INSTALL[runtime]}): {err}") from None


def tool_version(runtime: str) -> str:
    """The quantization tool and its version, for the cache key and the row."""
    name = QUANTIZER[runtime]
    try:
        return f"{name} {metadata.version(name)}"
    except metadata.PackageNotFoundError:
        return name


def images(size: int, folder: Path | None = None) -> np.ndarray:
    """The generated set's images (DATA_IMAGES of them, made in the cache when missing),
    centre-cropped and resized to ``size``, normalised: ``(n, size, size, 3)`` float32."""
    from PIL import Image

    from resnet.data import ensure_dataset, files

    if folder is None:
        folder, _ = ensure_dataset(DATA_IMAGES, seed=DATA_SEED)
    out = []
    for path, _ in files(folder)[:DATA_IMAGES]:
        with Image.open(path) as image:
            image = image.convert("RGB")
            w, h = image.size
            side = min(w, h)
            box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
            pixels = np.asarray(image.crop(box).resize((size, size), Image.BILINEAR), np.float32)
        out.append((pixels / 255.0 - MEAN) / STD)
    return np.stack(out).astype(np.float32)


def quantize(runtime: str, source: Path, target: Path, calibration: np.ndarray) -> None:
    """Write the int8 model of the float32 model file ``source`` to ``target`` (an IR's
    ``.xml`` with its ``.bin``, or an ``.onnx``), calibrated on ``calibration``."""
    tool = _tool(runtime)  # the CPU was checked by the caller (require_int8)
    if runtime == "openvino":
        import openvino as ov

        model = ov.Core().read_model(str(source))
        softmax = [op.get_friendly_name() for op in model.get_ops() if op.get_type_name() == "Softmax"]
        quantized = tool.quantize(
            model,
            tool.Dataset([calibration[i : i + 1] for i in range(len(calibration))]),
            subset_size=len(calibration),
            ignored_scope=tool.IgnoredScope(names=softmax, validate=False),
        )
        ov.save_model(quantized, str(target))
        return
    import onnx

    graph = onnx.load(str(source), load_external_data=False).graph
    feed = graph.input[0].name
    softmax = [node.name for node in graph.node if node.op_type == "Softmax"]

    class Reader(tool.CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{feed: calibration[i : i + 1]} for i in range(len(calibration))])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    tool.quantize_static(
        str(source), str(target), Reader(), quant_format=tool.QuantFormat.QDQ, per_channel=True,
        activation_type=tool.QuantType.QUInt8, weight_type=tool.QuantType.QInt8, nodes_to_exclude=softmax,
    )  # fmt: skip

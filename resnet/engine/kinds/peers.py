"""Peer models: what a user would otherwise pick, run through the same engine so
that a ratio against them is measured side by side. Not ours, and labelled so.

``torchvision-resnet50`` is torchvision's ResNet-50 (the v1.5 layout), in plain
PyTorch with channels-last tensors and autocast for mixed precision, eager or
(``--jit on``) under ``torch.compile``. It runs under ``KERAS_BACKEND=torch``.
Only the worker process imports torch and torchvision.  The peer's worker half is a
step source of the model core (resnet.engine.worker.core): its step stands in for a
Keras model's; its parent half is the plain case's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from resnet.engine.errors import CaseFailure
from resnet.engine.worker.core import step_source
from resnet.errors import Unavailable
from resnet.schema import PEERS, Case, device_index, is_gpu

#: Autocast dtype per precision (None: plain float32).
_AUTOCAST = {"float32": None, "mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


class PeerUnavailable(Unavailable):
    """The peer cannot run here (wrong backend, library missing); the case is skipped."""


def _macs_per_image(torch: Any, model: Any, x: Any) -> float:
    """Multiply-accumulates of one image through the convolutions and linear layers."""
    total = [0.0]

    def conv(mod: Any, inp: Any, out: Any) -> None:
        k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
        total[0] += out[0].numel() * k

    def linear(mod: Any, inp: Any, out: Any) -> None:
        total[0] += mod.in_features * mod.out_features

    hooks = []
    for mod in model.modules():
        if isinstance(mod, torch.nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv))
        elif isinstance(mod, torch.nn.Linear):
            hooks.append(mod.register_forward_hook(linear))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(x[:1])
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total[0]


def build_peer(case: Case, images: np.ndarray, labels: np.ndarray) -> tuple[Callable, tuple, dict[str, Any]]:
    """``(step, args, size)`` for a peer case: the compiled-or-eager step, its inputs on
    the case's device, and the model's size (parameters, MACs, build time)."""
    import keras

    if case.version != "torchvision-resnet50":
        raise ValueError(f"unknown peer {case.version!r}; known: {', '.join(PEERS)}")
    if keras.backend.backend() != "torch":
        raise PeerUnavailable(
            f"{case.version} is PyTorch code: it runs under KERAS_BACKEND=torch, "
            f"not {keras.backend.backend()}"
        )
    try:
        import torchvision
    except Exception as err:  # not installed, or built for another torch (its C++ ops fail)
        text = " ".join(str(err).split())[:200]
        raise PeerUnavailable(
            f"{case.version} needs torchvision built for this torch ({type(err).__name__}: {text})"
        ) from None
    return torch_case(torchvision.models.resnet50, case, images, labels)


def torch_case(
    factory: Callable[[], Any], case: Case, images: np.ndarray, labels: np.ndarray
) -> tuple[Callable, tuple, dict[str, Any]]:
    """A plain PyTorch model from ``factory`` as a case: channels-last inputs on the
    case's device, autocast for mixed precision, SGD with momentum for training,
    ``torch.compile`` when the case asks for jit."""
    import torch

    device = f"cuda:{device_index(case.device)}" if is_gpu(case.device) else "cpu"
    kind = "cpu" if device == "cpu" else "cuda"
    amp = _AUTOCAST[case.precision]
    amp_dtype = getattr(torch, amp) if amp else None
    fmt = torch.channels_last

    t0 = time.perf_counter()
    model = factory().to(device, memory_format=fmt)
    build_s = time.perf_counter() - t0
    x = torch.as_tensor(images).permute(0, 3, 1, 2).to(device).contiguous(memory_format=fmt)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    # BatchNorm's running mean and variance, as Keras counts its moving statistics.
    stats = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    size = {
        "build_s": build_s,
        "params_total": trainable + frozen + stats,
        "params_trainable": trainable,
        "params_non_trainable": frozen + stats,
        "gmacs_per_image": _macs_per_image(torch, model, x) / 1e9,
    }
    net = torch.compile(model) if case.jit else model

    def autocast() -> Any:
        return torch.autocast(kind, dtype=amp_dtype, enabled=amp_dtype is not None)

    if case.mode == "inference":
        model.eval()

        def infer(x: Any) -> Any:
            with torch.inference_mode(), autocast():
                return net(x)

        return infer, (x,), size

    y = torch.as_tensor(labels, dtype=torch.long, device=device)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler(kind, enabled=amp == "float16")
    loss_fn = torch.nn.CrossEntropyLoss()

    def train(x: Any, y: Any) -> Any:
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = loss_fn(net(x), y)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss.detach()

    return train, (x, y), size


# -- the worker's half -----------------------------------------------------------------
@step_source(lambda case: case.version in PEERS, jit=False)
def peer_step(core: Any, case: Case, images: Any, labels: Any) -> tuple:
    """A peer model's ``(step, args, size, host)`` for the model core."""
    if case.replicas > 1:
        raise CaseFailure("skipped", f"{case.version} is a single-device peer: --replicas does not apply")
    try:
        step, args, size = build_peer(case, images, labels)
    except PeerUnavailable as err:
        raise CaseFailure("skipped", str(err)) from None
    return step, args, size, None


def peer_size(core: Any, case: Case) -> dict[str, Any]:
    """A peer's size and build time, for build cases."""
    s = case.image_size
    return peer_step(core, case, np.zeros((1, s, s, 3), "float32"), np.zeros(1, "int32"))[2]

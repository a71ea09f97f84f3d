"""The peer row (torchvision-resnet50): a plain PyTorch model through the same engine."""

from __future__ import annotations

import numpy as np
import pytest

from resnet.engine.errors import UsageError
from resnet.engine.options import parse_options
from resnet.engine.worker.client import CaseFailure, WorkerClient
from resnet.schema import Case
from tests.sweeps import resolve_flat as resolve_axes


def _tiny():
    import torch

    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 10),
    )


def _case(mode, precision="float32", jit=False):
    return Case("torchvision-resnet50", mode, 4, precision, "cpu", jit, 16, None, "torch")


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((4, 16, 16, 3), dtype=np.float32), rng.integers(0, 10, 4).astype("int32")


def test_torch_case_inference_size_and_macs():
    pytest.importorskip("torch")
    from resnet.engine.kinds.peers import torch_case

    step, args, size = torch_case(_tiny, _case("inference"), *_data())
    out = step(*args)
    assert tuple(out.shape) == (4, 10)
    assert args[0].is_contiguous(memory_format=__import__("torch").channels_last)
    # conv 3x3x3 -> 8 (216) + BN gamma/beta (16) + dense 8x10+10 (90); BN running stats (16).
    assert size["params_trainable"] == 322
    assert size["params_non_trainable"] == 16
    assert size["params_total"] == 338
    # MACs of one 16x16 image: 16*16*8 outputs x 27, plus 80 in the linear layer.
    assert size["gmacs_per_image"] == pytest.approx((16 * 16 * 8 * 27 + 80) / 1e9)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_torch_case_training_learns(precision):
    pytest.importorskip("torch")
    from resnet.engine.kinds.peers import torch_case

    step, args, _ = torch_case(_tiny, _case("training", precision), *_data())
    losses = [float(step(*args)) for _ in range(30)]
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0]  # forward, loss, backward and SGD update all happen


def test_peer_under_another_backend_is_skipped():
    case = Case("torchvision-resnet50", "inference", 2, "float32", "cpu", False, 32, None, "tensorflow")
    with WorkerClient(timeout=120) as w:
        with pytest.raises(CaseFailure) as info:
            w.call("setup", case=case.to_dict())
    assert info.value.status == "skipped" and "runs under KERAS_BACKEND=torch" in info.value.reason


def test_torchvision_peer_on_torch_backend():
    """Runs where torchvision works with the installed torch; elsewhere a skipped case
    whose reason names torchvision (the CPU machine's PyPI torchvision is a CUDA build)."""
    pytest.importorskip("torch")
    case = Case("torchvision-resnet50", "inference", 2, "float32", "cpu", False, 64, None, "torch")
    with WorkerClient(timeout=240, env={"KERAS_BACKEND": "torch"}) as w:
        try:
            setup = w.call("setup", case=case)
        except CaseFailure as err:
            assert err.status == "skipped" and "needs torchvision" in err.reason
            pytest.skip(f"the peer cannot run here, and says why: {err.reason}")
        assert setup["params_trainable"] == 25_557_032  # torchvision's published count
        assert setup["device_name"] == "cpu"
        w.call("warm")
        w.call("step")
        w.call("finish")


def test_torch_compile_case_id():
    case = Case("torchvision-resnet50", "training", 256, "mixed_bfloat16", "gpu:0", True, 224, None, "torch")
    assert case.id == "torchvision-resnet50-training-bs256-mixed_bfloat16-gpu:0-compiled"


def test_peer_version_is_an_accepted_value():
    a = resolve_axes(
        parse_options({"profile": "smoke", "versions": "v1.5,torchvision-resnet50", "devices": "cpu"}),
        "torch",
    )
    assert a.versions == ("v1.5", "torchvision-resnet50")
    with pytest.raises(UsageError, match="torchvision-resnet50"):
        parse_options({"versions": "timm-resnet50"})

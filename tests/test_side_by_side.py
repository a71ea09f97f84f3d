"""Comparisons measured side by side (#37): deployment runtimes in a paired group beside
Keras, the peer across two processes, and how the report, the machines page, the exports
and the dashboard show their ratios."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from resnet.engine.errors import CaseFailure
from tests.sweeps import resolve_flat, run_bench


class _RuntimeWorker:
    """A worker whose Keras models step in 0.1 s, OpenVINO's in 0.08 s and ONNX Runtime's in
    0.09 s (seeded noise of 2%); ONNX Runtime cannot set up a bfloat16 model."""

    def __init__(self, **_):
        self.info, self.rng = {}, np.random.default_rng(4)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def call(self, cmd, slot=None, case=None, **_):
        if cmd == "setup" and case.runtime == "onnxruntime" and case.precision != "float32":
            raise CaseFailure("skipped", "ONNX Runtime's CPU execution provider has no bfloat16 kernels")
        if cmd != "step":
            return {}
        base = 0.08 if slot.endswith("/openvino") else 0.09 if slot.endswith("/onnxruntime") else 0.1
        return {"seconds": base * float(np.exp(self.rng.normal(0, 0.02)))}


def _run(**settings):
    from resnet.engine.plan import Axes, RunPlan, Settings

    axes = Axes(("v1",), ("inference",), (8,), ("float32",), ("cpu",), (False,), 224, (None,))
    plan = RunPlan(axes, Settings(rounds=3, warmup_rounds=1, seed=3, **settings))
    return SimpleNamespace(plan=plan, case_timeout=60, remember_info=lambda info: None)


class _Bench:
    def pedantic(self, fn, rounds, iterations=1):
        for _ in range(rounds):
            fn()


def test_a_paired_group_holds_the_runtimes_beside_keras(monkeypatch):
    from resnet.engine.kinds import base
    from resnet.engine.kinds.paired import PairedGroup, groups, measure_paired

    plan = resolve_flat({"runtimes": ("keras", "onnxruntime", "openvino"), "paired": (("inference", 8),),
                         "batch_sizes": (8,), "versions": ("v1", "v1.5")}).plan  # fmt: skip
    (inference, *_) = groups(plan)
    assert inference.runtimes == ("onnxruntime", "openvino")
    assert all(g.runtimes == () for g in groups(plan) if g.mode == "training")
    monkeypatch.setattr(base, "WorkerClient", _RuntimeWorker)
    group = PairedGroup("inference", 8, "cpu", False, 224, None, "tensorflow", ("v1", "v1.5"),
                        ("float32", "mixed_bfloat16"), ("onnxruntime", "openvino"))  # fmt: skip
    rows = {
        r["case_id"].removeprefix(group.id + "-"): r
        for r in measure_paired(_run(paired_rounds=12), group, _Bench())
    }
    openvino = rows["v1.5-float32-openvino/keras"]
    assert (
        openvino["status"] == "ok"
        and openvino["comparison"] == "runtime"
        and openvino["runtime"] == "openvino"
    )
    assert openvino["ratio_ci_low"] < 1.25 < openvino["ratio_ci_high"] and openvino["pairs"] == 12
    assert rows["v1-mixed_bfloat16-openvino/keras"]["status"] == "ok"
    onnx = rows["v1.5-mixed_bfloat16-onnxruntime/keras"]
    assert onnx["status"] == "skipped" and "bfloat16" in onnx["reason"]
    assert rows["v1.5-float32-onnxruntime/keras"]["ratio"] == pytest.approx(1 / 0.9, rel=0.03)
    assert rows["float32-v1.5/v1"]["status"] == "ok"  # the Keras comparisons as before
    assert len(rows) == 2 + 2 + 2 * 2 * 2


class _PeerWorker(_RuntimeWorker):
    """Ours steps in 0.1 s; the peer eager in 0.12 s; compiled cannot start (no compiler)."""

    def __init__(self, env=None, **_):
        super().__init__()
        self.torch = (env or {}).get("KERAS_BACKEND") == "torch"

    def call(self, cmd, slot=None, case=None, **_):
        if cmd == "setup" and case is not None and case.jit and self.torch:
            raise CaseFailure("error", "torch.compile: no C++ compiler found")
        if cmd != "step":
            return {}
        return {"seconds": (0.12 if self.torch else 0.1) * float(np.exp(self.rng.normal(0, 0.02)))}


def test_the_peer_is_paired_across_two_workers_and_a_setting_that_cannot_run_says_so(monkeypatch):
    from resnet.engine.kinds import crossed

    plan = resolve_flat({"versions": ("v1.5", "torchvision-resnet50"), "paired": (("inference", 8),),
                         "batch_sizes": (8,), "precisions": ("float32",),
                         "modes": ("inference",)}).plan  # fmt: skip
    (group,) = crossed.groups(plan)
    assert group.ours.version == "v1.5" and group.peer_case(True).backend == "torch"
    assert group.row_ids() == [
        "cross-inference-bs8-float32-cpu-torchvision-resnet50/v1.5",
        "cross-inference-bs8-float32-cpu-torchvision-resnet50-compiled/v1.5",
    ]
    monkeypatch.setattr(crossed, "WorkerClient", _PeerWorker)
    eager, compiled = crossed.measure_cross(_run(paired_rounds=10), group, _Bench())
    assert eager["status"] == "ok" and eager["comparison"] == "peer" and eager["pairs"] == 10
    assert eager["ratio"] == pytest.approx(0.1 / 0.12, rel=0.03) and eager["differs"]
    assert compiled["status"] == "error" and "no C++ compiler" in compiled["reason"]
    assert crossed.groups(resolve_flat({"versions": ("v1.5",), "paired": (("inference", 8),),
                                        "batch_sizes": (8,)}).plan) == []  # fmt: skip


def _ratio_row(kind, comparison, numerator, denominator, ratio, **axes):
    from resnet.schema import FIELDS

    row = dict.fromkeys(FIELDS)
    row |= {"machine": "m", "run": "r", "kind": kind, "status": "ok", "comparison": comparison,
           "numerator": numerator, "denominator": denominator, "ratio": ratio, "ratio_ci_low": ratio * 0.98,
           "ratio_ci_high": ratio * 1.02, "differs": True, "pairs": 20, "rounds": 20, "mode": "inference",
           "batch_size": 8, "precision": "float32", "device": "cpu", "version": "v1.5",
           "backend": "tensorflow",
           "jit": False, "image_size": 224, "threads": None, "replicas": 1, "runtime": "keras",
           "case_id": f"{kind}-{numerator}/{denominator}"}  # fmt: skip
    row.update(axes)
    return row


def test_the_report_table_shows_runtimes_peers_and_stacks_side_by_side():
    from resnet.analysis.tables import paired_steps, side_by_side_table

    df = pd.DataFrame([
        _ratio_row("paired", "runtime", "openvino", "keras", 1.3, runtime="openvino",
                   samples_s=[[0.1], [0.13]]),
        _ratio_row("paired", "peer", "torchvision-resnet50", "v1.5", 0.9),
        _ratio_row("ab", "ab", "B", "A", 1.0, differs=False),
    ])  # fmt: skip
    table = side_by_side_table(df)
    cells = table.reset_index()
    assert set(cells["ratio_of"]) == {"openvino/keras", "torchvision-resnet50/v1.5", "B/A"}
    assert "comparison" in table.index.names
    assert cells.set_index("ratio_of").loc["B/A", "bs 8"].startswith("no difference (1.000")
    assert paired_steps(df) == {}  # a runtime's or a peer's steps are not a Keras model's figure


def test_exports_and_the_machines_page_carry_the_ratios(tmp_path):
    from resnet.analysis.export import bmf
    from resnet.analysis.procurement import runtimes_over_keras
    from resnet.analysis.tables import side_by_side_rows

    df = pd.DataFrame([_ratio_row("paired", "runtime", "openvino", "keras", 1.3, runtime="openvino"),
                       _ratio_row("ab", "ab", "B", "A", 0.97, images_per_sec=40.0)])  # fmt: skip
    out = bmf(df)
    assert out["paired-openvino/keras"]["ratio"]["value"] == pytest.approx(1.3)
    assert out["ab-B/A"]["ratio"]["lower_value"] == pytest.approx(0.97 * 0.98)
    text = runtimes_over_keras(side_by_side_rows(df), "m", "v1.5", "float32")
    assert text.startswith("openvino/keras bs8: 1.300 [1.274, 1.326]")


def test_the_dashboard_draws_ratios_as_series_of_their_own():
    from resnet.analysis.explorer import explorer_data

    case = {"machine": "m", "run": "r", "kind": "case", "status": "ok", "case_id": "v1.5-inference-bs8",
            "backend": "tensorflow", "mode": "inference", "batch_size": 8, "precision": "float32",
            "device": "cpu", "version": "v1.5", "images_per_sec": 20.0, "datetime": "2026-12-06T08:00:00",
            "commit": "abc", "rounds": 5, "ratio": None}  # fmt: skip
    ratio = {**_ratio_row("ab", "ab", "B", "A", 0.97), "datetime": case["datetime"], "commit": "abc"}
    data = explorer_data(pd.DataFrame([case, ratio]), pd.DataFrame(), pd.DataFrame(), None)
    names = {m["name"] for m in data["metrics"]}
    assert {"images_per_sec", "ratio"} <= names
    (series,) = [s for s in data["series"] if s["case"] == "ab-B/A"]
    assert series["group"].startswith("ab ratios") and series["values"]["ratio"] == [0.97]
    assert series["low"]["ratio"] == [pytest.approx(0.97 * 0.98)]


@pytest.mark.slow
def test_a_real_paired_group_steps_openvino_beside_keras(tmp_path):
    pytest.importorskip("openvino")
    out = run_bench("bench/test_paired.py", "--bench-profile", "smoke", "--versions", "v1.5",
                    "--modes", "inference",
                    "--runtimes", "keras,openvino", "--paired", "inference:2", "--paired-rounds", "8",
                    f"--benchmark-json={tmp_path / 'p.json'}", timeout=900)  # fmt: skip
    rows = json.loads((tmp_path / "p.json").read_text())["resnet_bench"]["cases"]
    (row,) = [r for r in rows if r.get("comparison") == "runtime"]
    assert row["status"] == "ok", (row, out.stdout[-2000:])
    assert row["case_id"].endswith("v1.5-float32-openvino/keras") and row["pairs"] >= 8
    assert row["ratio_ci_low"] <= row["ratio"] <= row["ratio_ci_high"]


@pytest.mark.slow
def test_a_real_peer_is_paired_across_processes(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("torchvision")
    out = run_bench("bench/test_crossed.py", "--bench-profile", "smoke",
                    "--versions", "v1.5,torchvision-resnet50",
                    "--modes", "inference", "--paired", "inference:2", "--paired-rounds", "8",
                    f"--benchmark-json={tmp_path / 'c.json'}", timeout=900)  # fmt: skip
    rows = json.loads((tmp_path / "c.json").read_text())["resnet_bench"]["cases"]
    by_id = {r["case_id"]: r for r in rows}
    eager = by_id["cross-inference-bs2-float32-cpu-32px-torchvision-resnet50/v1.5"]
    assert eager["status"] == "ok" and eager["pairs"] >= 8, (eager, out.stdout[-2000:])
    compiled = by_id["cross-inference-bs2-float32-cpu-32px-torchvision-resnet50-compiled/v1.5"]
    assert compiled["status"] == "ok" or compiled["reason"], compiled  # a reason where it cannot run
    assert "Traceback" not in out.stdout

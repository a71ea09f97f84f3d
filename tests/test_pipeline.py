"""The generated data set, the input pipelines, and training fed from JPEG files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from resnet.cli import main
from resnet.data import DataError, files, make_dataset
from tests.sweeps import run_bench


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "set"
    make_dataset(root, images=24, seed=3, shards=2)
    return root


def _digests(folder: Path) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() for p, _ in files(folder)]


def test_the_set_is_deterministic_from_its_seed(tmp_path):
    a = make_dataset(tmp_path / "a", images=6, seed=7)
    b = make_dataset(tmp_path / "b", images=6, seed=7)
    c = make_dataset(tmp_path / "c", images=6, seed=8)
    assert a == b and c["seed"] == 8
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b") != _digests(tmp_path / "c")
    assert len(list((tmp_path / "a" / "tfrecord").glob("train-*"))) == 4


def test_the_files_decode_and_look_like_imagenet(tmp_path):
    import tensorflow as tf
    from PIL import Image

    stats = make_dataset(tmp_path / "set", images=40, seed=0)
    # ImageNet's train set: about 110 KiB and 4-5 bits per pixel at 500x375; photographs at
    # quality 90 compress to 2-6 bits per pixel; white noise would take about 8.
    assert 60 <= stats["mean_kb"] <= 160, stats
    assert 2.5 <= stats["bits_per_pixel"] <= 6.0, stats
    assert 380 <= stats["mean_width"] <= 520 and 330 <= stats["mean_height"] <= 480, stats
    path, _ = files(tmp_path / "set")[0]
    with Image.open(path) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        pil = np.asarray(image)
    decoded = tf.io.decode_jpeg(path.read_bytes(), channels=3).numpy()
    assert decoded.shape == pil.shape
    assert json.loads((tmp_path / "set" / "dataset.json").read_text()) == stats


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(DataError, match="give at least one image"):
        make_dataset(tmp_path / "x", images=0)
    other = tmp_path / "other"
    other.mkdir()
    (other / "thesis.tex").write_text("mine")
    assert main(["make-data", str(other), "--images", "2"]) == 2
    assert "is not a data set made by make-data" in capsys.readouterr().err
    assert main(["make-data", str(other), "--images", "2", "--force"]) == 2
    assert "is not a data set made by make-data" in capsys.readouterr().err
    assert (other / "thesis.tex").exists()
    made = tmp_path / "made"
    assert main(["make-data", str(made), "--images", "2"]) == 0
    assert main(["make-data", str(made), "--images", "3", "--force"]) == 0
    assert len(files(made)) == 3


@pytest.mark.parametrize("stage", ["decode", "train", "eval"])
def test_each_stage_gives_224_square_images(tiny_set, stage):
    from resnet.engine.kinds import pipelines

    root = tiny_set
    (path, _), *_ = files(root)
    image = pipelines.pil_image(str(path), stage, seed=1)
    assert image.shape == (224, 224, 3) and image.dtype == np.float32
    batch = pipelines.tf_puller(root, stage, workers=1, batch=4)()
    assert batch.shape == (4, 224, 224, 3)
    if stage != "decode":  # normalised: about zero mean, unit spread
        assert abs(float(image.mean())) < 1.5 and 0.3 < float(image.std()) < 3
        assert abs(float(batch.mean())) < 1.5


@pytest.mark.slow
def test_pipelines_and_training_from_jpeg_on_a_tiny_set(tmp_path):
    """The pipeline cases run (the GPU one is skipped here, with its reason), and a training
    case fed from JPEG files runs beside its synthetic twin."""
    env_cache = {"RESNET_BENCH_CACHE": str(tmp_path / "cache")}
    os.environ.update(env_cache)
    try:
        out = tmp_path / "p.json"
        done = run_bench(
            "bench/test_pipeline.py", "bench/test_throughput.py", "--profile", "smoke", "--versions", "v1",
            "--modes", "training", "--data", "synthetic,jpeg", "--repeat", "1", "--data-images", "16",
            "--pipelines", "tfdata,pil,torchvision-gpu", "--stages", "train", "--workers", "1",
            "--image-size", "64", "--devices", "cpu", "--benchmark-json", str(out),
        )  # fmt: skip
    finally:
        os.environ.pop("RESNET_BENCH_CACHE")
    assert done.returncode == 0, done.stdout[-3000:]
    rows = {r["case_id"]: r for r in json.loads(out.read_text())["resnet_bench"]["cases"]}
    for name in ("pipeline-tfdata-train-w1-bs32", "pipeline-pil-train-w1-bs32"):
        assert rows[name]["status"] == "ok" and rows[name]["images_per_sec_per_core"] > 0
    assert rows["pipeline-torchvision-gpu-train-w1-bs32"]["status"] == "skipped"
    jpeg = rows["v1-training-bs2-float32-cpu-64px-jpeg"]
    synthetic = rows["v1-training-bs2-float32-cpu-64px"]
    assert jpeg["status"] == synthetic["status"] == "ok"
    assert jpeg["synthetic_images_per_sec"] > 0 and jpeg["input_bound_fraction"] is not None
    assert main(["report", str(out), "--out", str(tmp_path / "r")]) == 0
    assert "Input pipelines alone" in (tmp_path / "r" / "README.md").read_text()

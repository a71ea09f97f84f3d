"""Input pipelines: JPEG decode and the standard ResNet-50 preprocessing, as people
write them, measured alone (images/s, and per core) and feeding training end to end.

- ``tfdata``: tf.data over the TFRecord shards, ``num_parallel_calls`` = workers and a
  private thread pool of that size, as TensorFlow's own ResNet input functions do it:
  decode only (``tf.io.decode_jpeg``); training augmentation (``decode_and_crop_jpeg``
  of a random crop of 8-100% of the area and 3:4-4:3 aspect, resized to 224, random
  flip, normalised); evaluation preprocessing (decode, resize the shorter side to 256,
  central 224 crop, normalised).
- ``pil``: the same three stages with PIL and NumPy in a pool of worker processes, as a
  JAX or PyTorch user writes them (torchvision's RandomResizedCrop rule).
- ``torchvision-gpu``: ``torchvision.io.decode_jpeg`` on the GPU (nvJPEG), where a GPU
  and torchvision are present; a skipped case elsewhere.

Stages produce float32 batches of 224x224x3, normalised with ImageNet's mean and
standard deviation.  This module holds both halves of the input-pipeline kind (the
parent's driver, the worker's ``pipeline_setup`` and ``synthetic`` commands) and the
JPEG training feed of ``--data jpeg`` cases.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet.engine.errors import CaseFailure, UsageError
from resnet.engine.kinds.base import Kind, Outcome, Run, in_worker, measured, register
from resnet.engine.kinds.case import add_intervals, metrics_from_times, rounds_for
from resnet.engine.plan import RunPlan
from resnet.engine.worker.core import training_feed
from resnet.engine.worker.protocol import command
from resnet.errors import Unavailable
from resnet.schema import Case, new_row

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32) * 255
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32) * 255
SIZE = 224
RESIZE = 256


class PipelineUnavailable(Unavailable):
    """The pipeline cannot run here (no GPU, no torchvision, no data set): skipped."""


# -- tf.data ------------------------------------------------------------------------
def tf_dataset(
    root: str | Path, stage: str, workers: int, batch: int, seed: int = 0, size: int = SIZE
) -> Any:
    """An endless tf.data pipeline of ``stage`` batches (``size`` pixels square) over the
    TFRecord shards."""
    resize = round(size * RESIZE / SIZE)
    import tensorflow as tf

    shards = sorted(str(p) for p in (Path(root) / "tfrecord").glob("train-*"))
    if not shards:
        raise PipelineUnavailable(f"{root} has no TFRecord shards (make it with resnet-bench make-data)")
    features = {
        "image/encoded": tf.io.FixedLenFeature([], tf.string),
        "image/class/label": tf.io.FixedLenFeature([], tf.int64),
    }
    mean, std = tf.constant(MEAN), tf.constant(STD)

    def parse(record: Any) -> tuple[Any, Any]:
        item = tf.io.parse_single_example(record, features)
        return item["image/encoded"], tf.cast(item["image/class/label"], tf.int32)

    def decode(data: Any, label: Any) -> tuple[Any, Any]:
        return tf.io.decode_jpeg(data, channels=3), label

    def train(data: Any, label: Any) -> tuple[Any, Any]:
        shape = tf.io.extract_jpeg_shape(data)
        begin, extent, _ = tf.image.sample_distorted_bounding_box(
            shape,
            bounding_boxes=tf.constant([0.0, 0.0, 1.0, 1.0], shape=[1, 1, 4]),
            min_object_covered=0.1,
            aspect_ratio_range=(3 / 4, 4 / 3),
            area_range=(0.08, 1.0),
            max_attempts=10,
            use_image_if_no_bounding_boxes=True,
        )
        window = tf.stack([begin[0], begin[1], extent[0], extent[1]])
        image = tf.io.decode_and_crop_jpeg(data, window, channels=3)
        image = tf.image.resize(image, [size, size])
        image = tf.image.random_flip_left_right(image)
        return (image - mean) / std, label

    def evaluate(data: Any, label: Any) -> tuple[Any, Any]:
        image = tf.cast(tf.io.decode_jpeg(data, channels=3), tf.float32)
        shape = tf.shape(image)
        scale = resize / tf.cast(tf.minimum(shape[0], shape[1]), tf.float32)
        new = tf.cast(tf.round(tf.cast(shape[:2], tf.float32) * scale), tf.int32)
        image = tf.image.resize(image, new)
        top, left = (new[0] - size) // 2, (new[1] - size) // 2
        image = image[top : top + size, left : left + size]
        return (image - mean) / std, label

    fn = {"decode": decode, "train": train, "eval": evaluate}[stage]
    options = tf.data.Options()
    options.threading.private_threadpool_size = workers
    options.deterministic = False
    data = tf.data.TFRecordDataset(shards).map(parse).repeat().shuffle(256, seed=seed)
    data = data.map(fn, num_parallel_calls=workers)
    if stage == "decode":
        data = data.map(lambda image, label: (tf.image.resize_with_crop_or_pad(image, size, size), label))
    return data.batch(batch, drop_remainder=True).prefetch(1).with_options(options)


def tf_puller(root: str | Path, stage: str, workers: int, batch: int, size: int = SIZE) -> Callable[[], Any]:
    """``pull()`` -> the next batch of images as a NumPy array (the pipeline ran for it)."""
    iterator = iter(tf_dataset(root, stage, workers, batch, size=size))
    return lambda: next(iterator)[0].numpy()


# -- PIL and NumPy in a process pool --------------------------------------------------
def _random_resized_crop(width: int, height: int, rng: random.Random) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop box: 8-100% of the area, aspect 3:4-4:3."""
    area = width * height
    for _ in range(10):
        target = area * rng.uniform(0.08, 1.0)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            x, y = rng.randint(0, width - w), rng.randint(0, height - h)
            return x, y, x + w, y + h
    side = min(width, height)
    x, y = (width - side) // 2, (height - side) // 2
    return x, y, x + side, y + side


def pil_image(path: str, stage: str, seed: int, size: int = SIZE) -> np.ndarray:
    """One image through ``stage`` with PIL and NumPy: (size, size, 3) float32."""
    from PIL import Image

    resize = round(size * RESIZE / SIZE)
    with Image.open(path) as opened:
        image = opened.convert("RGB")
    if stage == "train":
        rng = random.Random(seed)
        image = image.resize((size, size), Image.BILINEAR, box=_random_resized_crop(*image.size, rng))
        if rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
    elif stage == "eval":
        w, h = image.size
        scale = resize / min(w, h)
        image = image.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
        w, h = image.size
        left, top = (w - size) // 2, (h - size) // 2
        image = image.crop((left, top, left + size, top + size))
    else:  # decode only: a fixed centre window so batches stack
        w, h = image.size
        left, top = max(0, (w - size) // 2), max(0, (h - size) // 2)
        image = image.crop((left, top, left + size, top + size))
    pixels = np.asarray(image, dtype=np.float32)
    return pixels if stage == "decode" else (pixels - MEAN) / STD


def _pil_job(job: tuple[str, str, int, int]) -> np.ndarray:
    return pil_image(*job)


class PilPuller:
    """``pull()`` -> the next batch from a pool of ``workers`` processes (the files cycle)."""

    def __init__(self, root: str | Path, stage: str, workers: int, batch: int, size: int = SIZE) -> None:
        import multiprocessing

        from resnet.data import files

        self.paths = [str(p) for p, _ in files(root)]
        if not self.paths:
            raise PipelineUnavailable(f"{root} has no JPEG files (make it with resnet-bench make-data)")
        self.stage, self.batch, self.size, self.next = stage, batch, size, 0
        self.pool = multiprocessing.get_context("fork").Pool(workers)

    def __call__(self) -> np.ndarray:
        jobs = []
        for _ in range(self.batch):
            jobs.append((self.paths[self.next % len(self.paths)], self.stage, self.next, self.size))
            self.next += 1
        return np.stack(self.pool.map(_pil_job, jobs, chunksize=max(1, self.batch // 8)))

    def close(self) -> None:
        self.pool.terminate()


# -- torchvision on the GPU -------------------------------------------------------------
def torchvision_gpu_puller(root: str | Path, stage: str, device: str, batch: int) -> Callable[[], Any]:
    """nvJPEG decode (``torchvision.io.decode_jpeg`` on the GPU) and the stage on the GPU."""
    try:
        import torch
        import torchvision
        from torchvision.io import decode_jpeg
    except Exception as err:
        raise PipelineUnavailable(
            f"torchvision-gpu needs torch and torchvision ({type(err).__name__}: {err})"
        ) from None
    if not torch.cuda.is_available():
        raise PipelineUnavailable("torchvision-gpu needs a CUDA GPU (nvJPEG); none here")
    from resnet.data import files

    datas = [torchvision.io.read_file(str(p)) for p, _ in files(root)]
    cuda = f"cuda:{device.partition(':')[2] or 0}"
    mean = torch.tensor(MEAN, device=cuda).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=cuda).view(1, 3, 1, 1)
    state = {"next": 0}

    def pull() -> Any:
        chunk = [datas[(state["next"] + i) % len(datas)] for i in range(batch)]
        state["next"] += batch
        images = decode_jpeg(chunk, device=cuda)
        out = torch.stack(
            [torch.nn.functional.interpolate(im[None].float(), size=(SIZE, SIZE))[0] for im in images]
        )
        if stage != "decode":
            out = (out - mean) / std
        torch.cuda.synchronize()
        return out

    return pull


# -- the parent's half ------------------------------------------------------------------
#: Images per step of a pipeline case.
BATCH = 32


@dataclass(frozen=True)
class PipelineCase:
    """One input-pipeline case: a pipeline, a stage, and its workers (and cores)."""

    pipeline: str
    stage: str
    workers: int

    @property
    def id(self) -> str:
        return f"{self.pipeline}-{self.stage}-w{self.workers}"


def cases(plan: RunPlan) -> list[PipelineCase]:
    """Every input-pipeline case of the run."""
    settings = plan.settings
    return [
        PipelineCase(p, s, w) for p in settings.pipelines for s in settings.stages for w in settings.workers
    ]


def prepare(run: Run, pipeline_cases: list[PipelineCase]) -> None:
    """The generated data set that input-pipeline and --data jpeg cases read: made once
    in the cache (resnet.data.ensure_dataset), and named to the workers (``run.data_dir``)."""
    if not pipeline_cases and "jpeg" not in run.plan.axes.data:
        return
    import os

    from resnet.data import DataError, ensure_dataset

    try:
        folder, stats = ensure_dataset(run.plan.settings.data_images, log=run.line)
    except DataError as err:
        raise UsageError(f"--data-images: {err}") from None
    run.line(f"data set ready in {folder}: {stats['images']} images, mean {stats['mean_kb']} KiB a file")
    os.environ["RESNET_BENCH_DATA"] = str(folder)  # the workers inherit it
    run.data_dir = str(folder)


def run_pipeline(run: Run, case: PipelineCase, benchmark: Any) -> Outcome:
    """An input pipeline alone (decode, training augmentation or evaluation
    preprocessing) with ``workers`` parallel calls on as many cores."""
    name = f"pipeline-{case.pipeline}-{case.stage}-w{case.workers}-bs{BATCH}"
    return measured(
        run,
        name,
        [name],
        benchmark,
        lambda: measure_pipeline(run, case.pipeline, case.stage, case.workers, benchmark),
    )


def measure_pipeline(run: Run, pipeline: str, stage: str, workers: int, benchmark: Any) -> dict[str, Any]:
    """An input pipeline alone, in its own worker limited to ``workers`` cores: each timed
    step pulls one batch; images/s, per core, with its interval."""
    settings, axes = run.plan.settings, run.plan.axes
    device = axes.devices[-1] if pipeline == "torchvision-gpu" else "cpu"
    case = Case("pipeline", "inference", BATCH, "float32", device, False, axes.image_size)
    row = new_row(case, kind="pipeline", case_id=f"pipeline-{pipeline}-{stage}-w{workers}-bs{BATCH}")
    data_dir = run.data_dir or ""
    row.update(pipeline=pipeline, stage=stage, workers=workers, data_dir=data_dir, version=None, mode=None)
    with in_worker(run, row, workers, env={"RESNET_BENCH_DATA": data_dir}) as worker:
        setup = worker.call("pipeline_setup", pipeline=pipeline, stage=stage, workers=workers, batch=BATCH,
                            device=device, size=axes.image_size)  # fmt: skip
        row.update(compile_s=setup["compile_s"], device_name=setup["device_name"])
        worker.call("warm")
        warm = [worker.call("step")["seconds"]]
        timed = rounds_for(max(settings.rounds, 5), settings.min_time or 2.0, warm[0])
        benchmark.pedantic(lambda: worker.call("step"), rounds=timed, warmup_rounds=0, iterations=1)
        done = worker.call("finish")
        times = list(benchmark.stats.stats.data)
        row.update(metrics_from_times(case, times, None))
        row.update(
            rounds=len(times),
            timed_s=sum(times),
            samples_s=[times],
            peak_host_rss_mb=done["peak_host_rss_mb"],
        )
        row["images_per_sec_per_core"] = row["images_per_sec"] / workers
        row["status"] = "ok"
        add_intervals(row, case, [times])
    return row


# -- the worker's half ------------------------------------------------------------------
def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@training_feed("jpeg")
def jpeg_feed(core: Any, case: Case, train: Any) -> Callable[[], Any]:
    """Training fed from JPEG files: TensorFlow's data pipeline or a PIL process pool (other
    backends) decodes and augments batches on the host's cores; each step takes the
    next batch to the device and trains on it."""
    if not core.data_dir:
        raise CaseFailure("error", "--data jpeg needs a data set (the sweep makes one: --data-images)")
    put = core.backend.put
    if core.backend.name == "tensorflow":
        iterator = iter(tf_dataset(core.data_dir, "train", _cores(), case.batch_size, size=case.image_size))

        def next_batch() -> tuple[Any, Any]:
            images, labels = next(iterator)
            return put(images, case.device), put(labels, case.device)

    else:
        pull = PilPuller(core.data_dir, "train", _cores(), case.batch_size, case.image_size)
        labels = np.zeros(case.batch_size, "int32")

        def next_batch() -> tuple[Any, Any]:
            return put(pull(), case.device), put(labels, case.device)

    return lambda: train(*next_batch())


@command("pipeline_setup")
def _pipeline_setup(core: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """An input pipeline alone: each step pulls one batch of ``stage`` images."""
    if not core.data_dir:
        raise CaseFailure("error", "input-pipeline cases need a data set (the sweep makes one)")
    pipeline, stage, workers, batch = msg["pipeline"], msg["stage"], int(msg["workers"]), int(msg["batch"])
    try:
        if pipeline == "tfdata":
            pull = tf_puller(core.data_dir, stage, workers, batch, msg["size"])
        elif pipeline == "pil":
            pull = PilPuller(core.data_dir, stage, workers, batch, msg["size"])
        else:
            pull = torchvision_gpu_puller(core.data_dir, stage, msg["device"], batch)
    except PipelineUnavailable as err:
        raise CaseFailure("skipped", str(err)) from None
    core.case = Case("pipeline", "inference", batch, "float32", msg["device"], False)
    core.steps["main"] = (pull, ())
    core.host_steps["main"] = f"{pipeline} ({workers} workers)"
    t0 = time.perf_counter()
    first = pull()
    return {
        "compile_s": time.perf_counter() - t0,
        "device_name": core.host_steps["main"],
        "shape": list(first.shape),
    }


@command("synthetic")
def _synthetic(core: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """``n`` steps of a jpeg case's training step on tensors already on the device."""
    return {"times": core.timed_loop("synthetic", int(msg["n"]))}


KIND = register(Kind("pipeline", "pipeline_case", cases, prepare, noun="pipeline cases"))

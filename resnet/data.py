"""A generated image data set with ImageNet's statistics, for input-pipeline benchmarks.

ImageNet cannot be downloaded here, so ``resnet-bench make-data DIR --images N`` writes
JPEG files that look like ImageNet to a decoder: sizes around 500x375 with ImageNet's
spread of aspect ratios (most 4:3 landscape, some portrait, square and wide), quality
90, and content that compresses like a photograph (smooth colour fields, object edges
and a fine grain) rather than white noise, which compresses far worse and decodes
slower.  The set is deterministic from its seed (same seed, same bytes), written as a
folder tree (one folder per class, what PIL and torchvision pipelines read) and as
TFRecord shards (what tf.data pipelines read), with its size statistics in
``dataset.json``.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from resnet.errors import InputError
from resnet.outputs import OutputError, foreign_files, read_manifest, staged_folder

#: ImageNet-like geometry: (aspect ratio width/height, share), long side around 500.
ASPECTS = ((4 / 3, 0.62), (3 / 4, 0.14), (1.0, 0.08), (3 / 2, 0.10), (16 / 9, 0.06))
LONG_SIDE = (500, 40, 320, 640)  # mean, spread, smallest, largest
QUALITY = 90
CLASSES = 10


class DataError(InputError):
    """A data set that cannot be made as asked: one line naming the problem."""


def _geometry(rng: np.random.Generator) -> tuple[int, int]:
    aspects, shares = zip(*ASPECTS, strict=True)
    aspect = aspects[rng.choice(len(aspects), p=np.asarray(shares) / sum(shares))]
    mean, spread, low, high = LONG_SIDE
    long_side = int(np.clip(rng.normal(mean, spread), low, high))
    if aspect >= 1:
        return long_side, max(32, round(long_side / aspect))
    return max(32, round(long_side * aspect)), long_side


def photo(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """An RGB image (height, width, 3, uint8) with a photograph's structure: a smooth
    colour field, a few objects with edges and their own shading, and a fine grain."""
    from PIL import Image, ImageDraw, ImageFilter

    coarse = rng.uniform(20, 235, (rng.integers(3, 7), rng.integers(3, 7), 3)).astype(np.uint8)
    image = Image.fromarray(coarse, "RGB").resize((width, height), Image.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.integers(6, 16)):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(width // 10, width // 2), rng.integers(height // 10, height // 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        box = [x0 - w // 2, y0 - h // 2, x0 + w // 2, y0 + h // 2]
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(0.4, 1.0))))
    pixels = np.asarray(image, dtype=np.float32)
    # Shading across each image, and a grain like a camera's sensor noise.
    ramp = np.linspace(-1, 1, width)[None, :, None] * rng.uniform(-25, 25)
    grain = rng.normal(0, rng.uniform(14, 22), pixels.shape)
    return np.clip(pixels + ramp + grain, 0, 255).astype(np.uint8)


def jpeg_bytes(pixels: np.ndarray, quality: int = QUALITY) -> bytes:
    """``pixels`` as a baseline JPEG of the given quality."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def make_dataset(
    out: str | Path, images: int, seed: int = 0, classes: int = CLASSES, shards: int = 4, force: bool = False
) -> dict[str, Any]:
    """Write ``images`` JPEG files under ``out/jpeg/<class>/`` and as TFRecord shards under
    ``out/tfrecord/``; returns (and writes to ``out/dataset.json``) their statistics.

    The set is written into a temporary folder beside ``out`` and put in place when
    complete, with a manifest of every file and its checksum (resnet.outputs); ``force``
    replaces only a set make-data made whose files are all as it wrote them."""
    out = Path(out)
    if isinstance(images, bool) or not isinstance(images, int) or images < 1:
        raise DataError(f"--images {images}: give at least one image")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DataError(f"--seed {seed}: give a non-negative integer")
    if shards < 1 or classes < 1:
        raise DataError("--shards and --classes must be at least 1")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise DataError(f"{out}: exists and is not a directory")
    if out.exists() and any(out.iterdir()):
        foreign = foreign_files(out, "make-data")
        if foreign:
            raise DataError(
                f"{out}: is not a data set made by make-data as it wrote it (holds {foreign[0]}); "
                "refusing to replace it, even with --force: give an empty or new folder"
            )
        if not force:
            raise DataError(f"{out}: holds a data set made by make-data; give --force to replace it")
    try:
        with staged_folder(out, "make-data", option="make-data", images=images, seed=seed) as tmp:
            stats = _write(tmp, images, seed, classes, shards)
    except OutputError as err:
        raise DataError(str(err)) from None
    except OSError as err:
        raise DataError(f"{out}: writing failed ({err.strerror or err})") from None
    return stats


def complete_dataset(folder: Path, images: int, seed: int = 0) -> dict[str, Any] | None:
    """The statistics of the set in ``folder`` if it is a complete set of make-data's with
    ``images`` images from ``seed`` (every file of its manifest there, as written), else None."""
    manifest = read_manifest(folder) if folder.is_dir() else None
    if manifest is None or manifest.get("images") != images or manifest.get("seed") != seed:
        return None
    if foreign_files(folder, "make-data") or any(not (folder / f).is_file() for f in manifest["files"]):
        return None
    try:
        return json.loads((folder / "dataset.json").read_text())
    except (OSError, ValueError):
        return None


def cache_root() -> Path:
    """The tool's cache: $RESNET_BENCH_CACHE, else $XDG_CACHE_HOME/resnet-bench
    (~/.cache/resnet-bench): generated data sets and runtime exports, nothing else."""
    import os

    base = os.environ.get("RESNET_BENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "resnet-bench"
    )
    return Path(base)


def ensure_dataset(images: int, seed: int = 0, log: Any = None) -> tuple[Path, dict[str, Any]]:
    """The generated set of ``images`` in the cache, made there if it is missing or
    incomplete (a set in the cache is the tool's own: an incomplete one is replaced).
    One process makes it at a time (a lock file beside it)."""
    import fcntl

    folder = dataset_dir(images, seed)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock = (folder.parent / f".{folder.name}.lock").open("a")
    except OSError as err:
        raise DataError(
            f"cache {cache_root()}: cannot write there ({err.strerror or err}); set RESNET_BENCH_CACHE "
            "to a writable folder"
        ) from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stats = complete_dataset(folder, images, seed)
        if stats is not None:
            return folder, stats
        if log is not None:
            log(f"making {images} JPEG images in {folder}")
        if folder.is_symlink() or folder.is_file() or (folder.exists() and not _replaceable(folder)):
            raise DataError(
                f"{folder}: holds files make-data did not write; it is left untouched: remove it or set "
                "RESNET_BENCH_CACHE to another folder"
            )
        if folder.exists():
            shutil.rmtree(folder)  # an incomplete set of ours (its manifest, or an older set's layout)
        return folder, make_dataset(folder, images, seed)


#: What a data set holds: a set written before manifests existed has only these.
SET_ENTRIES = {"jpeg", "tfrecord", "dataset.json"}


def _replaceable(folder: Path) -> bool:
    """Whether a cache entry that is not a complete set may be replaced: it is one of
    make-data's (its manifest and nothing else), or an older set with only a set's entries."""
    if read_manifest(folder) is not None:
        return not foreign_files(folder, "make-data")
    return {p.name for p in folder.iterdir()} <= SET_ENTRIES


def _write(out: Path, images: int, seed: int, classes: int, shards: int) -> dict[str, Any]:
    jpeg_root = out / "jpeg"
    for c in range(classes):
        (jpeg_root / f"class_{c:03d}").mkdir(parents=True, exist_ok=True)
    records = _record_writers(out / "tfrecord", shards)
    sizes, widths, heights = [], [], []
    for i in range(images):
        rng = np.random.default_rng([seed, i])
        width, height = _geometry(rng)
        data = jpeg_bytes(photo(rng, width, height))
        label = i % classes
        (jpeg_root / f"class_{label:03d}" / f"img_{i:07d}.jpeg").write_bytes(data)
        if records is not None:
            records[i % shards].write(_example(data, label, height, width))
        sizes.append(len(data))
        widths.append(width)
        heights.append(height)
    if records is not None:
        for writer in records:
            writer.close()
    kb = np.asarray(sizes) / 1024
    stats = {
        "images": images,
        "classes": classes,
        "seed": seed,
        "quality": QUALITY,
        "tfrecord_shards": shards if records is not None else 0,
        "mean_kb": round(float(kb.mean()), 1),
        "p10_kb": round(float(np.percentile(kb, 10)), 1),
        "median_kb": round(float(np.median(kb)), 1),
        "p90_kb": round(float(np.percentile(kb, 90)), 1),
        "mean_width": round(float(np.mean(widths)), 1),
        "mean_height": round(float(np.mean(heights)), 1),
        "bits_per_pixel": round(
            float(8 * np.sum(sizes) / np.sum(np.asarray(widths) * np.asarray(heights))), 3
        ),
    }
    (out / "dataset.json").write_text(json.dumps(stats, indent=2) + "\n")
    return stats


def _record_writers(folder: Path, shards: int) -> list[Any] | None:
    """TFRecord writers, one per shard; None where TensorFlow is not installed."""
    try:
        import tensorflow as tf
    except ImportError:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return [tf.io.TFRecordWriter(str(folder / f"train-{k:05d}-of-{shards:05d}")) for k in range(shards)]


def _example(data: bytes, label: int, height: int, width: int) -> bytes:
    import tensorflow as tf

    feature = {
        "image/encoded": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data])),
        "image/class/label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "image/height": tf.train.Feature(int64_list=tf.train.Int64List(value=[height])),
        "image/width": tf.train.Feature(int64_list=tf.train.Int64List(value=[width])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def dataset_dir(images: int, seed: int = 0) -> Path:
    """Where the generated set of ``images`` lives: a cache folder, never in the repository
    ($RESNET_BENCH_CACHE, else ~/.cache/resnet-bench)."""
    return cache_root() / "data" / f"imagenet-like-{images}-seed{seed}"


def files(root: str | Path) -> list[tuple[Path, int]]:
    """Every JPEG of a data set with its label, in a stable order."""
    jpeg_root = Path(root) / "jpeg"
    out = []
    for folder in sorted(p for p in jpeg_root.iterdir() if p.is_dir()):
        label = int(folder.name.rsplit("_", 1)[1])
        out += [(f, label) for f in sorted(folder.glob("*.jpeg"))]
    return out


__all__ = ["DataError", "ensure_dataset", "files", "make_dataset", "photo"]

"""The cache of exported and quantized models: one folder per key, written atomically with
a manifest of its files' checksums.  A file that does not match its manifest is rebuilt,
never trusted; an entry holding anything the tool did not write is left untouched.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


class CacheUnwritable(OSError):
    """The export cache cannot be written; the message names it and how to move it."""


class CacheForeign(CacheUnwritable):
    """An export-cache entry holds what the tool did not write: left as it is, never replaced."""


def cache_root() -> Path:
    """Where exports are kept: the tool's cache (resnet.data.cache_root) ``/exports``."""
    from resnet.data import cache_root as root

    return root() / "exports"


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


def cached(
    key: str, name: str, write: Callable[[Path], None], root: Path | None = None
) -> tuple[Path, float, bool]:
    """The file ``name`` of the cache entry ``key``: from the cache when its manifest matches
    its files, else made anew by ``write(path)`` in a temporary folder put in place when
    complete, replacing an entry of the tool's own whose files changed since; an entry
    holding anything else is CacheForeign, left untouched.  Returns (path, seconds, rebuilt)."""
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
        write(tmp / name)
        (tmp / "manifest.json").write_text(json.dumps({"key": key, "file": name, "files": _digest(tmp)}))
        seconds = time.perf_counter() - t0
        if folder.exists() or folder.is_symlink():  # ours with a file changed since: replaced
            if _ours(folder, key) is None:  # checked again: something was put there meanwhile
                raise CacheForeign(_foreign(folder))
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder / name, seconds, True


def cached_export(model: Any, key: str, fmt: str, root: Path | None = None) -> tuple[Path, float, bool]:
    """``model`` exported by Keras in ``fmt`` (onnx, openvino), through the cache (:func:`cached`)."""

    def write(path: Path) -> None:
        # Keras's exporters read the input signature off a model that has been called.
        model(np.zeros((1, *model.input_shape[1:]), "float32"), training=False)
        model.export(str(path), format=fmt, verbose=False)

    return cached(key, "model.onnx" if fmt == "onnx" else "model.xml", write, root)

"""What a command may write: only what it wrote before, replaced whole or not at all.

Every command that writes a folder (``report``, ``machines``, ``dashboard``,
``make-data``) builds its output in a temporary folder beside the target and, when it
is complete, puts it in place in one step (Linux's ``renameat2(RENAME_EXCHANGE)``
swaps the two folders atomically), so a failure or a kill at any moment leaves
either the old complete output or the new complete one. The folder holds a manifest,
:data:`MANIFEST`, naming the tool, the command and every file it wrote with its
SHA-256: a rerun replaces exactly those files. A folder that holds anything else (a
file the manifest does not list, or one changed since it was written) is refused
with one line before any work starts, and never cleaned.

Single files (``compare --out``, ``history --out``) are written beside their target
and renamed over it; an existing file is replaced only when it is one this command
writes (its first line starts with the command's own CSV header), and never when it is an input.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from resnet.errors import InputError

#: The manifest file in every folder a command wrote.
MANIFEST = ".resnet-bench-manifest.json"
TOOL = "resnet-bench"
#: Temporary folders are named ``.<target>.<PARTIAL>-<pid>-<random>`` beside the target.
PARTIAL = "resnet-bench-partial"


class OutputError(InputError):
    """An output path this command may not write; one line naming it and why."""


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest, or None when it has none (or one that is not ours)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = (
        isinstance(data, dict)
        and data.get("tool") == TOOL
        and isinstance(data.get("command"), str)
        and isinstance(data.get("files"), dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in data["files"].items())
    )
    return data if ok else None


def _entries(folder: Path) -> tuple[list[str], list[str]]:
    """Relative paths of the files and of the folders under ``folder`` (links count as files)."""
    files, dirs = [], []
    for root, subdirs, names in os.walk(folder, followlinks=False):
        rel = Path(root).relative_to(folder)
        for d in list(subdirs):
            if (Path(root) / d).is_symlink():
                subdirs.remove(d)
                names.append(d)
            else:
                dirs.append((rel / d).as_posix())
        files += [(rel / n).as_posix() for n in names]
    return sorted(files), sorted(dirs)


def foreign_files(folder: Path, command: str) -> list[str]:
    """What in ``folder`` this command did not write: files outside its manifest, files
    changed since, anything but folders holding them. Empty: the folder is ours (or empty)."""
    files, dirs = _entries(folder)
    if not files and not dirs:
        return []
    manifest = read_manifest(folder)
    if manifest is None:
        return [f for f in files if f != MANIFEST] or dirs or [MANIFEST]
    if manifest["command"] != command:
        return [f"{MANIFEST} (a {manifest['command']} output)"]
    listed: dict[str, str] = manifest["files"]
    parents = {p.as_posix() for name in listed for p in Path(name).parents if str(p) != "."}
    parents |= {d for d in manifest.get("dirs", []) if isinstance(d, str)}
    out = []
    for name in files:
        if name == MANIFEST:
            continue
        path = folder / name
        if name not in listed or path.is_symlink() or digest(path) != listed[name]:
            out.append(name)
    out += [d for d in dirs if d not in parents]
    return out


def _refuse_foreign(out: Path, command: str, option: str) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError(f"{option} {out}: exists and is not a directory")
    if not out.exists():
        return
    foreign = foreign_files(out, command)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputError(
            f"{option} {out}: holds files resnet-bench {command} did not write ({shown}); it replaces "
            "only its own earlier output: give an empty or new folder"
        )


def check_inputs(out: Path, inputs: Iterable[str | os.PathLike], option: str = "--out") -> None:
    """Refuse an output that is, or would hold, one of the inputs."""
    target = out.resolve()
    for item in inputs:
        source = Path(item).resolve()
        if source == target or target in source.parents:
            raise OutputError(f"{option} {out}: holds the input {item}; write the output elsewhere")


def check_folder(
    out: str | os.PathLike, command: str, inputs: Iterable[str | os.PathLike] = (), option: str = "--out"
) -> Path:
    """Everything that can be checked before any work: ``out`` is not an input, is ours
    (or empty, or missing), and its parent can be made and written. Returns it."""
    out = Path(out)
    check_inputs(out, inputs, option)
    _refuse_foreign(out, command, option)
    parent = out.absolute().parent
    blocked = next((p for p in [parent, *parent.parents] if p.exists()), None)
    if blocked is not None and not blocked.is_dir():
        raise OutputError(f"{option} {out}: {blocked} is a file, not a directory")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"{option} {out}: cannot create {parent} ({err.strerror or err})") from None
    try:  # the one sure test: make (and remove) a folder there
        Path(tempfile.mkdtemp(prefix=f".{out.name}.{PARTIAL}-{os.getpid()}-", dir=parent)).rmdir()
    except OSError as err:
        raise OutputError(f"{option} {out}: cannot write into {parent} ({err.strerror or err})") from None
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(out: Path) -> list[Path]:
    """Remove the temporary folders that earlier runs of ours left beside ``out`` when they
    were killed (their process is gone); they hold nothing but what those runs wrote."""
    removed = []
    parent = out.absolute().parent
    if not parent.is_dir():
        return removed
    for item in parent.glob(f".{out.name}.{PARTIAL}-*"):
        try:
            pid = int(item.name.rsplit(f"{PARTIAL}-", 1)[1].split("-", 1)[0])
        except ValueError:
            continue
        if item.is_dir() and not item.is_symlink() and not _pid_alive(pid):
            shutil.rmtree(item, ignore_errors=True)
            removed.append(item)
    return removed


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux renameat2 RENAME_EXCHANGE); False where the
    system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    errno = ctypes.get_errno()
    if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: the file system cannot
        return False
    raise OSError(errno, os.strerror(errno), str(b))


def remove_owned(folder: Path) -> None:
    """Delete a folder of ours: the files its manifest lists and the manifest, then the
    folders they leave empty; anything else stays where it is."""
    manifest = read_manifest(folder) or {"files": {}}
    for name in manifest["files"]:
        (folder / name).unlink(missing_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)
    for root, _, _ in sorted(os.walk(folder), key=lambda t: -len(t[0])):
        with contextlib.suppress(OSError):
            Path(root).rmdir()


def write_manifest(folder: Path, command: str, **extra: Any) -> dict[str, Any]:
    """List every file under ``folder`` with its digest in its manifest."""
    files, dirs = _entries(folder)
    from resnet import __version__

    manifest = {
        "tool": TOOL,
        "command": command,
        "version": __version__,
        "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **extra,
        "files": {name: digest(folder / name) for name in files if name != MANIFEST},
        "dirs": dirs,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def commit(tmp: Path, out: Path, command: str, option: str = "--out", **extra: Any) -> None:
    """Put the complete folder ``tmp`` in place of ``out`` in one step; the old output of
    ours is removed after the swap. ``out`` is checked again first."""
    write_manifest(tmp, command, **extra)
    _refuse_foreign(out, command, option)
    if not out.exists():
        os.rename(tmp, out)
        return
    if _exchange(tmp, out):
        remove_owned(tmp)
        return
    old = tmp.with_name(tmp.name + "-old")
    os.rename(out, old)
    os.rename(tmp, out)
    remove_owned(old)


@contextlib.contextmanager
def staged_folder(
    out: str | os.PathLike,
    command: str,
    inputs: Iterable[str | os.PathLike] = (),
    option: str = "--out",
    **extra: Any,
) -> Iterator[Path]:
    """Build a command's output folder: yields an empty temporary folder beside ``out``;
    when the block ends without an error it replaces ``out`` whole, else it is removed
    and ``out`` stays as it was. The manifest records the inputs it was made from."""
    inputs = [str(i) for i in inputs]
    out = check_folder(out, command, inputs, option)
    if inputs:
        extra = {"inputs": inputs, **extra}
    clean_stale(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{PARTIAL}-{os.getpid()}-", dir=out.absolute().parent))
    try:
        yield tmp
        commit(tmp, out, command, option, **extra)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_file(
    path: str | os.PathLike, header: str, inputs: Iterable[str | os.PathLike] = (), option: str = "--out"
) -> Path:
    """Refuse, before any work, a file output that is an input, a folder, or an existing
    file this command did not write (a non-empty file whose first line does not start with
    ``header``, the command's own CSV header)."""
    p = Path(path)
    check_inputs(p, inputs, option)
    if p.is_dir():
        raise OutputError(f"{option} {path}: is a directory; give a file path")
    parent = p.absolute().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: cannot write a file there")
    if p.exists() or p.is_symlink():
        try:
            with p.open(encoding="utf-8") as f:
                first = f.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError):
            first = None
        if p.is_symlink() or not (first is not None and (first == "" or first.startswith(header))):
            raise OutputError(
                f"{option} {path}: exists and is not a file this command wrote; it is left "
                "untouched: give a new path"
            )
    return p


def write_file(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` beside ``path`` and rename it over ``path`` when complete."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.{PARTIAL}-{os.getpid()}-", dir=p.absolute().parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return p

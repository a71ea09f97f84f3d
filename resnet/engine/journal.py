"""The journal: an append-only JSON-lines file with the run's settings in a header,
then one line per finished case, flushed and fsynced as it is written, so a killed run
keeps every finished case and ``--resume`` can skip them.

The tool never corrupts it: a sweep holds an exclusive lock on it for its whole run (a
second sweep on the same journal is refused, naming the holder's pid); it is emptied
only by a fresh sweep that holds that lock, and never when the file is not a journal;
every append starts on a new line; a resumed sweep drops a last line cut off by a crash
(it holds no finished case) and refuses a journal written with other settings.

This module is the one place that knows the journal's format: the sweep writes it,
and the results loader reads it with :func:`read_journal`.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet.engine.errors import UsageError

#: Header keys that do not change what a case measures (a resume may differ in them).
NOT_MEASURED = frozenset(
    {"type", "profile", "pid", "started", "machine_info", "datetime", "commit_info", "sweep_id"}
)


@dataclass
class JournalContents:
    """What a journal holds: its header, its complete case rows, the lines that could
    not be read (line number, problem), and whether its last line was cut off."""

    header: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    cut_off: bool = False


def read_journal(path: str | os.PathLike) -> JournalContents:
    """Read a journal; a missing file is an empty journal.  A last line without its
    newline that does not parse is ``cut_off`` (a crash mid-write), not a bad line.
    Raises UnicodeDecodeError for a file that is not text."""
    path = Path(path)
    if not path.exists():
        return JournalContents()
    with path.open(encoding="utf-8") as f:
        return parse_journal(f.read())


def parse_journal(text: str) -> JournalContents:
    """A journal's text, read as :func:`read_journal` reads its file."""
    out = JournalContents()
    lines = text.split("\n")
    last = len(lines)  # the text after the final newline ("" when the file ends in one)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            if number == last:
                out.cut_off = True
            else:
                out.bad_lines.append((number, "not a JSON line"))
            continue
        if not isinstance(item, dict):
            out.bad_lines.append((number, f"a journal line is an object, not {type(item).__name__}"))
        elif item.get("type") == "header":
            out.header = item
        elif item.get("type") == "case" and isinstance(item.get("row"), dict):
            out.rows.append(item["row"])
        else:
            out.bad_lines.append((number, "neither a header nor a case line"))
    return out


def _looks_like_journal(path: Path) -> bool:
    """Whether the file's first line is a journal header (or the file is empty)."""
    with path.open("rb") as f:
        first = f.readline(1 << 20)
    if not first.strip():
        return True
    try:
        item = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(item, dict) and item.get("type") == "header"


class Journal:
    """The journal of one sweep, locked for as long as the sweep runs.

    Args:
        path: the journal file.
        header: the sweep's settings (axes, backend, ...), written as the first line.
        resume: keep the finished cases of an earlier sweep with the same settings.
    """

    def __init__(self, path: str | os.PathLike, header: dict[str, Any], resume: bool) -> None:
        self.path = Path(path)
        self.done: dict[str, dict[str, Any]] = {}
        #: The header in effect: an earlier sweep's, when this one resumes it.
        self.header: dict[str, Any] = header
        self._lock_file = self._lock()
        try:
            self._open(header, resume)
        except BaseException:
            self.close()
            raise

    def _lock(self) -> Any:
        """Take the sweep's exclusive lock (a ``.lock`` file beside the journal, holding
        the owner's pid); refuse with one line if another sweep holds it."""
        if self.path.is_dir():
            raise UsageError(f"--journal: {self.path} is a directory; give a file path")
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = lock_path.open("a+")
        except OSError as err:
            raise UsageError(f"--journal: cannot write beside {self.path} ({err.strerror})") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            lock.close()
            raise UsageError(
                f"--journal: {self.path} is in use by another sweep (pid {holder}); "
                "wait for it or give another --journal"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        return lock

    def _open(self, header: dict[str, Any], resume: bool) -> None:
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not _looks_like_journal(self.path):
            raise UsageError(
                f"--journal: {self.path} exists and is not a resnet-bench journal; "
                "it is left untouched: give another path"
            )
        if resume and exists:
            old = read_journal(self.path)
            if old.header is not None:
                self._check_settings(old.header, header)
                self.header = old.header
            for row in old.rows:
                if not isinstance(row.get("case_id"), str):
                    raise UsageError(
                        f"--resume: journal {self.path} holds a case line without a case_id "
                        f"({json.dumps(row)[:80]}); it is left untouched: remove it or drop --resume"
                    )
            if old.cut_off:
                self._drop_cut_off_line()
            self.done = {r["case_id"]: r for r in old.rows if r.get("status") == "ok"}
            if old.header is None:
                self._write({"type": "header", **header})
            return
        try:
            self.path.write_text("")  # a fresh sweep that owns the lock starts it anew
        except OSError as err:
            raise UsageError(f"--journal: cannot write {self.path} ({err.strerror})") from None
        self._write({"type": "header", **header})

    def _check_settings(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        new = json.loads(json.dumps(new, default=str))  # as it would read back (tuples as lists)
        for key in sorted((set(old) | set(new)) - NOT_MEASURED):
            if old.get(key) != new.get(key):
                raise UsageError(
                    f"--resume: journal {self.path} was written with other settings "
                    f"({key}={old.get(key)!r}, now {new.get(key)!r}); remove it or drop --resume"
                )

    def _drop_cut_off_line(self) -> None:
        """Truncate a last line cut off mid-write (it holds no finished case)."""
        data = self.path.read_bytes()
        keep = data.rfind(b"\n") + 1
        with self.path.open("r+b") as f:
            f.truncate(keep)

    def _write(self, item: dict[str, Any]) -> None:
        line = (json.dumps(item, default=str) + "\n").encode()
        with self.path.open("a+b") as f:
            f.seek(0, os.SEEK_END)
            if f.tell():
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = b"\n" + line  # never onto the end of a fragment
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def append(self, row: dict[str, Any]) -> None:
        """Record one finished case (whatever its status)."""
        self._write({"type": "case", "row": row})

    def close(self) -> None:
        """Release the lock (the sweep is over)."""
        if self._lock_file is not None and not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

"""The journal: an append-only JSON-lines file with the run's settings in a header,
then one line per finished case, flushed and fsynced as it is written, so a killed run
keeps every finished case and ``--resume`` can skip them.

This module is the one place that knows the journal's format: the sweep writes it,
and the results loader reads it with :func:`read_journal`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet.engine.options import UsageError

#: The keys of the header that must match for a journal to be resumed.
RESUME_KEYS = ("image_size", "rounds", "warmup_rounds", "backend")


@dataclass
class JournalContents:
    """What a journal holds: its header, its complete case rows, and the lines that
    could not be read (line number, problem), such as a last line cut by a crash."""

    header: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)


def read_journal(path: str | os.PathLike) -> JournalContents:
    """Read a journal; a missing file is an empty journal.  Raises UnicodeDecodeError
    for a file that is not text."""
    path = Path(path)
    out = JournalContents()
    if not path.exists():
        return out
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                out.bad_lines.append((number, "not a complete JSON line (cut off by a crash?)"))
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


class Journal:
    """The journal of one run."""

    def __init__(self, path: str | os.PathLike, header: dict[str, Any], resume: bool) -> None:
        self.path = Path(path)
        self.done: dict[str, dict[str, Any]] = {}
        if resume:
            old = read_journal(self.path)
            if old.header is not None:
                diff = [k for k in RESUME_KEYS if old.header.get(k) != header.get(k)]
                if diff:
                    k = diff[0]
                    raise UsageError(
                        f"--resume: journal {self.path} was written for a different configuration "
                        f"({k}={old.header.get(k)!r}, now {header.get(k)!r}); remove it or drop --resume"
                    )
            self.done = {r["case_id"]: r for r in old.rows if r.get("status") == "ok"}
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text("")
        if not resume or not self.path.exists() or not self.path.stat().st_size:
            self._write({"type": "header", **header})

    def _write(self, item: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(item, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def append(self, row: dict[str, Any]) -> None:
        """Record one finished case (whatever its status)."""
        self._write({"type": "case", "row": row})

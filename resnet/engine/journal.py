"""An append-only JSON-lines journal: a header with the run's configuration, then
one line per finished case, flushed as it is written, so a killed run keeps every
finished case and ``--resume`` can skip them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from resnet.engine.config import UsageError

#: The keys of the header that must match for a journal to be resumed.
RESUME_KEYS = ("image_size", "rounds", "warmup_rounds", "backend")


def read_journal(path: str | os.PathLike) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The header and the complete case lines of a journal (a cut-off last line is
    ignored; a missing file is an empty journal)."""
    path = Path(path)
    if not path.exists():
        return None, []
    header = None
    rows = []
    with path.open() as f:
        for line in f:
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut off by a killed run
            if item.get("type") == "header":
                header = item
            elif item.get("type") == "case":
                rows.append(item["row"])
    return header, rows


class Journal:
    """The journal of one run."""

    def __init__(self, path: str | os.PathLike, header: dict[str, Any], resume: bool) -> None:
        self.path = Path(path)
        self.done: dict[str, dict[str, Any]] = {}
        if resume:
            old, rows = read_journal(self.path)
            if old is not None:
                diff = [k for k in RESUME_KEYS if old.get(k) != header.get(k)]
                if diff:
                    k = diff[0]
                    raise UsageError(
                        f"--resume: journal {self.path} was written for a different configuration "
                        f"({k}={old.get(k)!r}, now {header.get(k)!r}); remove it or drop --resume"
                    )
            self.done = {r["case_id"]: r for r in rows if r.get("status") == "ok"}
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

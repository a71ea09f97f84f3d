"""The two ways a run says no: a bad option (before any case starts) and a case that
could not be measured (on either side of the worker process boundary)."""

from __future__ import annotations


class UsageError(ValueError):
    """A bad option value: one line that names it and what is valid."""


class CaseFailure(Exception):
    """A case that could not be measured, on either side of the process boundary.

    ``status`` is "skipped", "oom", "timeout" or "error"; ``reason`` one line."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason

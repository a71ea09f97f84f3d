"""The two ways a run says no: a bad option (before any case starts) and a case that
could not be measured (on either side of the worker process boundary)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from resnet.errors import InputError


class UsageError(InputError):
    """A bad option value: one line that names it and what is valid."""


class CaseFailure(Exception):
    """A case that could not be measured, on either side of the process boundary.

    ``status`` is "skipped", "oom", "timeout" or "error"; ``reason`` one line."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


def typed(flag: str, parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An option's parser as argparse (and pytest's addoption) wants it: a bad value reads
    ``argument FLAG: problem``, one line."""
    import argparse

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except UsageError as err:
            raise argparse.ArgumentTypeError(str(err).removeprefix(f"{flag}: ")) from None

    convert.__name__ = flag
    return convert

"""How resnet-bench says no, at every layer: one base class, :class:`BenchError`, whose
message is one line; every command ends on one with that line and exit code 2, and
``main`` catches it once.

:class:`InputError`: what the user gave cannot be used (an option, a file, a store, an
output path); the line names the input, what was wrong and what is valid. Each layer
raises its own subclass (LoadError, StoreError, OutputError, UsageError, ...), so a caller
can tell them apart.

:class:`Unavailable`: something optional is missing on this machine (a library, a device,
a data set); the case or section that needed it is skipped with the line, which says how
to get it.
"""

from __future__ import annotations

from resnet.text import printable


class BenchError(Exception):
    """A problem resnet-bench reports as one line (a command exits 2 on it): a control
    character in what it quotes (a newline in a case id) is written as its escape."""

    def __init__(self, *args: object) -> None:
        super().__init__(*(printable(a) if isinstance(a, str) else a for a in args))


class InputError(BenchError, ValueError):
    """Input that cannot be used: one line naming it, the problem and what is valid."""


class Unavailable(BenchError):
    """An optional part is missing here: one line saying what and how to install it."""

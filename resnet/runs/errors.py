"""What a results file can be wrong in."""

from __future__ import annotations

import os

from resnet.errors import InputError
from resnet.text import printable


class LoadError(InputError):
    """A results file that cannot be read; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = printable(problem)

    def __reduce__(self):  # keeps the class and both parts across processes
        return type(self), (self.path, self.problem)


class NotARun(LoadError):
    """A file that is no run at all (a benchmark's summary, a configuration): a folder's
    walk passes over it with a note; named on a command line, it is an error."""

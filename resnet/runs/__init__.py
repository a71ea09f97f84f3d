"""Runs: the layer every reader stands on.

A run is one pytest-benchmark JSON file or run journal. Here it is read and checked
(:func:`read_run`: its rows held to :mod:`resnet.schema`, its machine named by the
machine file it is filed under), found (:func:`find_runs`) and turned into the one frame
every reader takes (:func:`load`, :func:`to_frame`; :func:`as_history` for a history).
The results store (:mod:`resnet.store`) and the analysis (:mod:`resnet.analysis`) both
stand on this layer, side by side; nothing here imports either.
"""

from resnet.runs.errors import LoadError, NotARun
from resnet.runs.folders import as_history, find_runs, load, load_history
from resnet.runs.frame import (
    RUN_COLUMNS,
    SOURCE_COLUMNS,
    drift_columns,
    identity_conflicts,
    to_frame,
)
from resnet.runs.reading import RunFile, load_file, read_run, versions_text

__all__ = [
    "RUN_COLUMNS",
    "SOURCE_COLUMNS",
    "LoadError",
    "NotARun",
    "RunFile",
    "as_history",
    "drift_columns",
    "find_runs",
    "identity_conflicts",
    "load",
    "load_file",
    "load_history",
    "read_run",
    "to_frame",
    "versions_text",
]

"""``python -m resnet.engine.worker``: one worker process (started by WorkerClient)."""

from __future__ import annotations

import importlib
import os

import resnet.engine.kinds  # noqa: F401  (every kind registers its commands)
from resnet.engine.worker.core import WorkerCore
from resnet.engine.worker.protocol import main

for plugin in filter(None, os.environ.get("RESNET_BENCH_WORKER_PLUGINS", "").split(",")):
    importlib.import_module(plugin.strip())  # e.g. the tests' own commands
main(WorkerCore())

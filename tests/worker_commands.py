"""Commands only the tests need, registered in a worker started with
``RESNET_BENCH_WORKER_PLUGINS=tests.worker_commands`` (tests.sweeps.TEST_WORKER)."""

from __future__ import annotations

import os
import time
from typing import Any

from resnet.engine.worker.protocol import command


@command("sleep")
def _sleep(core: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """Hold the worker (tests of time-outs)."""
    time.sleep(float(msg["seconds"]))
    return {}


@command("raise")
def _raise(core: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """Raise an error of a kind (tests of how failures are labelled)."""
    error = {"MemoryError": MemoryError, "RuntimeError": RuntimeError}[msg["kind"]]
    raise error(msg.get("message", ""))


@command("crash")
def _crash(core: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """Die at once with an exit code (tests of a worker that dies)."""
    os._exit(int(msg.get("code", 1)))


#: With RESNET_BENCH_TEST_DIE_AFTER=N the worker kills itself (SIGKILL) at its Nth timed
#: ``step`` command (tests of an A/B run whose stack B dies part way).
_DIE_AFTER = int(os.environ.get("RESNET_BENCH_TEST_DIE_AFTER") or 0)
if _DIE_AFTER:
    import signal

    from resnet.engine.worker.protocol import HANDLERS

    _step = HANDLERS["step"]
    _count = [0]

    @command("step")
    def _dying_step(core: Any, msg: dict[str, Any]) -> dict[str, Any]:
        _count[0] += 1
        if _count[0] >= _DIE_AFTER:
            os.kill(os.getpid(), signal.SIGKILL)
        return _step(core, msg)


#: With RESNET_BENCH_TEST_CPU_FLAGS="flag,flag" (or "none") the worker sees a CPU with those
#: flags only (tests of capabilities this machine has or lacks: int8 dot products).
_FLAGS = os.environ.get("RESNET_BENCH_TEST_CPU_FLAGS")
if _FLAGS is not None:
    from resnet.engine import machine

    machine.cpu_flags = lambda cpuinfo="/proc/cpuinfo": [f for f in _FLAGS.split(",") if f and f != "none"]

"""The worker's command loop: one JSON object per line on stdin, one JSON reply per line
on the original stdout (the worker's own stdout and stderr go to stderr).  Replies are
``{"ok": true, ...}`` or ``{"ok": false, "status": "error|oom|skipped", "reason": ...}``.

Commands are a table of handlers, ``handler(core, message) -> reply``: the model core
(resnet.engine.worker.core) and each kind of measurement (resnet.engine.kinds) register
theirs with :func:`command`; tests register test-only ones from a module named in
``RESNET_BENCH_WORKER_PLUGINS``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from resnet.engine.errors import CaseFailure

#: The worker's commands, by name.
HANDLERS: dict[str, Callable[[Any, dict[str, Any]], dict[str, Any]]] = {}
#: Exception types the frameworks raise when memory runs out: TensorFlow's
#: ResourceExhaustedError, PyTorch's (CUDA) OutOfMemoryError, Python's MemoryError.
OOM_TYPES = frozenset({"ResourceExhaustedError", "OutOfMemoryError", "MemoryError"})
#: XLA (JAX) reports out-of-memory as a runtime error with this status code.
XLA_OOM_STATUS = "RESOURCE_EXHAUSTED"


def command(name: str) -> Callable[[Callable], Callable]:
    """Register the decorated ``handler(core, message) -> reply`` as the command ``name``."""

    def register(fn: Callable) -> Callable:
        HANDLERS[name] = fn
        return fn

    return register


def one_line(err: BaseException) -> str:
    """An exception as one line: its type and the start of its message."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:300]}" if text else type(err).__name__


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is the framework's own out-of-memory error (never a guess from
    words in a message: "room" or "bloom" are not out of memory)."""
    if any(cls.__name__ in OOM_TYPES for cls in type(err).__mro__):
        return True
    runtime = any(cls.__name__ in ("XlaRuntimeError", "JaxRuntimeError") for cls in type(err).__mro__)
    return runtime and str(err).lstrip().startswith(XLA_OOM_STATUS)


def answer(core: Any, msg: dict[str, Any]) -> dict[str, Any]:
    """The reply to one command."""
    try:
        handler = HANDLERS.get(msg.get("cmd"))
        if handler is None:
            raise CaseFailure("error", f"unknown command {msg.get('cmd')!r}")
        return {"ok": True, **handler(core, msg)}
    except CaseFailure as err:
        return {"ok": False, "status": err.status, "reason": err.reason}
    except Exception as err:
        traceback.print_exc(file=sys.stderr)
        return {"ok": False, "status": "oom" if is_out_of_memory(err) else "error", "reason": one_line(err)}


def serve(core: Any, inp: Any, out: Any) -> None:
    """Answer commands until ``exit`` or end of input."""
    for line in inp:
        msg = json.loads(line)
        if msg.get("cmd") == "exit":
            out.write(json.dumps({"ok": True}) + "\n")
            out.flush()
            return
        out.write(json.dumps(answer(core, msg)) + "\n")
        out.flush()


def end_with_parent() -> None:
    """Make sure this worker never outlives the sweep that started it: the kernel sends
    SIGKILL when the parent dies (Linux's parent-death signal), and a watchdog thread
    exits if the process is handed to another parent (any platform)."""
    import ctypes
    import signal
    import threading

    parent = int(os.environ.get("RESNET_BENCH_PARENT_PID") or os.getppid())
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(3)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


def main(core: Any) -> None:
    """Serve ``core``: keep the protocol on the original stdout, everything else on stderr."""
    end_with_parent()
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(core, sys.stdin, proto)
    # Every reply is written and every command's files are closed: skip the interpreter's
    # teardown of TensorFlow, JAX or PyTorch (about a second a worker, hundreds per sweep).
    sys.stderr.flush()
    os._exit(0)

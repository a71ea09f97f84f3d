"""The readers' heavy work spread over the machine's cores: reading a thousand files,
comparing each run with the one before it, searching every case's history for change
points.  Each job is independent and its result is the one a single process gives (the
same seeds, the same order), so the number of processes changes the time, never the
answer.

``RESNET_BENCH_JOBS`` sets the number of processes (1: everything in this one); by default,
the cores this process may run on.  Work too small to pay for starting processes (a CI
history of a few dozen runs) stays in this process.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from resnet.errors import InputError

JOBS_ENV = "RESNET_BENCH_JOBS"

T = TypeVar("T")
R = TypeVar("R")

_pool: ProcessPoolExecutor | None = None
_pool_size = 0


class JobsError(InputError):
    """``RESNET_BENCH_JOBS`` is not a whole number of at least 1."""


def jobs() -> int:
    """How many processes the readers may use: ``RESNET_BENCH_JOBS``, else the cores."""
    text = os.environ.get(JOBS_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise JobsError(f"{JOBS_ENV}={text!r} is not valid; give a whole number of processes, 1 or more")
        return int(text)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _executor(size: int) -> ProcessPoolExecutor:
    """One pool for the command, started on first use (spawned: no state of this process,
    such as a loaded framework, is copied) and shut down when it exits."""
    global _pool, _pool_size
    if _pool is None or _pool_size != size:
        if _pool is not None:
            _pool.shutdown()
        _pool = ProcessPoolExecutor(size, mp_context=multiprocessing.get_context("spawn"))
        _pool_size = size
    return _pool


@atexit.register
def _shutdown() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(cancel_futures=True)
        _pool = None


#: Work of at least this many items says what it is doing on stderr (a long history's build
#: takes minutes): a line when it starts, one every PROGRESS_EVERY seconds, one when done.
PROGRESS_ITEMS = 100
PROGRESS_EVERY = 10.0


def parallel_map(
    fn: Callable[[T], R], items: Sequence[T], worth: bool = True, what: str | None = None
) -> list[R]:
    """``[fn(x) for x in items]``, in order, over ``jobs()`` processes when ``worth`` (the
    caller's judgement that the work pays for the processes) and there is more than one
    item; ``fn`` must be a module-level function and its items and results picklable.
    ``what`` (e.g. "run files"): work of PROGRESS_ITEMS items or more shows its progress."""
    size = min(jobs(), len(items))
    parallel = worth and size >= 2
    results = (
        _executor(size).map(fn, items, chunksize=max(1, len(items) // (size * 4)))
        if parallel
        else (fn(x) for x in items)
    )
    if what is None or len(items) < PROGRESS_ITEMS:
        return list(results)
    start = last = time.monotonic()
    processes = f" over {size} processes" if parallel else ""
    _say(f"{what}: {len(items)} to go{processes}")
    out = []
    for result in results:
        out.append(result)
        if time.monotonic() - last >= PROGRESS_EVERY:
            last = time.monotonic()
            _say(f"{what}: {len(out)} of {len(items)} ({last - start:.0f} s)")
    _say(f"{what}: {len(items)} done in {time.monotonic() - start:.1f} s")
    return out


def _say(line: str) -> None:
    print(f"[resnet-bench] {line}", file=sys.stderr, flush=True)


def split(items: Sequence[Any], parts: int) -> list[Sequence[Any]]:
    """``items`` in ``parts`` contiguous slices of near-equal size (none empty)."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out

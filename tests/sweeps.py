"""Running ``pytest bench`` sweeps from tests, as a user runs them (a separate process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The environment a test gives WorkerClient for a worker with the tests' own commands
#: (tests/worker_commands.py: sleep, raise, crash).
TEST_WORKER = {"RESNET_BENCH_WORKER_PLUGINS": "tests.worker_commands"}


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(extra or {})}


def run_bench(
    *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``pytest -q ARGS`` from the repository root to the end; output captured."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(env),
    )


def start_bench(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``pytest -q -s ARGS`` and return at once; its output (stderr too) on a pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(env),
    )


class FlatPlan:
    """A RunPlan read as one object (axes, then settings, then the kinds' planning), so
    tests of options read as the options do."""

    def __init__(self, plan) -> None:
        self.plan = plan

    def __getattr__(self, name):
        for part in (self.plan.axes, self.plan.settings):
            if hasattr(part, name):
                return getattr(part, name)
        raise AttributeError(name)

    @property
    def repeat(self) -> int:
        return self.plan.settings.windows

    def cases(self, backend: str = "tensorflow"):
        return self.plan.axes.cases(backend)

    def windows_of(self, case) -> int:
        from resnet.engine.kinds.windows import windows_of

        return windows_of(self.plan, case)

    def paired_groups(self, backend: str = "tensorflow"):
        from resnet.engine.kinds.paired import groups

        return groups(self.plan)


def resolve_flat(options: dict, backend: str = "tensorflow") -> FlatPlan:
    """resnet.engine.plan.resolve, read flat."""
    from resnet.engine.plan import resolve

    return FlatPlan(resolve(options, backend))

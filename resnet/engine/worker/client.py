"""The parent's side of a worker process: start it, send it commands, enforce the
case's deadline, and turn a crash or a hang into a :class:`CaseFailure` instead of a
failed sweep.  The worker's side is :mod:`resnet.engine.worker.protocol` and
:mod:`resnet.engine.worker.core`."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from typing import Any

from resnet.engine.errors import CaseFailure
from resnet.schema import Case


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


#: Where the kernel counts out-of-memory kills of this machine's (or container's) cgroup.
OOM_COUNTERS = (
    ("/sys/fs/cgroup/memory.events", "oom_kill"),  # cgroup v2
    ("/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),  # cgroup v1
)


def oom_kill_count() -> int | None:
    """The cgroup's count of out-of-memory kills so far (None where none is readable)."""
    for path, key in OOM_COUNTERS:
        try:
            with open(path) as f:
                for line in f:
                    name, _, value = line.partition(" ")
                    if name == key:
                        return int(value)
        except (OSError, ValueError):
            continue
    return None


def oom_evidence(pid: int, kills_before: int | None) -> str | None:
    """Why we believe ``pid`` was killed for memory: the kernel's log names it, or the
    cgroup's out-of-memory kill count went up while it ran; None without evidence."""
    try:
        log = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        log = ""
    for line in log.splitlines()[-200:]:
        if "out of memory" in line.lower() or "oom-kill" in line.lower():
            if f"pid={pid}," in line or f"process {pid} " in line.lower():
                return "kernel log: " + " ".join(line.split())[:160]
    after = oom_kill_count()
    if kills_before is not None and after is not None and after > kills_before:
        return f"cgroup oom_kill count {kills_before} -> {after}"
    return None


class WorkerClient:
    """One worker process, for one case, seen from the parent.

    Args:
        threads: compute threads (None: every core the process may use).
        timeout: seconds the whole case may take, start-up included.
        env: extra environment variables for the worker.
        cpu_devices: split the CPU into this many devices for data-parallel cases (JAX
            needs it before it starts; TensorFlow splits the CPU itself, in the worker).
        python: the interpreter the worker runs (None: this one; another stack's, for A/B).
        cwd: where the worker starts (a checkout's folder: ``python -m`` imports its code).
    """

    def __init__(
        self,
        threads: int | None = None,
        timeout: float = 1800.0,
        env: dict[str, str] | None = None,
        cpu_devices: int | None = None,
        python: str | None = None,
        cwd: str | None = None,
    ) -> None:
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        child_env = dict(os.environ)
        child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        if threads:
            child_env["OMP_NUM_THREADS"] = str(threads)
            flags = child_env.get("XLA_FLAGS", "")
            child_env["XLA_FLAGS"] = (
                f"{flags} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={threads}"
            ).strip()
        if cpu_devices and cpu_devices > 1:
            flags = child_env.get("XLA_FLAGS", "")
            child_env["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={cpu_devices}".strip()
        child_env["RESNET_BENCH_PARENT_PID"] = str(os.getpid())  # the worker ends with us
        child_env.update(env or {})
        self.proc = subprocess.Popen(
            [python or sys.executable, "-m", "resnet.engine.worker"],
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if os.environ.get("RESNET_BENCH_WORKER_LOG") else subprocess.DEVNULL,
            env=child_env,
            text=True,
            bufsize=1,
        )
        self._oom_kills = oom_kill_count()
        self._sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.info = self.call("start", threads=threads)

    def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send one command and wait for its reply (within the case's deadline)."""
        self.send(cmd, **args)
        return self.receive(cmd)

    def send(self, cmd: str, **args: Any) -> None:
        """Send a command without waiting (pair with :meth:`receive`); a Case travels as its axes."""
        assert self.proc.stdin is not None
        message = {"cmd": cmd, **{k: v.to_dict() if isinstance(v, Case) else v for k, v in args.items()}}
        try:
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._died()

    def receive(self, cmd: str = "command") -> dict[str, Any]:
        """Wait for the reply to the last command sent, within the case's deadline."""
        assert self.proc.stdout is not None
        remaining = self.deadline - time.monotonic()
        if remaining <= 0 or not self._sel.select(timeout=remaining):
            self.kill()
            raise CaseFailure("timeout", f"no answer to {cmd!r} within the case's {self.timeout:g} s")
        line = self.proc.stdout.readline()
        if not line:
            self._died()
        reply = json.loads(line)
        if not reply.pop("ok"):
            raise CaseFailure(reply.get("status", "error"), reply.get("reason", "unknown error"))
        return reply

    def _died(self) -> None:
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.returncode
        if code is not None and code < 0:
            name = _signal_name(code)
            evidence = oom_evidence(self.proc.pid, self._oom_kills) if name == "SIGKILL" else None
            if evidence:
                raise CaseFailure("oom", f"worker killed by the kernel's out-of-memory killer ({evidence})")
            raise CaseFailure("error", f"worker killed by {name}")
        raise CaseFailure("error", f"worker exited with code {code}")

    def kill(self) -> None:
        """Stop the worker now."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        """Ask the worker to exit; kill it if it does not."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"cmd": "exit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
        self._sel.close()

    def __enter__(self) -> WorkerClient:
        return self

    def __exit__(self, kind: type | None, *exc: object) -> None:
        if kind is not None:  # interrupted (SIGTERM, Ctrl-C) or failed: stop the worker now
            self.kill()
        self.close()

"""Software stacks for A/B runs (``pytest bench --ab SPEC``): which Python interpreter a
worker runs, which checkout of resnet-bench it imports, and which environment settings
it gets.

A SPEC is words separated by spaces (quoted as a shell quotes them): ``KEY=VALUE`` is an
environment setting (``TF_ENABLE_ONEDNN_OPTS=0``); a virtual environment's folder or a
Python executable is the interpreter; a checkout of resnet-bench (a folder holding
``resnet/__init__.py``) is the code the worker imports (it starts in that folder, with the
folder first on ``PYTHONPATH``); ``same`` alone is the sweep's own stack (an A/A run, whose
intervals should hold 1).  Whatever a SPEC leaves out is this stack's own: the
interpreter the sweep runs in, the code it imports, its environment.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resnet.engine.errors import UsageError

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The distributions a stack's description names (those installed).
PACKAGES = ("tensorflow", "keras", "jax", "torch", "onnxruntime", "openvino", "numpy")
#: Seconds a stack's interpreter may take to say what it is.
PROBE_TIMEOUT = 180.0


@dataclass(frozen=True)
class Stack:
    """One side of an A/B run.

    Args:
        python: the interpreter a worker of this stack runs (None: the sweep's own).
        checkout: the resnet-bench checkout its workers import (None: the sweep's own).
        env: environment settings added to its workers'.
        spec: the SPEC it was read from ("" for the sweep's own stack).
    """

    python: str | None = None
    checkout: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    spec: str = ""

    @property
    def interpreter(self) -> str:
        """The Python executable its workers run."""
        return self.python or sys.executable

    def environment(self) -> dict[str, str]:
        """The settings its workers get on top of the sweep's environment."""
        out = dict(self.env)
        if self.checkout:
            path = [self.checkout, *filter(None, [out.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))])]
            out["PYTHONPATH"] = os.pathsep.join(path)
        return out

    @property
    def cwd(self) -> str | None:
        """Where its workers start (a checkout's folder, so ``python -m`` finds its code first)."""
        return self.checkout

    def describe(self) -> str:
        """``this stack`` or what the SPEC changes, in a few words."""
        parts = []
        if self.python:
            parts.append(f"python {self.python}")
        if self.checkout:
            parts.append(f"checkout {self.checkout}")
        parts += [f"{k}={v}" for k, v in self.env]
        return ", ".join(parts) or "this stack"


def _interpreter(path: Path) -> Path | None:
    """The Python executable a path names: itself, or a virtual environment's bin/python."""
    if path.is_dir():
        for name in ("bin/python", "bin/python3", "Scripts/python.exe"):
            if (path / name).is_file():
                return path / name
        return None
    return path if path.is_file() and os.access(path, os.X_OK) else None


def parse_stack(text: Any, flag: str = "--ab") -> Stack:
    """A SPEC -> Stack; UsageError naming the word that is none of the three."""
    raw = str(text).strip()
    try:
        words = shlex.split(raw)
    except ValueError as err:
        raise UsageError(f"{flag}: {raw!r} cannot be split into words ({err})") from None
    if not words:
        raise UsageError(
            f"{flag}: empty; give KEY=VALUE settings, a Python interpreter or virtual environment, "
            "and/or a resnet-bench checkout, e.g. TF_ENABLE_ONEDNN_OPTS=0 (same: this stack)"
        )
    python = checkout = None
    env: dict[str, str] = {}
    if words == ["same"]:
        return Stack(spec=raw)
    for word in words:
        key, sep, value = word.partition("=")
        if sep and _KEY.fullmatch(key):
            env[key] = value
            continue
        path = Path(word).expanduser()
        if path.is_dir() and (path / "resnet" / "__init__.py").is_file():
            if checkout is not None:
                raise UsageError(f"{flag}: two checkouts ({checkout}, {word}); a stack imports one")
            checkout = str(path.resolve())
            continue
        found = _interpreter(path)
        if found is not None:
            if python is not None:
                raise UsageError(f"{flag}: two interpreters ({python}, {word}); a stack runs one")
            python = str(found.absolute())
            continue
        raise UsageError(
            f"{flag}: {word!r} is neither KEY=VALUE, a Python interpreter or virtual environment, "
            "nor a resnet-bench checkout (a folder holding resnet/__init__.py); same alone: this stack"
        )
    return Stack(python, checkout, tuple(env.items()), raw)


def parse_spec(flag: str) -> Any:
    """The option parser of ``flag``: the SPEC checked, kept as its text (a plan holds text)."""

    def parse(text: Any) -> str:
        return parse_stack(text, flag).spec

    return parse


#: What a stack's interpreter prints about itself (run with the stack's settings, where its
#: workers start).
_PROBE = """
import json, sys
from importlib import metadata
out = {"python": sys.version.split()[0], "executable": sys.executable}
try:
    import resnet
    out["resnet"] = resnet.__file__
except Exception as err:
    out["error"] = f"{type(err).__name__}: {err}"
for name in %r:
    try:
        out[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
print(json.dumps(out))
"""


def probe(stack: Stack, label: str) -> dict[str, Any]:
    """What the stack runs (interpreter, Python and package versions, the resnet package it
    imports), asked of its interpreter with its settings; UsageError when it cannot import
    resnet-bench at all (no case could run)."""
    env = {**os.environ, **stack.environment()}
    try:
        done = subprocess.run(
            [stack.interpreter, "-c", _PROBE % (PACKAGES,)],
            capture_output=True,
            text=True,
            env=env,
            cwd=stack.cwd,
            timeout=PROBE_TIMEOUT,
        )
        info = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    except (OSError, subprocess.SubprocessError, ValueError) as err:
        raise UsageError(
            f"stack {label} ({stack.describe()}): its interpreter did not start: {err}"
        ) from None
    if "error" in info or "resnet" not in info:
        why = info.get("error") or " ".join(done.stderr.split())[-300:] or f"exit code {done.returncode}"
        raise UsageError(
            f"stack {label} ({stack.describe()}) cannot import resnet-bench ({why}); install it in that "
            "environment (pip install -e CHECKOUT) or name a checkout in the SPEC"
        )
    return {"label": label, "spec": stack.spec, "describe": stack.describe(), **info}


def summary(info: dict[str, Any]) -> str:
    """``python 3.11.2, tensorflow 2.21.0, keras 3.15.1, resnet from /x; TF_ENABLE_ONEDNN_OPTS=0``."""
    versions = ", ".join(f"{name} {info[name]}" for name in ("python", *PACKAGES) if info.get(name))
    return f"{versions}; resnet from {Path(info['resnet']).parent.parent}; {info['describe']}"

"""Every fact of this machine and its environment a run needs: CPU, memory, GPUs,
library versions, the cores and memory a run may use, the Keras backend and TF_CONFIG."""

from __future__ import annotations

import functools
import glob
import json
import os
import platform
import shutil
import subprocess
from importlib import metadata
from typing import Any

from resnet.engine.errors import UsageError
from resnet.schema import BACKENDS

#: CPU features that decide how fast ResNet-50 runs on a CPU: vector width, and the
#: bfloat16 and int8 instructions (without AVX-512 BF16 or AMX, bfloat16 is emulated).
CPU_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "avx_vnni_int8",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> list[str]:
    """The CPU_FLAGS this CPU reports (from /proc/cpuinfo on Linux; empty elsewhere)."""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [flag for flag in CPU_FLAGS if flag in have]
    except OSError:
        pass
    return []


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def nvidia_gpus() -> tuple[dict[str, str], ...]:
    """Every NVIDIA GPU nvidia-smi lists: name, memory, driver, compute capability."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return ()
    fields = "index,name,memory.total,driver_version,compute_cap"
    try:
        out = subprocess.run(
            [exe, f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 5:
            gpus.append(
                {
                    "index": parts[0],
                    "name": parts[1],
                    "memory_mb": parts[2],
                    "driver": parts[3],
                    "compute_capability": parts[4],
                }
            )
    return tuple(gpus)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def cpu_identity(cpuinfo: str = "/proc/cpuinfo", sysfs: str = "/sys/devices/system/cpu/cpu0/cache") -> dict:
    """What names a CPU when its brand string does not (a VM's often reads just "AMD EPYC"):
    vendor, family, model number and stepping from /proc/cpuinfo, and its cache sizes (KiB)."""
    keys = {"vendor_id": "cpu_vendor", "cpu family": "cpu_family", "model": "cpu_model_number",
            "stepping": "cpu_stepping", "cpu MHz": "cpu_mhz"}  # fmt: skip
    out: dict[str, Any] = {}
    try:
        with open(cpuinfo) as f:
            for line in f:
                name, _, value = (part.strip() for part in line.partition(":"))
                if not name and out:
                    break  # the first processor's block is enough
                if name in keys and keys[name] not in out:
                    out[keys[name]] = _fact(name, value)
    except OSError:
        pass
    caches = {}
    for index in sorted(glob.glob(os.path.join(sysfs, "index*"))):
        try:
            level = open(os.path.join(index, "level")).read().strip()
            kind = open(os.path.join(index, "type")).read().strip()
            size = open(os.path.join(index, "size")).read().strip()
        except OSError:
            continue
        name = f"L{level}" + {"Data": "d", "Instruction": "i"}.get(kind, "")
        number, unit = size[:-1], size[-1:].upper()
        if number.isdigit() and unit in ("K", "M"):
            caches[name] = int(number) * (1024 if unit == "M" else 1)
    if caches:
        out["cpu_caches_kb"] = caches
    return out


def _fact(name: str, value: str) -> Any:
    """One /proc/cpuinfo value typed: the vendor as text, the clock in MHz, the rest whole numbers."""
    if name == "vendor_id":
        return value
    if name == "cpu MHz":
        try:
            return round(float(value), 1)
        except ValueError:
            return None
    return int(value) if value.isdigit() else None


#: CPU generations by (vendor, family, model numbers): what a VM's brand string hides.
GENERATIONS: tuple[tuple[str, int, range, str], ...] = (
    ("AuthenticAMD", 23, range(0x00, 0x30), "Zen"),
    ("AuthenticAMD", 23, range(0x30, 0x80), "Zen 2"),
    ("AuthenticAMD", 25, range(0x00, 0x10), "Zen 3"),
    ("AuthenticAMD", 25, range(0x10, 0x20), "Zen 4"),
    ("AuthenticAMD", 25, range(0x20, 0x60), "Zen 3"),
    ("AuthenticAMD", 25, range(0xA0, 0xB0), "Zen 4c"),
    ("AuthenticAMD", 26, range(0x00, 0x100), "Zen 5"),
    ("GenuineIntel", 6, range(85, 86), "Skylake/Cascade Lake"),
    ("GenuineIntel", 6, range(106, 107), "Ice Lake"),
    ("GenuineIntel", 6, range(143, 144), "Sapphire Rapids"),
    ("GenuineIntel", 6, range(173, 174), "Granite Rapids"),
    ("GenuineIntel", 6, range(207, 208), "Emerald Rapids"),
)


#: py-cpuinfo's keys (pytest-benchmark's ``machine_info.cpu``) for the facts a run names its CPU by.
PY_CPUINFO = {"vendor_id_raw": "cpu_vendor", "family": "cpu_family", "model": "cpu_model_number",
              "stepping": "cpu_stepping", "brand_raw": "cpu_model", "flags": "cpu_flags"}  # fmt: skip


def recorded(info: dict[str, Any]) -> dict[str, Any]:
    """A run's machine facts with what py-cpuinfo recorded (``machine_info.cpu``, written by
    pytest-benchmark into every run) filling the CPU facts the run lacks, so a run made
    before resnet-bench recorded them itself still names its CPU's family, model and flags,
    wherever its file lies."""
    cpu = info.get("cpu")
    if not isinstance(cpu, dict):
        return info
    out = dict(info)
    for theirs, ours in PY_CPUINFO.items():
        value = cpu.get(theirs)
        if out.get(ours) in (None, "", []) and value not in (None, "", []):
            if ours in ("cpu_family", "cpu_model_number", "cpu_stepping") and not isinstance(value, int):
                continue
            if ours == "cpu_flags" and not (
                isinstance(value, list) and all(isinstance(f, str) for f in value)
            ):
                continue
            out[ours] = value
    return out


def cpu_generation(info: dict[str, Any]) -> str | None:
    """The CPU's generation from its vendor, family and model number (None: unknown)."""
    vendor, family, model = info.get("cpu_vendor"), info.get("cpu_family"), info.get("cpu_model_number")
    if not isinstance(family, int) or not isinstance(model, int):
        return None
    if vendor is None:  # runs that recorded the numbers without the vendor
        vendor = "AuthenticAMD" if "AMD" in str(info.get("cpu_model", "")) else "GenuineIntel"
    return next(
        (g for v, f, models, g in GENERATIONS if (v, f) == (vendor, family) and model in models), None
    )


def machine_info() -> dict[str, Any]:
    """Machine facts that need no backend import (the worker adds the backend's)."""
    import psutil

    return {
        "cpu_model": cpu_model(),
        **cpu_identity(),
        "cpu_flags": cpu_flags(),
        "cpu_cores_logical": psutil.cpu_count(logical=True),
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpus": list(nvidia_gpus()),
        "versions": {
            name: _version(name)
            for name in ("tensorflow", "keras", "jax", "jaxlib", "torch", "numpy", "resnet-bench")
        },
        "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
    }


def machine_label(info: dict[str, Any]) -> str:
    """A short label for a machine: the name a user gave it (``machine.json``), else its
    first GPU, else its CPU and core count, and where the run recorded the CPU's flags, its
    bfloat16 hardware (one CPU model name can come with AMX or without it, as a VM exposes
    it: ``Intel Xeon x2 (no BF16)``).  A brand string with no model number in it (a VM's
    "AMD EPYC") gets the generation its family and model number name (``AMD EPYC Zen 5``)."""
    if info.get("label"):
        return str(info["label"])
    info = recorded(info)
    gpus = info.get("gpus") or []
    if gpus:
        name = gpus[0].get("name", "GPU")
        return f"{len(gpus)}x {name}" if len(gpus) > 1 else str(name)
    cpu = str(info.get("cpu_model") or info.get("cpu") or "CPU")
    for word in ("(R)", "(TM)", " Processor", " CPU", "-Core"):
        cpu = cpu.replace(word, "")
    generation = cpu_generation(info)
    if generation and not any(ch.isdigit() for ch in cpu):
        cpu = f"{cpu} {generation}"
    cores = info.get("cpu_affinity") or info.get("cpu_cores_logical")
    label = f"{' '.join(cpu.split())} x{cores}" if cores else " ".join(cpu.split())
    flags = info.get("cpu_flags")
    if isinstance(flags, list):
        bf16 = "AMX" if "amx_bf16" in flags else "AVX-512 BF16" if "avx512_bf16" in flags else "no BF16"
        label += f" ({bf16})"
    return label


def slug(label: str) -> str:
    """A machine label as a file-name part and store key: ``intel-xeon-x2-amx``."""
    import re

    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def default_devices() -> tuple[str, ...]:
    """``cpu`` plus every NVIDIA GPU that nvidia-smi lists (checked again per case)."""
    return ("cpu", *(f"gpu:{i}" for i in range(len(nvidia_gpus()))))


def available_cores() -> int:
    """The cores this process may run on (its affinity), else every logical core."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def available_memory_bytes() -> int:
    """Memory a new allocation can have now (psutil's ``available``)."""
    import psutil

    return int(psutil.virtual_memory().available)


def tf_config_workers() -> int:
    """The number of workers in TF_CONFIG; a UsageError when it is missing or malformed."""
    text = os.environ.get("TF_CONFIG", "")
    if not text.strip():
        raise UsageError(
            "--strategy multiworker needs TF_CONFIG (cluster.worker list and task) in the environment"
        )
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task = config["task"]
        index = int(task["index"])
        ok = isinstance(workers, list) and workers and task["type"] in ("worker", "chief") and index >= 0
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise UsageError(
            'TF_CONFIG is malformed; expected {"cluster": {"worker": ["host:port", ...]}, '
            '"task": {"type": "worker", "index": N}}'
        )
    if index >= len(workers):
        raise UsageError(f"TF_CONFIG task index {index} is out of range for {len(workers)} workers")
    return len(workers)


def current_backend() -> str:
    """The Keras backend this run uses (KERAS_BACKEND, default tensorflow)."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow").strip() or "tensorflow"
    if backend not in BACKENDS:
        raise UsageError(f"KERAS_BACKEND={backend!r} is not supported; valid: {', '.join(BACKENDS)}")
    installed = installed_backends()
    if backend not in installed:
        raise UsageError(
            f"KERAS_BACKEND={backend!r} is not installed; installed: {', '.join(installed) or 'none'}"
        )
    return backend


def installed_backends() -> list[str]:
    """The Keras backends whose library can be imported here."""
    import importlib.util

    return [b for b in BACKENDS if importlib.util.find_spec(b) is not None]


#: The facts that tell two machines apart when their labels agree.
IDENTITY = ("cpu_model", "cpu_vendor", "cpu_family", "cpu_model_number", "cpu_stepping", "gpus")


def machine_identity(info: dict[str, Any]) -> dict[str, Any]:
    """The facts of ``info`` that identify the hardware (unknown ones left out)."""
    info = recorded(info)
    out = {k: info.get(k) for k in IDENTITY if info.get(k) not in (None, [], "")}
    if "gpus" in out:
        out["gpus"] = [g.get("name") for g in out["gpus"] if isinstance(g, dict)]
    return out


def identities_conflict(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The facts known in both that differ (empty: the two may be one machine)."""
    return [k for k in IDENTITY if k in a and k in b and a[k] != b[k]]

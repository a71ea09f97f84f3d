"""Make PyPI's torchvision wheel import beside the CPU build of torch (the peer needs it).

PyPI's torchvision is built against the CUDA torch; beside the CPU torch its C++
operators (nms, roi_align, ...) do not load, and ``torchvision/_meta_registrations.py``,
which registers meta kernels for those operators, fails at import with "operator
torchvision::nms does not exist". The peer uses only ``torchvision.models`` (plain
convolutions), so this script empties that one module (kept as ``.orig`` beside it) when,
and only when, the import fails with that error, then checks that resnet50 builds.

    .venv/bin/python scripts/torchvision_cpu.py      (scripts/setup.sh --backends runs it)
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

CHECK = "import torchvision; torchvision.models.resnet50(); print(torchvision.__version__)"
STUB = (
    '"""Emptied by resnet-bench scripts/torchvision_cpu.py: the C++ operators it registers\n'
    'meta kernels for are not loaded beside the CPU torch (original: _meta_registrations.py.orig)."""\n'
)


def _check() -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)


def main() -> int:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        print("torchvision is not installed; the peer's cases will be skipped")
        return 0
    first = _check()
    if first.returncode == 0:
        print(f"torchvision {first.stdout.strip()} imports as it is")
        return 0
    if "operator torchvision::nms does not exist" not in first.stderr:
        print(f"torchvision fails to import for another reason:\n{first.stderr[-2000:]}", file=sys.stderr)
        return 1
    module = Path(spec.submodule_search_locations[0]) / "_meta_registrations.py"
    backup = module.with_name(module.name + ".orig")
    if not backup.exists():
        shutil.copy2(module, backup)
    module.write_text(STUB)
    second = _check()
    if second.returncode != 0:
        print(f"torchvision still fails to import:\n{second.stderr[-2000:]}", file=sys.stderr)
        return 1
    print(f"torchvision {second.stdout.strip()} imports beside the CPU torch ({module.name} emptied)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

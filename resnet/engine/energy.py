"""Energy counters, where the hardware has one: NVIDIA's management library on
GPUs, RAPL under /sys/class/powercap on CPUs.  Where there is none (or it is not
readable) the reading is None, never an estimate."""

from __future__ import annotations

import glob
import os
from typing import Any

from resnet.schema import device_index


class EnergyCounter:
    """Cumulative joules of one device since an arbitrary origin."""

    source = "none"

    def read(self) -> float | None:
        """Joules so far, or None when there is no counter."""
        return None


class RaplCounter(EnergyCounter):
    """The CPU packages' RAPL energy (intel-rapl:N), summed, with wrap-around."""

    source = "rapl"

    def __init__(self, root: str = "/sys/class/powercap") -> None:
        self.zones = [z for z in sorted(glob.glob(os.path.join(root, "intel-rapl:*"))) if z.count(":") == 1]
        self.last: dict[str, int] = {}
        self.total = 0.0

    def read(self) -> float | None:
        try:
            for zone in self.zones:
                with open(os.path.join(zone, "energy_uj")) as f:
                    now = int(f.read())
                prev = self.last.get(zone)
                if prev is not None:
                    delta = now - prev
                    if delta < 0:  # the counter wrapped
                        with open(os.path.join(zone, "max_energy_range_uj")) as f:
                            delta += int(f.read())
                    self.total += delta / 1e6
                self.last[zone] = now
        except (OSError, ValueError):
            return None
        return self.total if self.zones else None


class NvmlCounter(EnergyCounter):
    """A GPU's total energy since the driver loaded (millijoules in NVML)."""

    source = "nvml"

    def __init__(self, index: int) -> None:
        import pynvml

        pynvml.nvmlInit()
        self.nvml = pynvml
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)

    def read(self) -> float | None:
        try:
            return self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) / 1000.0
        except Exception:
            return None


def counter_for(device: str) -> EnergyCounter:
    """The best counter for ``device`` ("cpu" or "gpu:N"); a null one if none works."""
    try:
        if device == "cpu":
            rapl = RaplCounter()
            return rapl if rapl.read() is not None else EnergyCounter()
        counter: Any = NvmlCounter(device_index(device))
        return counter if counter.read() is not None else EnergyCounter()
    except Exception:
        return EnergyCounter()

"""Made-up runs in pytest-benchmark's JSON shape, for measuring the tool itself (the loader,
the store, the pages) and for tests; never for results."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np

from resnet.schema import Case


def write_synthetic_runs(
    directory: str | os.PathLike, files: int, cases: int, steps: int = 0, dated: bool = False, shifts: int = 0
) -> list[Path]:
    """Write ``files`` pytest-benchmark-shaped JSON files of ``cases`` cases each.

    Args:
        steps: timed steps kept per case (``samples_s``, one window), with a drift-probe
            series, as real runs keep them (0: none).
        dated: ISO dates an hour apart, a commit and a branch per run, and figures with 2%
            seeded noise (a history to read); else dates ``run0``, ``run1``, ... and fixed figures.
        shifts: changes in every case's history, evenly spaced, each making it 10% slower
            (0: none; a history with change points to find, for the readers' benchmarks).
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    paths = []
    for f in range(files):
        rng = np.random.default_rng(f)
        benchmarks = []
        for c in range(cases):
            case = Case(  # every case its own axes: the image size tells them apart
                ("v1", "v1.5", "v2")[c % 3],
                ("inference", "training")[c % 2],
                2 ** (c % 8),
                "float32",
                "cpu",
                False,
                32 + c,
            )
            speed = (10.0 + c) * (1 + 0.02 * rng.standard_normal()) if dated else 10.0 + c
            speed *= 0.9 ** sum(f >= files * (k + 1) // (shifts + 1) for k in range(shifts))
            extra = {
                **case.to_dict(),
                "case_id": f"case{c}",
                "kind": "case",
                "status": "ok",
                "images_per_sec": speed,
                "images_per_sec_best": speed * 1.05,
                "latency_ms_p50": 100.0,
            }
            if steps:
                step = case.batch_size / speed
                times = (step * (1 + 0.01 * rng.standard_normal(steps))).round(9).tolist()
                extra.update(
                    samples_s=[times],
                    windows=1,
                    images_per_sec_ci_low=speed * 0.98,
                    images_per_sec_ci_high=speed * 1.02,
                    machine_speed_series=[[1.7e9 + f * 3600 + c, 250.0], [1.7e9 + f * 3600 + c + 1, 251.0]],
                )
            stats = {"median": 0.1, "mean": 0.1, "min": 0.09, "max": 0.12, "iqr": 0.01, "rounds": 5}
            benchmarks.append(
                {
                    "name": f"test_case[case{c}]",
                    "params": {"case": f"case{c}"},
                    "extra_info": extra,
                    "stats": stats,
                }
            )
        data = {"machine_info": {"cpu_model": "synthetic"}, "datetime": f"run{f}", "benchmarks": benchmarks}
        if dated:
            data["datetime"] = (start + dt.timedelta(hours=f)).isoformat()
            data["commit_info"] = {"id": f"{f:040x}", "branch": "main", "dirty": False}
        path = out / f"{f:04d}_run.json"
        path.write_text(json.dumps(data))
        paths.append(path)
    return paths

"""The suite's OpenVINO cases against OpenVINO's own ``benchmark_app`` on the same IR,
precision, batch and configuration, interleaved: each round runs both for every
(configuration, batch) in a seeded shuffled order, the suite's case and benchmark_app
one after the other (which goes first alternating by round), so the machine's drift falls
on both alike.  Writes OUT/agreement.json and OUT/README.md; every run's JSON and log stay
in OUT.

    python scripts/vendor_agreement.py OUT [--batch-sizes 1,32] [--configs latency,throughput]
        [--precision float32] [--rounds 3] [--seconds 10] [--image-size 224] [--version v1.5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRECISION = {"float32": "f32", "mixed_bfloat16": "bf16"}


def suite(out: Path, env: dict, args: argparse.Namespace, config: str, batch: int, tag: str) -> float:
    """The suite's case (one window of at least ``--seconds`` of timed steps): its images/s."""
    path = out / f"suite-{config}-bs{batch}-{tag}.json"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "bench/test_throughput.py",
           "--versions", args.version, "--modes", "inference", "--batch-sizes", str(batch),
           "--precisions", args.precision, "--runtimes", "openvino", "--runtime-configs", config,
           "--image-size", str(args.image_size), "--windows", "1", "--min-time", str(args.seconds),
           "--paired", "off", "--benchmark-json", str(path)]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    (out / f"suite-{config}-bs{batch}-{tag}.log").write_text(done.stdout + done.stderr)
    rows = [r for r in json.loads(path.read_text())["resnet_bench"]["cases"] if r["kind"] == "case"]
    (row,) = rows
    if row["status"] != "ok":
        raise SystemExit(f"the suite's case did not run: {row['status']}: {row['reason']}")
    return float(row["images_per_sec"])


def vendor(
    out: Path, env: dict, args: argparse.Namespace, model: Path, config: str, batch: int, tag: str
) -> float:
    """benchmark_app on the suite's IR: its throughput (images/s)."""
    tool = Path(sys.executable).with_name("benchmark_app")
    size = args.image_size
    cmd = [str(tool), "-m", str(model), "-d", "CPU", "-hint", config, "-t", str(args.seconds),
           "-infer_precision", PRECISION[args.precision], "-shape", f"[{batch},{size},{size},3]"]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    (out / f"vendor-{config}-bs{batch}-{tag}.log").write_text(done.stdout + done.stderr)
    found = re.search(r"Throughput:\s+([0-9.]+)\s+FPS", done.stdout)
    if done.returncode or not found:
        raise SystemExit(
            f"benchmark_app failed ({done.returncode}): {done.stdout[-500:]}{done.stderr[-500:]}"
        )
    return float(found.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--batch-sizes", default="1,32")
    ap.add_argument("--configs", default="latency,throughput")
    ap.add_argument("--precision", default="float32", choices=list(PRECISION))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--version", default="v1.5")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RESNET_BENCH_CACHE": str(out / "cache"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    cells = [(c, int(b)) for c in args.configs.split(",") for b in args.batch_sizes.split(",")]
    results: dict[str, dict[str, list[float]]] = {f"{c}-bs{b}": {"suite": [], "vendor": []} for c, b in cells}
    rng = random.Random(args.seed)
    model = None
    for r in range(1, args.rounds + 1):
        for config, batch in rng.sample(cells, len(cells)):
            key, tag = f"{config}-bs{batch}", f"r{r}"
            for side in ("suite", "vendor") if r % 2 else ("vendor", "suite"):
                if side == "vendor" and model is None:  # the suite exports the IR on its first run
                    results[key]["suite"].append(suite(out, env, args, config, batch, tag))
                    (model,) = sorted((out / "cache").rglob("model.xml"))
                    continue
                if side == "suite":
                    if len(results[key]["suite"]) < r:
                        results[key]["suite"].append(suite(out, env, args, config, batch, tag))
                else:
                    results[key]["vendor"].append(vendor(out, env, args, model, config, batch, tag))
            print(f"round {r} {key}: suite {results[key]['suite'][-1]:.1f}, benchmark_app "
                  f"{results[key]['vendor'][-1]:.1f} images/s", flush=True)  # fmt: skip
    (out / "agreement.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    lines = [
        f"# The suite against benchmark_app ({args.version}, {args.precision}, {args.image_size} px)",
        "",
        "| configuration, batch | suite images/s (rounds) | benchmark_app images/s (rounds) "
        "| suite / benchmark_app per round | median |",
        "|---|---|---|---|--:|",
    ]  # fmt: skip
    for key, both in results.items():
        ratios = [s / v for s, v in zip(both["suite"], both["vendor"], strict=True)]
        lines.append(
            f"| {key} | {', '.join(f'{x:.1f}' for x in both['suite'])} | "
            f"{', '.join(f'{x:.1f}' for x in both['vendor'])} | {', '.join(f'{x:.3f}' for x in ratios)} | "
            f"{statistics.median(ratios):.3f} |"
        )
    (out / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""The suite's OpenVINO cases against OpenVINO's own ``benchmark_app`` on the same IR,
precision, batch and configuration, interleaved: each round runs both for every
(configuration, batch) in a seeded shuffled order, the suite's case and benchmark_app
one after the other (which goes first alternating by round), so the machine's drift falls
on both alike.  Writes OUT/summary.json and OUT/README.md; every run's JSON and log stay
in OUT.

    python scripts/vendor_agreement.py OUT [--batch-sizes 1,32] [--configs latency,throughput]
        [--precision float32|mixed_bfloat16|int8] [--rounds 3] [--seconds 10] [--image-size 224]
        [--version v1.5]
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
#: benchmark_app's -infer_precision per suite precision (an int8 IR's own operations are int8;
#: what stays in float runs in f32, as the suite's OpenVINO int8 case asks).
PRECISION = {"float32": "f32", "mixed_bfloat16": "bf16", "int8": "f32"}


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
    cmd = [str(tool), "-m", str(model), "-d", "CPU", "-hint", config, "-t", str(round(args.seconds)),
           "-infer_precision", PRECISION[args.precision], "-shape", f"[{batch},{size},{size},3]"]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    (out / f"vendor-{config}-bs{batch}-{tag}.log").write_text(done.stdout + done.stderr)
    if done.returncode or figures(done.stdout) is None:
        raise SystemExit(
            f"benchmark_app failed ({done.returncode}): {done.stdout[-500:]}{done.stderr[-500:]}"
        )
    return figures(done.stdout)[0]


def figures(log: str) -> tuple[float, float] | None:
    """benchmark_app's throughput (FPS: images over the whole run) and median latency (ms)."""
    fps = re.search(r"Throughput:\s+([0-9.]+)\s+FPS", log)
    median = re.search(r"Median:\s+([0-9.]+)\s+ms", log)
    return (float(fps.group(1)), float(median.group(1))) if fps and median else None


def summary(out: Path) -> str:
    """The table, from the runs' JSON and logs in OUT: for the latency configuration
    benchmark_app's images/s read two ways, its FPS (iterations over the run's duration, its
    own loop's gaps included) and the batch over its median latency (as the suite reads its
    median step); for throughput its FPS."""
    args = json.loads((out / "summary.json").read_text())["args"]
    lines = [
        f"# The suite against benchmark_app ({args['version']}, {args['precision']}, "
        f"{args['image_size']} px, {args['seconds']:g} s a run, {args['rounds']} rounds)",
        "",
        "| configuration, batch | suite images/s | benchmark_app images/s | suite / benchmark_app | median |",
        "|---|---|---|---|--:|",
    ]
    keys = sorted({p.stem.split("-r")[0].removeprefix("vendor-") for p in out.glob("vendor-*.log")})
    for key in keys:
        config, batch = key.split("-bs")
        ours, theirs, fps = [], [], []
        for log in sorted(out.glob(f"vendor-{key}-r*.log")):
            tag = log.stem.rsplit("-", 1)[1]
            cases = json.loads((out / f"suite-{key}-{tag}.json").read_text())["resnet_bench"]["cases"]
            (row,) = [r for r in cases if r["kind"] == "case"]
            got = figures(log.read_text())
            ours.append(row["images_per_sec"])
            fps.append(got[0])
            theirs.append(int(batch) / got[1] * 1000 if config == "latency" else got[0])
        ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
        read = "batch / median latency" if config == "latency" else "FPS"
        lines.append(
            f"| {config}, {batch} | {', '.join(f'{x:.1f}' for x in ours)} | "
            f"{', '.join(f'{x:.1f}' for x in theirs)} ({read}) | {', '.join(f'{x:.3f}' for x in ratios)} | "
            f"{statistics.median(ratios):.3f} |"
        )
        if config == "latency":
            ratios = [a / b for a, b in zip(ours, fps, strict=True)]
            lines.append(
                f"| {config}, {batch}, read as FPS | | {', '.join(f'{x:.1f}' for x in fps)} (FPS) | "
                f"{', '.join(f'{x:.3f}' for x in ratios)} | {statistics.median(ratios):.3f} |"
            )
    return "\n".join(lines) + "\n"


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
    ap.add_argument("--summary", action="store_true", help="only write README.md again from OUT's runs")
    args = ap.parse_args()
    out = Path(args.out).resolve()
    if args.summary:
        (out / "README.md").write_text(summary(out))
        print((out / "README.md").read_text())
        return
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RESNET_BENCH_CACHE": str(out / "cache"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    cells = [(c, int(b)) for c in args.configs.split(",") for b in args.batch_sizes.split(",")]
    results: dict[str, dict[str, list[float]]] = {f"{c}-bs{b}": {"suite": [], "vendor": []} for c, b in cells}
    rng = random.Random(args.seed)
    model = None
    for r in range(1, args.rounds + 1):
        for config, batch in rng.sample(cells, len(cells)):
            key, tag = f"{config}-bs{batch}", f"r{r}"
            for side in ("suite", "vendor") if r % 2 or model is None else ("vendor", "suite"):
                if side == "suite":
                    results[key]["suite"].append(suite(out, env, args, config, batch, tag))
                    if model is None:  # the suite's first case exported (for int8: quantized) the IR
                        name = "model-int8.xml" if args.precision == "int8" else "model.xml"
                        (model,) = sorted((out / "cache").rglob(name))
                else:
                    results[key]["vendor"].append(vendor(out, env, args, model, config, batch, tag))
            print(f"round {r} {key}: suite {results[key]['suite'][-1]:.1f}, benchmark_app "
                  f"{results[key]['vendor'][-1]:.1f} images/s", flush=True)  # fmt: skip
    (out / "summary.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    text = summary(out)
    (out / "README.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

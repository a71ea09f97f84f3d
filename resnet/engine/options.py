"""The sweep's options, typed where they come in.

Each option has one parser that turns its text into a typed value or raises
:class:`UsageError` with one line naming the option and what is valid; ``pytest
bench`` registers these parsers as the options' types (as pytest-benchmark types
its own), and profiles (resnet.engine.profiles) hold typed values, so nothing
downstream re-parses text. What the values add up to is resnet.engine.plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from resnet.engine.errors import UsageError
from resnet.engine.parsers import (
    choices,
    milliseconds,
    minutes,
    one_int,
    percent,
    positive_int,
    positive_ints,
    seconds,
    seconds_per_mode,
    split_items,
    turned_off,
)
from resnet.engine.profiles import PROFILES
from resnet.engine.stacks import parse_spec
from resnet.schema import (
    ALL_VERSIONS,
    CASE_PRECISIONS,
    DATA,
    MIN_IMAGE,
    MODES,
    PIPELINES,
    PRECISIONS,
    RUNTIME_CONFIGS,
    RUNTIMES,
    SCENARIOS,
    STAGES,
    STRATEGIES,
)

#: The longest a case may take, seconds (a day).
MAX_CASE_TIMEOUT = 86_400.0


# -- parsers of this sweep's own values (the generic ones: resnet.engine.parsers) --------
def parse_devices(text: Any) -> tuple[str, ...]:
    """``cpu``, ``gpu``, ``gpu:0``, ... (``gpu`` means ``gpu:0``)."""
    out = []
    for item in split_items(text, "--devices"):
        item = item.lower()
        if item == "gpu":
            item = "gpu:0"
        kind, _, index = item.partition(":")
        ok = (kind == "cpu" and index in ("", "0")) or (kind == "gpu" and index.isdigit())
        if not ok:
            raise UsageError(f"--devices: unknown device {item!r}; valid: cpu, gpu, gpu:0, gpu:1, ...")
        out.append("cpu" if kind == "cpu" else item)
    return tuple(dict.fromkeys(out))


def parse_jit(text: Any) -> tuple[bool, ...]:
    """``off``, ``on`` or both."""
    names = {"off": False, "on": True, "false": False, "true": True, "0": False, "1": True}
    out = []
    for item in split_items(text, "--jit"):
        if item.lower() not in names:
            raise UsageError(f"--jit: unknown value {item!r}; valid: off, on")
        out.append(names[item.lower()])
    return tuple(dict.fromkeys(out))


def parse_threads(text: Any) -> tuple[int | None, ...]:
    """Thread counts (an axis); empty means every core."""
    if not str(text).strip():
        return (None,)
    return positive_ints("--threads")(text)


def parse_warmup(text: Any) -> int:
    """A non-negative number of warm-up rounds."""
    raw = str(text).strip()
    if not raw.isdigit():
        raise UsageError(f"--warmup-rounds: {raw!r} is not a non-negative integer")
    return int(raw)


def parse_paired(text: Any) -> tuple[tuple[str, int], ...]:
    """``inference:32,training:8`` -> ((mode, batch size), ...); ``off`` for none."""
    raw = str(text).strip()
    if turned_off(raw):
        return ()
    out = []
    for item in split_items(raw, "--paired"):
        mode, sep, batch = item.partition(":")
        if not sep or mode not in MODES:
            raise UsageError(f"--paired: {item!r} is not MODE:BATCH; e.g. inference:32,training:8 (or off)")
        out.append((mode, positive_int(batch, "--paired")))
    return tuple(dict.fromkeys(out))


def parse_scenarios(text: Any) -> tuple[str, ...]:
    """LoadGen scenarios: ``single-stream,multi-stream,offline,server``; ``off`` for none."""
    if turned_off(text):
        return ()
    return choices("--scenarios", SCENARIOS)(text)


def parse_strategy(text: Any) -> str:
    """``mirrored`` or ``multiworker``."""
    (value,) = choices("--strategy", STRATEGIES)(text)[:1]
    return value


@dataclass(frozen=True)
class Option:
    """One sweep option: its flag, the Axes field it sets, its parser and help."""

    flag: str
    dest: str
    parse: Callable[[Any], Any]
    help: str
    #: Older spellings of the flag, still accepted.
    aliases: tuple[str, ...] = ()


#: Every option that sets an axis or a timing setting, in the order ``--help`` lists them.
OPTIONS: tuple[Option, ...] = (
    Option(
        "--versions",
        "versions",
        choices("--versions", ALL_VERSIONS),
        "versions: v1,v1.5,v2 (references keras-v1, keras-v2; peer torchvision-resnet50)",
    ),
    Option("--modes", "modes", choices("--modes", MODES), "inference,training"),
    Option("--batch-sizes", "batch_sizes", positive_ints("--batch-sizes"), "batch sizes, e.g. 1,8,32"),
    Option(
        "--training-batch-sizes",
        "training_batch_sizes",
        positive_ints("--training-batch-sizes"),
        "batch sizes of the training cases (default: --batch-sizes)",
    ),
    Option(
        "--precisions",
        "precisions",
        choices("--precisions", CASE_PRECISIONS),
        f"{','.join(PRECISIONS)} (default); int8: deployment runtimes only (--runtimes), quantized by "
        "their vendors' tools",
    ),
    Option("--devices", "devices", parse_devices, "cpu,gpu:0,... (default: every device found)"),
    Option("--jit", "jit", parse_jit, "XLA compilation: off, on or off,on"),
    Option(
        "--runtimes",
        "runtimes",
        choices("--runtimes", RUNTIMES),
        "what runs inference cases: keras (default), onnxruntime, openvino (exported, parity-checked)",
    ),
    Option(
        "--runtime-configs",
        "runtime_configs",
        choices("--runtime-configs", RUNTIME_CONFIGS),
        "how a deployment runtime is driven: latency (one synchronous request), throughput (the "
        "vendor's throughput setup: OpenVINO's THROUGHPUT hint with its requests in flight, ONNX "
        "Runtime one single-thread session per core), or latency,throughput",
    ),
    Option("--image-size", "image_size", one_int("--image-size", MIN_IMAGE), f"image side (>= {MIN_IMAGE})"),
    Option("--threads", "threads", parse_threads, "intra-op threads (and cores) per case: an axis, e.g. 1,2"),
    Option("--rounds", "rounds", one_int("--rounds", 1), "timed rounds per case"),
    Option("--warmup-rounds", "warmup_rounds", parse_warmup, "untimed rounds after compilation"),
    Option(
        "--min-time",
        "min_time",
        seconds("--min-time", 3600.0),
        "seconds of timed steps per case at least: more rounds than --rounds when steps are short",
    ),
    Option(
        "--windows",
        "windows",
        one_int("--windows", 1),
        "windows per case: each case is measured this many times, spread over the run in a "
        "seeded shuffled order, so drift falls on every case alike (--repeat: the same)",
        aliases=("--repeat",),
    ),
    Option(
        "--target-precision",
        "target_precision",
        percent("--target-precision", 50.0),
        "add windows to a case (from --windows up to --max-windows) until its figure's 95%% interval "
        "is within this many percent, while --time-budget lasts; off: --windows is the count",
    ),
    Option(
        "--max-windows", "max_windows", one_int("--max-windows", 1), "with --target-precision: most windows"
    ),
    Option(
        "--time-budget",
        "time_budget",
        minutes("--time-budget", 7 * 24 * 60),
        "minutes from the run's start after which no window beyond --windows starts (off: none)",
    ),
    Option("--seed", "seed", one_int("--seed", 0), "seed of the windows' and paired rounds' order"),
    Option(
        "--paired",
        "paired",
        parse_paired,
        "paired comparisons, MODE:BATCH,...: our versions in every precision stepped alternately "
        "in one process (version cost, mixed-precision speed-up with intervals); off for none",
    ),
    Option(
        "--paired-rounds",
        "paired_rounds",
        one_int("--paired-rounds", 2),
        "rounds of a paired comparison (per precision block, at least)",
    ),
    Option(
        "--paired-min-time",
        "paired_min_time",
        seconds_per_mode("--paired-min-time"),
        "seconds of timed steps per model of a paired comparison at least: more rounds for "
        "a precision whose steps are short; SECONDS, or MODE:SECONDS,... per mode (off: none)",
    ),
    Option(
        "--paired-width",
        "paired_width",
        percent("--paired-width", 50.0),
        "after its minimum, a precision block goes on while a version ratio's 95%% interval is "
        "wider than this many percent either way, up to --paired-max-time (off: stop at the minimum)",
    ),
    Option(
        "--paired-max-time",
        "paired_max_time",
        seconds_per_mode("--paired-max-time"),
        "with --paired-width: seconds of timed steps per model at most; SECONDS or MODE:SECONDS,...",
    ),
    Option(
        "--paired-windows",
        "paired_windows",
        one_int("--paired-windows", 1),
        "windows of a case that a paired group also times (default: --windows): its speed is "
        "measured interleaved there; its own windows give memory, compile time and the figure",
    ),
    Option(
        "--ab",
        "ab",
        parse_spec("--ab"),
        "A/B run: every case in a worker of this stack (B) and of the sweep's own (A), stepped "
        "alternately; SPEC: KEY=VALUE settings, a Python or virtual environment, a checkout "
        "(bench/test_ab.py; its rounds follow --paired-*); a path after = (--ab=PATH), as pytest "
        "takes a path after a space for tests",
    ),
    Option(
        "--ab-a", "ab_a", parse_spec("--ab-a"), "stack A of an A/B run, as --ab (default: the sweep's own)"
    ),
    Option(
        "--ab-sessions",
        "ab_sessions",
        one_int("--ab-sessions", 1),
        "sessions of fresh workers per A/B case, the stack started first alternating; the paired "
        "times are shared among them (default 2)",
    ),
    Option("--data", "data", choices("--data", DATA), "training data: synthetic (on the device), jpeg"),
    Option(
        "--pipelines",
        "pipelines",
        choices("--pipelines", PIPELINES),
        "input pipelines to measure alone (bench/test_pipeline.py): tfdata, pil, torchvision-gpu",
    ),
    Option("--stages", "stages", choices("--stages", STAGES), "pipeline stages: decode, train, eval"),
    Option("--workers", "workers", positive_ints("--workers"), "pipeline workers (and cores), e.g. 1,2"),
    Option("--data-images", "data_images", one_int("--data-images", 16), "images in the generated data set"),
    Option(
        "--scenarios",
        "scenarios",
        parse_scenarios,
        "MLPerf LoadGen scenarios (bench/test_loadgen.py): single-stream,multi-stream,offline,server; off",
    ),
    Option(
        "--loadgen-duration",
        "loadgen_duration",
        seconds("--loadgen-duration", 3600.0),
        "seconds each LoadGen run lasts at least (MLPerf asks 600 for a submission)",
    ),
    Option(
        "--loadgen-versions",
        "loadgen_versions",
        choices("--loadgen-versions", ALL_VERSIONS),
        "the versions LoadGen runs (default: --versions)",
    ),
    Option(
        "--latency-bound", "latency_bound_ms", milliseconds("--latency-bound"), "Server p99 bound, ms (15)"
    ),
    Option(
        "--sample-count",
        "sample_count",
        one_int("--sample-count", 8),
        "images the LoadGen query sample library holds on the device (MLPerf: 1024)",
    ),
    Option("--strategy", "strategy", parse_strategy, "mirrored (local devices) or multiworker (TF_CONFIG)"),
    Option(
        "--replicas",
        "replicas",
        positive_ints("--replicas"),
        "data-parallel replicas (TensorFlow MirroredStrategy, JAX DataParallel): an axis, e.g. 1,2,4",
    ),
)
parse_case_timeout = seconds("--case-timeout", MAX_CASE_TIMEOUT)


def parse_profile(text: Any) -> str:
    """A profile name."""
    name = str(text).strip()
    if name not in PROFILES:
        raise UsageError(f"--bench-profile: unknown profile {name!r}; valid: {', '.join(PROFILES)}")
    return name


def parse_options(raw: dict[str, Any]) -> dict[str, Any]:
    """Text options (None: not given) -> typed values, each by its option's parser."""
    parsers = {o.dest: o.parse for o in OPTIONS} | {"profile": parse_profile}
    return {k: (None if v is None else parsers[k](v)) for k, v in raw.items()}


#: pytest-benchmark's options for its own calibration of ``benchmark(fn)``, which the cases
#: do not use (they time their rounds themselves): each -> what does its job here.
BENCHMARK_CALIBRATION: dict[str, str] = {
    "--benchmark-min-rounds": "--rounds",
    "--benchmark-min-time": "--min-time",
    "--benchmark-max-time": "--min-time and --time-budget",
    "--benchmark-warmup": "--warmup-rounds",
    "--benchmark-warmup-iterations": "--warmup-rounds",
    "--benchmark-calibration-precision": "--rounds and --min-time",
    "--benchmark-timer": "nothing: every step is timed with time.perf_counter after its result is ready",
    "--benchmark-disable-gc": "nothing: the timed steps run in a worker process this option does not reach",
}


def ignored_benchmark_options(args: Sequence[str]) -> str | None:
    """One line refusing pytest-benchmark's calibration options among ``args`` (they would be
    silently ignored), naming what does each one's job here; None where none was given."""
    for arg in args:
        flag = str(arg).split("=", 1)[0]
        if flag in BENCHMARK_CALIBRATION:
            return (
                f"{flag} tunes pytest-benchmark's own calibration, which resnet-bench's cases do not "
                f"use (they time their rounds themselves); use {BENCHMARK_CALIBRATION[flag]} "
                "(resnet-bench options lists them)"
            )
    return None


#: The name pytest-profiling registers as a pytest11 plugin; it claims ``--profile``.
PROFILING_PLUGIN = "profiling"

#: The sweep's other flags (not axes or settings): flag -> help, as ``pytest bench --help`` lists them.
SWEEP_FLAGS: dict[str, str] = {
    "--bench-profile": "axes and settings preset: smoke, quick (default) or full; explicit options "
    "override it (also `--profile`, unless another plugin such as pytest-profiling claims that name)",
    "--allow-oversubscribe": "allow --threads or --workers beyond the cores this run may use",
    "--journal": "journal path (default: next to --benchmark-json)",
    "--resume": "skip cases already in the journal",
    "--case-timeout": "seconds one case may take (default 1800)",
    "--fail-on": "A/B runs (--ab): fail (exit 1) when B's images/s is below A's by more than this, "
    "beyond its 95%% interval, in a case or run-wide: -N%% (or images_per_sec:-N%%)",
    "--markdown": "A/B runs (--ab): append the verdict, the run-wide B/A and the cases to FILE, "
    'e.g. "$GITHUB_STEP_SUMMARY"',
    "--store": "when the sweep ends, add its run to a results store: `--store` alone is RESNET_BENCH_DB "
    "or sqlite:///.benchmarks/resnet-bench.sqlite, `--store URL` names one; an interrupted sweep's "
    "finished cases go in from its journal",
}


def _cell(value: Any) -> str:
    """A profile's value as an options-table cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):
            return ",".join(f"{a}:{b:g}" if isinstance(b, float) else f"{a}:{b}" for a, b in value)
        return ",".join(_cell(v) for v in value) or "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


def options_reference() -> str:
    """The options reference (docs/options.md), from OPTIONS, SWEEP_FLAGS and PROFILES:
    ``resnet-bench options --out docs/options.md`` writes it; a test checks it is current."""
    names = list(PROFILES)
    lines = [
        "<!-- generated by resnet-bench options: edit resnet/engine/options.py and profiles.py, not this -->",
        "# `pytest bench` options",
        "",
        "Every option is typed as it is parsed: a bad value stops the run before any case starts,",
        "with one line naming the option and what is valid. A profile sets every axis and setting;",
        "an explicit option overrides it. Empty cells: the option's own default.",
        "",
        "| option | meaning | " + " | ".join(names) + " |",
        "| --- | --- | " + " | ".join("---" for _ in names) + " |",
    ]
    for option in OPTIONS:
        flags = ", ".join(f"`{f}`" for f in (option.flag, *option.aliases))
        cells = [_cell(PROFILES[n].get(option.dest)) for n in names]
        lines.append(f"| {flags} | {option.help.replace('%%', '%')} | " + " | ".join(cells) + " |")
    lines += ["", "## The run itself", "", "| option | meaning |", "| --- | --- |"]
    lines += [f"| `{flag}` | {text.replace('%%', '%')} |" for flag, text in SWEEP_FLAGS.items()]
    lines += [
        "",
        "## pytest-benchmark's own options",
        "",
        "Its output and storage options work as usual (`--benchmark-json`, `--benchmark-autosave`,",
        "`--benchmark-save`, `--benchmark-storage`, `--benchmark-compare`, `--benchmark-columns`,",
        "`--benchmark-sort`, ...). Its calibration of `benchmark(fn)` is not what times a case, so",
        "its options for it stop the run with one line naming what does the job here:",
        "",
        "| pytest-benchmark option | here |",
        "| --- | --- |",
        *(f"| `{flag}` | {instead} |" for flag, instead in BENCHMARK_CALIBRATION.items()),
    ]
    return "\n".join(lines) + "\n"

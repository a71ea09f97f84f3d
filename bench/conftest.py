"""pytest options for the benchmark suite; the measuring lives in resnet.engine."""

from __future__ import annotations

import pytest

from resnet.engine.config import PROFILES, UsageError
from resnet.engine.session import BenchRun, default_journal

AXIS_OPTIONS = [
    (
        "--versions",
        "versions",
        "comma-separated versions: v1,v1.5,v2 (keras-v1, keras-v2, torchvision-resnet50: references)",
    ),
    ("--modes", "modes", "inference,training"),
    ("--batch-sizes", "batch_sizes", "comma-separated batch sizes, e.g. 1,8,32"),
    ("--precisions", "precisions", "float32,mixed_float16,mixed_bfloat16"),
    ("--devices", "devices", "cpu,gpu:0,... (default: every device found)"),
    ("--jit", "jit", "XLA compilation: off, on or off,on"),
    ("--image-size", "image_size", "image height and width (at least 32)"),
    ("--threads", "threads", "intra-op threads (and cores) per case: an axis, e.g. 1,2"),
    ("--rounds", "rounds", "timed rounds per case"),
    ("--warmup-rounds", "warmup_rounds", "untimed rounds after compilation"),
    (
        "--min-time",
        "min_time",
        "seconds of timed steps per case at least: more rounds than --rounds when steps are short "
        "(steadier numbers on shared machines)",
    ),
    ("--strategy", "strategy", "mirrored (local devices) or multiworker (TF_CONFIG, one replica per worker)"),
    (
        "--replicas",
        "replicas",
        "data-parallel replicas (TensorFlow MirroredStrategy, JAX DataParallel): an axis, e.g. 1,2,4",
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("resnet-bench", "ResNet benchmark axes")
    group.addoption(
        "--profile",
        default=None,
        help=f"axes preset: {', '.join(PROFILES)} (default quick); explicit options override it",
    )
    for flag, dest, text in AXIS_OPTIONS:
        group.addoption(flag, dest=dest, default=None, help=text)
    group.addoption("--journal", default=None, help="journal path (default: next to --benchmark-json)")
    group.addoption("--resume", action="store_true", help="skip cases already in the journal")
    group.addoption("--case-timeout", type=float, default=1800.0, help="seconds one case may take")


def pytest_configure(config: pytest.Config) -> None:
    if config.option.help:
        return
    options = {dest: config.getoption(dest) for _, dest, _ in AXIS_OPTIONS}
    options["profile"] = config.getoption("profile")
    json_path = getattr(config.option, "benchmark_json", None)
    json_name = str(json_path) if json_path else None

    def write(line: str) -> None:
        """Progress goes to the terminal at once, past pytest's output capture."""
        capture = config.pluginmanager.get_plugin("capturemanager")
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        with capture.global_and_fixture_disabled():
            if reporter is not None:
                if reporter._tw.width_of_current_line:
                    reporter._tw.line()
                reporter.write_line(line)
                reporter._tw.flush()
            else:
                print(line, flush=True)

    try:
        config.resnet_run = BenchRun(
            options,
            journal_path=config.getoption("journal") or default_journal(json_name),
            resume=config.getoption("resume"),
            case_timeout=config.getoption("case_timeout"),
            write=write,
        )
    except UsageError as err:
        raise pytest.UsageError(str(err)) from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    run: BenchRun = metafunc.config.resnet_run
    if "case_id" in metafunc.fixturenames:
        ids = list(run.cases)
        metafunc.parametrize("case_id", ids, ids=ids)
    if "version" in metafunc.fixturenames:
        versions = list(run.axes.versions)
        metafunc.parametrize("version", versions, ids=versions)


@pytest.fixture(scope="session")
def bench_run(request: pytest.FixtureRequest) -> BenchRun:
    return request.config.resnet_run


def settle(outcome: tuple[str, str] | None) -> None:
    """Turn a case's outcome into pytest's: skipped, expected failure (OOM) or failed."""
    if outcome is None:
        return
    kind, reason = outcome
    {"skip": pytest.skip, "xfail": pytest.xfail, "fail": pytest.fail}[kind](reason)


@pytest.fixture
def settle_case():
    return settle


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    run = getattr(config, "resnet_run", None)
    if run is not None:
        machine_info.update(run.machine_info())


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list, output_json: dict) -> None:
    run = getattr(config, "resnet_run", None)
    if run is not None:
        output_json["resnet_bench"] = run.json_section()

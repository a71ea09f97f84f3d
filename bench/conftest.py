"""pytest options for the benchmark suite; the measuring lives in resnet.engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from resnet.engine.errors import UsageError, typed
from resnet.engine.kinds.base import case_id
from resnet.engine.options import (
    OPTIONS,
    PROFILING_PLUGIN,
    SWEEP_FLAGS,
    ignored_benchmark_options,
    parse_case_timeout,
    parse_profile,
)
from resnet.engine.sweep import Sweep, default_journal, sweep_machine_info


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    group = parser.getgroup("resnet-bench", "ResNet benchmark axes")
    # --profile is also pytest-profiling's option: the old name only where that plugin is absent.
    names = ["--bench-profile"] + ([] if pluginmanager.has_plugin(PROFILING_PLUGIN) else ["--profile"])
    group.addoption(
        *names,
        dest="profile",
        default=None,
        type=typed("--bench-profile", parse_profile),
        help=SWEEP_FLAGS["--bench-profile"],
    )
    for option in OPTIONS:
        group.addoption(
            option.flag,
            *option.aliases,
            dest=option.dest,
            default=None,
            type=typed(option.flag, option.parse),
            help=option.help,
        )
    group.addoption(
        "--allow-oversubscribe",
        action="store_true",
        help=SWEEP_FLAGS["--allow-oversubscribe"],
    )
    group.addoption(
        "--store",
        nargs="?",
        const="default",
        default=None,
        metavar="URL",
        help=SWEEP_FLAGS["--store"],
    )
    group.addoption("--fail-on", default=None, metavar="CHANGE", help=SWEEP_FLAGS["--fail-on"])
    group.addoption("--markdown", default=None, metavar="FILE", help=SWEEP_FLAGS["--markdown"])
    group.addoption("--journal", default=None, help=SWEEP_FLAGS["--journal"])
    group.addoption("--resume", action="store_true", help=SWEEP_FLAGS["--resume"])
    group.addoption(
        "--case-timeout",
        type=typed("--case-timeout", parse_case_timeout),
        default=1800.0,
        help=SWEEP_FLAGS["--case-timeout"],
    )


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own, so its session exists
def pytest_configure(config: pytest.Config) -> None:
    if config.option.help:
        return
    import os
    import shlex

    given = [*config.invocation_params.args, *shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))]
    refused = ignored_benchmark_options([str(a) for a in given])
    if refused:
        raise pytest.UsageError(refused)
    options = {o.dest: config.getoption(o.dest) for o in OPTIONS}
    options["profile"] = config.getoption("profile")
    options["allow_oversubscribe"] = config.getoption("allow_oversubscribe")
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

    # --fail-on and --markdown are checked before the store is opened: refused, no store is made.
    config.resnet_ab_gate = _ab_gate(config, bool(config.getoption("--ab")))
    config.resnet_store = _open_store(config.getoption("store"))
    journal = config.getoption("journal") or default_journal(json_name)
    try:
        config.resnet_sweep = Sweep(
            options,
            journal_path=None if config.option.collectonly else journal,
            resume=config.getoption("resume"),
            case_timeout=config.getoption("case_timeout"),
            write=write,
        )
    except UsageError as err:
        raise pytest.UsageError(str(err)) from None
    bench = getattr(config, "_benchmarksession", None)
    if bench is not None and bench.disabled and not config.option.collectonly:
        raise pytest.UsageError(
            "resnet-bench's cases are timed by pytest-benchmark, which is disabled here "
            "(--benchmark-disable, or an xdist worker): run pytest bench without them"
        )
    if not config.option.collectonly:
        try:
            config.resnet_sweep.prepare()
        except UsageError as err:
            raise pytest.UsageError(str(err)) from None
    _stop_on_sigterm()


def _stop_on_sigterm() -> None:
    """SIGTERM stops a sweep as Ctrl-C does: the running case's worker is killed, and
    the JSON of what finished is written."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")

    signal.signal(signal.SIGTERM, interrupt)


def _ab_gate(config: pytest.Config, is_ab: bool) -> Any:
    """``--fail-on``'s threshold, checked before any case runs (it gates A/B runs only)."""
    given, markdown = config.getoption("fail_on"), config.getoption("markdown")
    if (given or markdown) and not is_ab:
        flag = "--fail-on" if given else "--markdown"
        raise pytest.UsageError(
            f"{flag} gates an A/B run (--ab SPEC); to gate two runs against each other use "
            "resnet-bench compare BASE NEW"
        )
    if not given:
        return None
    from resnet.analysis.ab import parse_ab_threshold
    from resnet.errors import InputError

    try:
        return parse_ab_threshold(given)
    except InputError as err:
        raise pytest.UsageError(str(err)) from None


def _ab_verdict(session: pytest.Session) -> None:
    """An A/B run's ending: each case's B/A, the run-wide B/A, the stacks; with --fail-on the
    gate's verdict (exit 1 on a regression), with --markdown the job summary."""
    config = session.config
    sweep = config.resnet_sweep
    if not sweep.plan.settings.ab:
        return
    try:  # the readers' half; an environment with the engine only (the GPU machine's) has no pandas
        import pandas as pd

        from resnet.analysis import ab
    except ImportError as err:
        sweep.line(f"A/B verdict not computed here ({err}); read the run with resnet-bench ab", stamp=False)
        return
    frame = ab.ab_rows(pd.DataFrame(sweep.rows))
    if frame.empty:
        return
    threshold = config.resnet_ab_gate
    table, wide = ab.case_table(frame, threshold), ab.run_wide(frame, threshold)
    lines = [*ab.stacks_line(frame)] + ([ab.wide_line(wide)] if wide else ["run-wide B/A: no case finished"])
    failed = ab.failed(table, wide) if threshold is not None else False
    if threshold is not None:
        lines.append(f"A/B gate ({threshold.limit:+g}% on images/s): " + ("FAILED" if failed else "passed"))
    for line in lines:
        sweep.line(line, stamp=False)
    if config.getoption("markdown"):
        ab.append(
            config.getoption("markdown"),
            ab.ab_markdown(table, wide, failed, ab.stacks_line(frame), "pytest bench --ab"),
        )
    if failed and session.exitstatus == 0:
        session.exitstatus = 1


def _open_store(url: str | None) -> Any:
    """The store ``--store`` names, opened (made if new) before any case runs, so a wrong
    URL costs no measurement."""
    if url is None:
        return None
    from resnet.store import Store, StoreError, resolve_url

    try:
        return Store(resolve_url(url), create=True)
    except StoreError as err:
        raise pytest.UsageError(f"--store: {err}") from None


def _store_run(config: pytest.Config, sweep: Sweep) -> None:
    """Add the finished sweep to ``--store``: its JSON when pytest-benchmark wrote one in this
    session, else its journal (an interrupted sweep's finished cases)."""
    from resnet.runs import LoadError, read_run
    from resnet.store import StoreError

    json_path = getattr(config.option, "benchmark_json", None)
    json_file = Path(str(json_path)) if json_path else None
    journal = Path(sweep.journal.path) if sweep.journal is not None else None
    if json_file is not None and json_file.is_file() and json_file.stat().st_mtime >= sweep.started:
        source = json_file
    elif journal is not None and journal.is_file():
        source = journal
    else:
        print("resnet-bench: --store: no finished case to store", flush=True)
        config.resnet_store.close()
        return
    with config.resnet_store as store:
        try:
            run_id, what = store.add(read_run(source))
        except (LoadError, StoreError) as err:
            print(f"resnet-bench: --store: not stored: {err}", flush=True)
            return
    said = {"added": "stored as run", "replaced": "stored as run (replacing its sweep's earlier run)"}
    print(
        f"resnet-bench: {source} {said.get(what, 'already in the store as run')} {run_id} ({store.url})",
        flush=True,
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    sweep, store = getattr(config, "resnet_sweep", None), getattr(config, "resnet_store", None)
    if sweep is not None:
        sweep.close()
    if store is not None:
        if sweep is not None and not config.option.collectonly:
            _store_run(config, sweep)  # closes the store
        else:
            store.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """An A/B run's verdict (_ab_verdict). pytest-benchmark writes no JSON when no case
    produced timings (all skipped, failed or resumed); write it then, with every case's row."""
    config = session.config
    if getattr(config, "resnet_sweep", None) is not None and not config.option.collectonly:
        _ab_verdict(session)
    bench = getattr(config, "_benchmarksession", None)
    if getattr(config, "resnet_sweep", None) is None or bench is None or not bench.json or bench.benchmarks:
        return
    if config.option.collectonly:
        return
    machine = bench.get_machine_info()
    commit = config.hook.pytest_benchmark_generate_commit_info(config=config)
    output = config.hook.pytest_benchmark_generate_json(
        config=config, benchmarks=[], include_data=True, machine_info=machine, commit_info=commit
    )
    config.hook.pytest_benchmark_update_json(config=config, benchmarks=[], output_json=output)
    bench.save_json(output)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Each kind's cases, for the bench files that take its fixture."""
    sweep: Sweep = metafunc.config.resnet_sweep
    for fixture, cases in sweep.cases.items():
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(fixture, cases, ids=[case_id(c) for c in cases])


@pytest.fixture(scope="session")
def sweep(request: pytest.FixtureRequest) -> Sweep:
    return request.config.resnet_sweep


@pytest.fixture(scope="session")
def loadgen_logs(request: pytest.FixtureRequest) -> Path:
    """Where LoadGen cases keep their log files: beside the JSON (``out.loadgen/``)."""
    journal = request.config.resnet_sweep.journal
    base = Path(journal.path) if journal is not None else Path(".benchmarks") / "resnet-bench"
    return base.with_name(base.name.removesuffix(".journal.jsonl") + ".loadgen")


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
    # The machine's facts only (no sweep state), so a rerun reads the same whenever it is asked.
    machine_info.update(sweep_machine_info())


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list, output_json: dict) -> None:
    sweep = getattr(config, "resnet_sweep", None)
    if sweep is not None:
        sweep.update_json(output_json)

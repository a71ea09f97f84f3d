"""Facts a reviewer can check: the package's layers (imports only go down; no circle), the
engine's own layers, module and function sizes, one module per command and a thin CLI, each
kind of measurement declaring its own cases (the sweep and the pytest plugin name none), one
error base class, and a smoke run that has the shape it had before the engine was reorganised
(tests/data/smoke-shape.json). docs/architecture.md describes the layers these tests hold."""

from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "resnet" / "engine"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
#: The engine's layers, lowest first: a module imports from its own layer or below.
LAYERS = (
    ("errors", "parsers", "profiles", "progress", "energy", "finish", "worker", "stacks"),
    ("options", "machine", "backends"),
    ("plan", "journal", "worker.protocol", "worker.peaks", "exports", "quantize", "mlperf"),
    ("worker.core", "worker.client"),
    ("kinds.base", "kinds.rounds"),
    ("kinds.case", "kinds.paired", "kinds.goals", "kinds.loadgen", "kinds.runtimes", "kinds.pipelines",
     "kinds.peers", "kinds.windows", "kinds.ab", "kinds.crossed", "kinds.runtime_host"),
    ("kinds", "sweep", "worker.__main__"),
)  # fmt: skip


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ENGINE.rglob("*.py")):
        name = path.relative_to(ENGINE).with_suffix("").as_posix().replace("/", ".")
        name = name.removesuffix(".__init__")
        out["" if name == "__init__" else name] = path
    return out


def _layer(name: str) -> int:
    """The layer of an engine module (a backend module is its package's)."""
    for i, names in enumerate(LAYERS):
        if name in names or any(name.startswith(n + ".") for n in names if n == "backends"):
            return i
    raise AssertionError(f"resnet.engine.{name} is in no layer of tests/test_structure.py")


def test_no_engine_module_is_too_long():
    long = {n: len(p.read_text().splitlines()) for n, p in _modules().items()}
    assert {n: k for n, k in long.items() if k > MAX_MODULE_LINES} == {}


def test_no_engine_function_is_too_long():
    found = {}
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found[f"{name}.{node.name}"] = lines
    assert found == {}


def test_engine_imports_only_go_down_the_layers():
    wrong = []
    for name, path in _modules().items():
        if name == "":
            continue
        own = _layer(name)
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module:
                subs = [f"{node.module}.{a.name}" for a in node.names]
                mods = [t for t in subs if t.removeprefix("resnet.engine.") in _modules()]
                targets = mods or [node.module]  # a package's submodules, or the module itself
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if not target.startswith("resnet.engine."):
                    continue
                other = target.removeprefix("resnet.engine.")
                if other not in _modules() or other == name:
                    continue
                if _layer(other) > own:
                    wrong.append(f"{name} imports {other}")
    assert wrong == []


# -- the package's layers ---------------------------------------------------------------
PACKAGE = ROOT / "resnet"
#: The package's layers, lowest first: a unit (a top-level module or sub-package) imports only
#: from itself and lower layers, so units of one layer (the store and the analysis) stand side
#: by side on the runs and never import each other. The root package (``resnet``: the model
#: API, loaded lazily, and ``__version__``) may be imported from anywhere.
PACKAGE_LAYERS = (
    ("text",),
    ("errors",),
    ("specs", "stats", "counting", "parallel"),
    ("schema", "blocks", "weights", "outputs"),
    ("builder", "data"),
    ("engine",),
    ("runs",),
    ("store", "analysis"),
    ("commands",),
    ("cli",),
)
MAX_CLI_LINES = 200


def _package_modules() -> dict[str, Path]:
    """Every module of the package by dotted name (``resnet.runs.reading``; a package by its
    own name)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(("resnet", *path.relative_to(PACKAGE).with_suffix("").parts))
        out[name.removesuffix(".__init__")] = path
    return out


def _imported(path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules a file imports, at module level or inside a function (``from A
    import B`` counts as A.B where B is a module, else as A)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules]
            found.update(subs or [node.module])
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {name for name in found if name in modules}


def _unit(module: str) -> str:
    """``resnet.runs.reading`` -> ``runs``; the root package -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _package_layer(unit: str) -> int:
    for i, names in enumerate(PACKAGE_LAYERS):
        if unit in names:
            return i
    raise AssertionError(f"resnet.{unit} is in no layer of tests/test_structure.py PACKAGE_LAYERS")


def test_the_package_imports_only_go_down_its_layers():
    modules = _package_modules()
    wrong = []
    for name, path in modules.items():
        unit = _unit(name)
        if not unit:
            continue
        for target in _imported(path, modules):
            other = _unit(target)
            if other and other != unit and _package_layer(other) >= _package_layer(unit):
                wrong.append(f"{name} imports {target}")
    assert wrong == []


def test_no_import_circle():
    """No module reaches itself through the imports of the package (function-level included)."""
    modules = _package_modules()
    graph = {name: _imported(path, modules) - {name} for name, path in modules.items()}
    circles, state = [], dict.fromkeys(graph, 0)  # 0 new, 1 on the path, 2 done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph[name]):
            if target == "resnet" or (name.startswith(target + ".") and target in modules):
                continue  # the root façade, and a package's own __init__ (loaded first anyway)
            if state[target] == 1:
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            elif state[target] == 0:
                visit(target, [*path, target])
        state[name] = 2

    for name in graph:
        if state[name] == 0:
            visit(name, [name])
    assert circles == []


def test_the_cli_only_builds_the_parser_and_dispatches_to_a_module_per_command():
    from resnet.cli import build_parser
    from resnet.commands import COMMANDS

    assert len((PACKAGE / "cli.py").read_text().splitlines()) <= MAX_CLI_LINES
    files = {p.stem for p in (PACKAGE / "commands").glob("*.py")} - {"__init__", "common"}
    assert set(COMMANDS.values()) == files  # every command module is one sub-command
    choices = build_parser()._subparsers._group_actions[0].choices
    assert list(choices) == list(COMMANDS)
    for name, module in COMMANDS.items():
        assert choices[name].get_default("fn").__module__ == f"resnet.commands.{module}"
    tree = ast.parse((PACKAGE / "cli.py").read_text())
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)] == ["build_parser", "main"]


def test_every_error_the_package_defines_is_one_line_that_main_catches():
    """One base class (resnet.errors.BenchError), caught once by main; the two exceptions:
    a case's failure (turned into its row's status, never an error line) and the export
    cache's OSError (a file-system error, as main reports those)."""
    import importlib

    from resnet.errors import BenchError

    outside = set()
    for name, path in _package_modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                cls = getattr(importlib.import_module(name), node.name, None)
                if (
                    isinstance(cls, type)
                    and issubclass(cls, BaseException)
                    and not issubclass(cls, BenchError)
                ):
                    outside.add(f"{name}.{node.name}")
    assert outside == {
        "resnet.engine.errors.CaseFailure",
        "resnet.engine.exports.CacheUnwritable",
        "resnet.engine.exports.CacheForeign",
    }


def test_the_sweep_and_the_pytest_plugin_name_no_kind():
    """Each kind declares its cases (resnet.engine.kinds.base.KINDS); the sweep and
    bench/conftest.py take them from there, so a new kind touches neither."""
    import resnet.engine.kinds  # noqa: F401  (registers every kind)
    from resnet.engine.kinds.base import KINDS

    assert {k.name for k in KINDS.values()} == {
        "case",
        "paired",
        "loadgen",
        "pipeline",
        "build",
        "ab",
        "crossed",
    }
    for kind in KINDS.values():
        assert kind.cases.__module__.startswith("resnet.engine.kinds."), kind
    names = {k.name for k in KINDS.values()} | {k.fixture for k in KINDS.values()}
    for path in (ENGINE / "sweep.py", ROOT / "bench" / "conftest.py"):
        tree = ast.parse(path.read_text())
        literals = {
            n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
        assert not literals & names, (path.name, literals & names)
        kinds_imported = {
            a.name
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module == "resnet.engine.kinds"
            for a in n.names
        }
        assert kinds_imported == set(), path.name
    used = set()
    for path in (ROOT / "bench").glob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                used.update(a.arg for a in node.args.args)
    assert {k.fixture for k in KINDS.values()} <= used  # every kind has its bench file


def test_each_kinds_worker_commands_live_in_its_module():
    import resnet.engine.kinds  # noqa: F401  (registers every kind's commands)
    from resnet.engine.worker.core import STEP_SOURCES, TRAINING_FEEDS
    from resnet.engine.worker.protocol import HANDLERS

    where = {
        name: fn.__module__.removeprefix("resnet.engine.")
        for name, fn in HANDLERS.items()
        if not fn.__module__.startswith("tests.")  # the tests' own, when a test imported them
    }
    assert where == {
        **dict.fromkeys(["start", "setup", "step", "warm", "finish", "probe", "matmul_peak"], "worker.core"),
        "build": "kinds.goals",
        "bare_loop": "kinds.goals",
        "loadgen_setup": "kinds.loadgen",
        "loadgen_run": "kinds.loadgen",
        "pipeline_setup": "kinds.pipelines",
        "synthetic": "kinds.pipelines",
    }
    sources = sorted(fn.__module__.removeprefix("resnet.engine.") for _, fn, _ in STEP_SOURCES)
    assert sources == ["kinds.peers", "kinds.runtimes"]
    assert {d: f.__module__ for d, f in TRAINING_FEEDS.items()} == {"jpeg": "resnet.engine.kinds.pipelines"}


# -- the smoke run's shape -----------------------------------------------------------
SHAPE = ROOT / "tests" / "data" / "smoke-shape.json"


def smoke_shape(path: str | os.PathLike) -> dict:
    """What a smoke run's JSON holds, without its figures: the case ids and statuses by
    kind, the fields of its rows (and which ones an ok row fills) by kind, and the report
    tables with their index and columns."""
    from resnet.analysis.tables import TABLES
    from resnet.runs import load

    data = json.loads(Path(path).read_text())
    rows = data["resnet_bench"]["cases"]
    kinds = sorted({r["kind"] for r in rows})
    shape: dict = {"cases": {}, "fields": {}, "filled": {}, "tables": {}}
    for kind in kinds:
        mine = [r for r in rows if r["kind"] == kind]
        shape["cases"][kind] = sorted(r["case_id"] for r in mine)
        shape["fields"][kind] = sorted({k for r in mine for k in r})
        shape["filled"][kind] = sorted(
            {k for r in mine if r["status"] == "ok" for k, v in r.items() if v is not None}
        )
    df = load(path)
    for stem, (_, fn) in TABLES.items():
        table = fn(df)
        if not table.empty:
            shape["tables"][stem] = {
                "index": [str(n) for n in table.index.names],
                "columns": [str(c) for c in table.columns],
            }
    return shape


#: What was added on purpose since the snapshot: the driver skeleton gives every row its wall
#: time; every row has the peak's source and analytic figure (the fastest matrix product).
ADDED = {"build": {"wall_s"}, "goal": {"wall_s"}}
NEW_FIELDS = {
    "device_peak_source",
    "above_peak",
    "device_peak_analytic_tflops",
    "warmup_steps",
    "warmup_s",
    "warmup_steady",
    # a noisy machine (#36): stability told at small n, the probe's dtype, why a case stopped
    # adding windows, the peak's size
    "stability",
    "machine_speed_dtype",
    "windows_stop",
    "device_peak_size",
    "ci_widened",
    # ... and what the sweep writes when it ends: where a rerun lands, the speed-adjusted figure
    "rerun_spread_pct",
    "images_per_sec_rerun_low",
    "images_per_sec_rerun_high",
    "images_per_sec_speed_adjusted",
    # comparisons side by side (#37): the two stacks of an A/B row
    "stack_a",
    "stack_b",
    # deployment runtimes as their vendors run them (#38): the configuration, its requests
    "runtime_config",
    "requests",
    # ... int8 quantized by the vendors' tools, and the runtime's own memory (#38)
    "quantized_by",
    "quantize_s",
    "parity_on",
    "memory_scope",
    "worker_peak_rss_mb",
}
#: Fields the raw JSON now fills that only the loader derived before (#36).
NEWLY_FILLED = {"machine_speed_rel", "drifted"}
#: Tables that appear only when the machine did something (a case measured while it
#: drifted more than 10%; a probe that tracked the cases), not because of the code.
DATA_DEPENDENT = {"drift", "speed_adjusted"}
#: Tables added on purpose since the snapshot: where a rerun lands (#36).
NEW_TABLES = {"rerun"}


def test_a_smoke_run_has_the_shape_it_had_before_the_engine_moved():
    """scripts/test.sh runs this after its smoke profile, with RESNET_BENCH_SMOKE_JSON
    naming the TensorFlow run; the snapshot came from commit 5bacddf, before the move."""
    path = os.environ.get("RESNET_BENCH_SMOKE_JSON")
    if not path:
        pytest.skip("needs a smoke run: scripts/test.sh runs it with RESNET_BENCH_SMOKE_JSON set")
    got, want = smoke_shape(path), json.loads(SHAPE.read_text())
    benchmarks = json.loads(Path(path).read_text())["benchmarks"]
    assert benchmarks and all(b["group"] for b in benchmarks), [
        b["name"] for b in benchmarks if not b["group"]
    ]
    assert got["cases"] == want["cases"]
    assert {kind: sorted(set(names) - NEW_FIELDS) for kind, names in got["fields"].items()} == want["fields"]
    filled = {
        kind: sorted(set(names) - ADDED.get(kind, set()) - NEW_FIELDS - NEWLY_FILLED)
        for kind, names in got["filled"].items()
    }
    assert filled == want["filled"]
    tables = {k: v for k, v in got["tables"].items() if k not in DATA_DEPENDENT | NEW_TABLES}
    assert tables == {k: v for k, v in want["tables"].items() if k not in DATA_DEPENDENT}
    for stem in DATA_DEPENDENT & set(got["tables"]) & set(want["tables"]):
        assert got["tables"][stem] == want["tables"][stem]


def test_a_production_worker_has_no_test_only_commands():
    from resnet.engine.errors import CaseFailure
    from resnet.engine.worker.client import WorkerClient

    with WorkerClient(timeout=60) as worker:
        with pytest.raises(CaseFailure, match="unknown command 'crash'"):
            worker.call("crash", code=3)
        assert worker.proc.poll() is None  # still serving


def test_version_names_the_package_keras_its_backends_and_python(capsys):
    from resnet import __version__
    from resnet.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"resnet-bench {__version__} (keras ") and "tensorflow " in line
    assert line.endswith(f"python {'.'.join(map(str, sys.version_info[:3]))})")

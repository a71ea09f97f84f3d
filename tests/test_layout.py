"""results/ as users navigate it, and machines named by what they are: CPU identity from
/proc/cpuinfo, machine.json files, the generated index, two CPU generations kept apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resnet.cli import main
from resnet.engine import machine
from tests.test_results import _row, make_run

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def _cpuinfo(tmp_path: Path, vendor: str, family: int, model: int, brand: str) -> Path:
    path = tmp_path / "cpuinfo"
    block = (f"processor\t: {{n}}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n"
             f"model name\t: {brand}\nstepping\t: 1\nflags\t\t: avx2 avx512f avx512_bf16\n\n")  # fmt: skip
    path.write_text(block.format(n=0) + block.format(n=1))
    return path


@pytest.mark.parametrize(
    ("vendor", "family", "model", "brand", "label"),
    [
        ("AuthenticAMD", 25, 17, "AMD EPYC", "AMD EPYC Zen 4 x2 (AVX-512 BF16)"),
        ("AuthenticAMD", 26, 2, "AMD EPYC", "AMD EPYC Zen 5 x2 (AVX-512 BF16)"),
        ("GenuineIntel", 6, 207, "Intel(R) Xeon(R) Processor", "Intel Xeon Emerald Rapids x2 (AVX-512 BF16)"),
        (
            "GenuineIntel",
            6,
            143,
            "Intel(R) Xeon(R) Platinum 8480+",
            "Intel Xeon Platinum 8480+ x2 (AVX-512 BF16)",
        ),
        ("GenuineIntel", 6, 999, "Intel(R) Xeon(R) Processor", "Intel Xeon x2 (AVX-512 BF16)"),
    ],
)
def test_a_brand_string_that_hides_the_cpu_gets_its_generation(tmp_path, vendor, family, model, brand, label):
    identity = machine.cpu_identity(str(_cpuinfo(tmp_path, vendor, family, model, brand)), str(tmp_path))
    assert identity == {
        "cpu_vendor": vendor,
        "cpu_family": family,
        "cpu_model_number": model,
        "cpu_stepping": 1,
    }
    info = {"cpu_model": brand, "cpu_affinity": 2, "cpu_flags": ["avx512_bf16"], **identity}
    assert machine.machine_label(info) == label


def test_cache_sizes_come_from_sysfs(tmp_path):
    for i, (level, kind, size) in enumerate(
        [(1, "Data", "48K"), (2, "Unified", "1024K"), (3, "Unified", "32M")]
    ):
        folder = tmp_path / f"index{i}"
        folder.mkdir()
        (folder / "level").write_text(f"{level}\n")
        (folder / "type").write_text(f"{kind}\n")
        (folder / "size").write_text(f"{size}\n")
    identity = machine.cpu_identity(str(tmp_path / "none"), str(tmp_path))
    assert identity == {"cpu_caches_kb": {"L1d": 48, "L2": 1024, "L3": 32768}}


def _filed(tmp_path: Path, slug: str, facts: dict, label: str, runs: dict[str, dict]) -> Path:
    folder = tmp_path / "results" / slug
    (folder / "2026-12-01-quick").mkdir(parents=True)
    (folder / "machine.json").write_text(json.dumps({"tool": "resnet-bench", "label": label, "facts": facts}))
    for name, info in runs.items():
        make_run(folder / "2026-12-01-quick" / name, [_row("v1", "inference", 8, ips=10.0)], info)
    return folder / "2026-12-01-quick"


ZEN4 = {"cpu_model": "AMD EPYC", "cpu_family": 25, "cpu_model_number": 17, "cpu_affinity": 2}
ZEN5 = {"cpu_model": "AMD EPYC", "cpu_family": 26, "cpu_model_number": 2, "cpu_affinity": 2}


def test_a_machine_file_names_the_runs_filed_under_it(tmp_path):
    from resnet.runs import load

    run = _filed(
        tmp_path, "zen4", ZEN4, "AMD EPYC Zen 4 x2", {"a.json": {"cpu_model": "AMD EPYC", "cpu_affinity": 2}}
    )
    assert set(load(run / "a.json")["machine"]) == {"AMD EPYC Zen 4 x2"}
    assert set(load(run / "a.json", label="mine")["machine"]) == {"mine"}  # --label still wins


def test_a_run_filed_under_another_machine_is_refused(tmp_path, capsys):
    run = _filed(tmp_path, "zen4", ZEN4, "AMD EPYC Zen 4 x2", {"a.json": ZEN5})
    assert main(["report", str(run / "a.json"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "measured on another machine" in err and "cpu_family 26" in err


def test_two_cpu_generations_under_one_label_are_never_merged(tmp_path, capsys):
    a = make_run(tmp_path / "a.json", [_row("v1", "inference", 8, ips=10.0)], ZEN4)
    b = make_run(tmp_path / "b.json", [_row("v1", "inference", 8, ips=20.0)], ZEN5)
    assert main(["machines", str(a), str(b), "--out", str(tmp_path / "m")]) == 0  # two labels: Zen 4, Zen 5
    assert "Zen 4" in capsys.readouterr().out
    # A brand string with a model number in it keeps its label: two generations then share one.
    c = make_run(
        tmp_path / "c.json", [_row("v1", "inference", 8, ips=20.0)], {**ZEN4, "cpu_model": "AMD EPYC 9"}
    )
    d = make_run(
        tmp_path / "d.json", [_row("v1", "inference", 8, ips=20.0)], {**ZEN5, "cpu_model": "AMD EPYC 9"}
    )
    assert main(["machines", str(c), str(d), "--out", str(tmp_path / "m2")]) == 2
    assert "covers two machines (cpu_family 25" in capsys.readouterr().err
    assert main(["compare", str(c), str(d)]) == 2
    assert "covers two machines" in capsys.readouterr().err
    assert main(["compare", str(c), str(d), "--allow-machine-mismatch"]) in (0, 1)


def test_machine_write_keeps_a_file_it_did_not_write(tmp_path, capsys):
    assert main(["machine", "--write", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("*/machine.json")
    data = json.loads(path.read_text())
    assert data["tool"] == "resnet-bench" and data["facts"]["cpu_model"]
    assert main(["machine", "--write", str(tmp_path)]) == 0  # ours, the same machine: kept
    assert "kept" in capsys.readouterr().out
    path.write_text('{"mine": true}')
    assert main(["machine", "--write", str(tmp_path)]) == 2
    assert path.read_text() == '{"mine": true}'


def test_machine_write_keeps_a_file_that_knows_fewer_facts_and_refuses_one_that_differs(tmp_path, capsys):
    assert main(["machine", "--write", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("*/machine.json")
    data = json.loads(path.read_text())
    fewer = {**data, "facts": {k: v for k, v in data["facts"].items() if k != "cpu_stepping"}}
    path.write_text(json.dumps(fewer))  # a file written from a run that did not record the stepping
    assert main(["machine", "--write", str(tmp_path)]) == 0
    assert json.loads(path.read_text()) == fewer  # the same machine: kept as it was
    other = {**data, "facts": {**data["facts"], "cpu_model": "Another CPU"}}
    path.write_text(json.dumps(other))
    assert main(["machine", "--write", str(tmp_path)]) == 2
    assert "holds another machine's file" in capsys.readouterr().err
    assert json.loads(path.read_text()) == other


# -- the committed results ------------------------------------------------------------------
def test_every_committed_run_is_filed_under_a_machine_or_a_demonstration():
    from resnet.analysis.index import run_folders

    folders = run_folders(RESULTS)
    assert folders, "no NOTES.md under results/"
    for folder in folders:
        under = folder.relative_to(RESULTS).parts[0]
        assert (RESULTS / under / "machine.json").exists() or under in ("machines", "demos"), folder
    loose = [p.name for p in RESULTS.iterdir() if p.is_file() and p.name != "README.md"]
    assert loose == []


def test_the_committed_index_is_what_the_command_writes():
    from resnet.analysis.index import index_text

    text = (RESULTS / "README.md").read_text()
    assert text == index_text(RESULTS), "results/README.md is stale: run resnet-bench index results"
    assert len(text.splitlines()) <= 80


def test_the_committed_zen_4_and_zen_5_are_two_machines():
    from resnet.runs import load

    zen4 = sorted((RESULTS / "amd-epyc-zen-4-x2-avx-512-bf16").glob("*/*.json"))
    zen5 = sorted((RESULTS / "amd-epyc-zen-5-x2-avx-512-bf16").glob("*/quick.json"))
    df = load([zen4[0], *zen5])
    assert set(df["machine"]) == {"AMD EPYC Zen 4 x2 (AVX-512 BF16)", "AMD EPYC Zen 5 x2 (AVX-512 BF16)"}


def test_the_readme_is_short_and_the_options_reference_current():
    from resnet.engine.options import options_reference

    assert len((ROOT / "README.md").read_text().splitlines()) <= 150
    committed = (ROOT / "docs" / "options.md").read_text()
    assert committed == options_reference(), (
        "docs/options.md is stale: run resnet-bench options --out docs/options.md"
    )
    for page in ("method.md", "scenarios.md"):
        assert (ROOT / "docs" / page).is_file()


def test_every_relative_link_of_the_readme_and_docs_resolves():
    import re

    pages = [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *RESULTS.glob("**/NOTES.md"),
        RESULTS / "README.md",
    ]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", page.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_no_committed_case_reads_above_its_device_peak():
    from resnet.commands.store import run_files
    from resnet.runs import load

    files = [r.path for r in run_files([str(RESULTS)])[0]]  # runs only (not a summary.json)
    df = load(files)
    utilization = df["utilization"].dropna().astype(float)
    assert len(utilization) > 100 and utilization.max() <= 1.0
    assert df["above_peak"].eq(True).any()  # the OpenVINO bf16 cases that outran every matrix product


def test_a_build_line_without_its_output_name_is_refused(tmp_path):
    """`compare: a.json b.json` names no file to write: one line saying so, not a write into
    the folder itself."""
    from resnet.analysis.index import NotesError, read_notes

    (tmp_path / "NOTES.md").write_text("---\nwhat: x\ncommand: y\ncompare: a.json b.json\n---\n# x\n")
    with pytest.raises(NotesError, match="'compare' needs what it writes"):
        read_notes(tmp_path)
    (tmp_path / "NOTES.md").write_text("---\nwhat: x\ncommand: y\ncompare c.txt: a.json b.json\n---\n# x\n")
    (build,) = read_notes(tmp_path).builds
    assert (build.kind, build.output, build.inputs) == ("compare", "c.txt", ["a.json", "b.json"])

"""resnet-bench export, each format checked against what its consumer reads: Bencher's
metric format, github-action-benchmark's custom JSON, a flat CSV and OpenMetrics text."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from resnet.cli import main
from resnet.schema import AXES, FIELDS

RUN = (
    Path(__file__).resolve().parents[1]
    / "results/intel-xeon-emerald-rapids-x2-no-bf16/2026-11-29-quick/quick-a.json"
)


def _export(capsys, fmt: str) -> str:
    assert main(["export", str(RUN), "--format", fmt]) == 0
    return capsys.readouterr().out


def test_bencher_metric_format(capsys):
    data = json.loads(_export(capsys, "bmf"))
    cases = [name for name in data if not name.startswith("paired-")]
    assert len(cases) == 24 and "v1.5-inference-bs32-float32-cpu" in data
    assert all(set(data[name]) == {"ratio"} for name in data if name.startswith("paired-"))
    for name, measures in data.items():
        assert isinstance(name, str) and measures
        for measure, entry in measures.items():
            assert set(entry) <= {"value", "lower_value", "upper_value"} and isinstance(entry["value"], float)
            if "lower_value" in entry:
                assert entry["lower_value"] <= entry["value"] <= entry["upper_value"], (name, measure)
    assert set(data["v1.5-inference-bs32-float32-cpu"]["images_per_sec"]) == {
        "value",
        "lower_value",
        "upper_value",
    }


@pytest.mark.parametrize(("fmt", "units"), [("github-action-benchmark", {"images/s", "x"}),
                                            ("github-action-benchmark-smaller", {"ms", "MiB"})])  # fmt: skip
def test_github_action_benchmark_custom_json(capsys, fmt, units):
    data = json.loads(_export(capsys, fmt))
    assert isinstance(data, list) and data
    for entry in data:
        assert set(entry) <= {"name", "unit", "value", "range", "extra"}
        assert isinstance(entry["name"], str) and isinstance(entry["value"], float) and entry["unit"] in units
        assert isinstance(entry.get("range", ""), str) and isinstance(entry.get("extra", ""), str)
        if "range" in entry:  # the form its chart's tooltip shows, "± x"
            assert entry["range"].startswith("± ") and float(entry["range"][2:]) >= 0
    assert len({e["name"] for e in data}) == len(data)  # one series per name
    assert any("95% interval" in e.get("extra", "") for e in data)


def test_flat_csv_has_every_schema_field_per_case(capsys):
    frame = pd.read_csv(io.StringIO(_export(capsys, "csv")))
    assert set(FIELDS) <= set(frame.columns) and frame["case_id"].is_unique
    cases = frame[frame["kind"] == "case"]
    assert len(cases) == 24 and json.loads(cases["samples_s"].iloc[0])  # lists kept, as JSON


def test_openmetrics_text_parses_as_openmetrics_in_base_units(capsys):
    parser = pytest.importorskip(
        "prometheus_client.openmetrics.parser", reason="pip install prometheus-client"
    )
    text = _export(capsys, "openmetrics")
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    assert {
        "resnet_bench_images_per_second",
        "resnet_bench_images_per_second_ci_low",
        "resnet_bench_latency_p50_seconds",
        "resnet_bench_peak_host_rss_bytes",
    } <= set(families)
    assert families["resnet_bench_latency_p50_seconds"].unit == "seconds"
    assert "# UNIT resnet_bench_peak_host_rss_bytes bytes" in text
    for family in families.values():
        assert family.type == "gauge"
        for sample in family.samples:
            assert {"machine", "run", "commit", "datetime", "case_id", *AXES} <= set(sample.labels)
    assert len(families["resnet_bench_images_per_second"].samples) == 24
    # base units: the same case's p50 in seconds and its memory in bytes
    frame = pd.read_csv(io.StringIO(_export(capsys, "csv")))
    row = frame[(frame["kind"] == "case") & (frame["case_id"] == "v1.5-inference-bs32-float32-cpu")].iloc[0]
    p50 = next(
        s
        for s in families["resnet_bench_latency_p50_seconds"].samples
        if s.labels["case_id"] == row["case_id"]
    )
    assert p50.value == pytest.approx(row["latency_ms_p50"] / 1000)
    rss = next(
        s
        for s in families["resnet_bench_peak_host_rss_bytes"].samples
        if s.labels["case_id"] == row["case_id"]
    )
    assert rss.value == pytest.approx(row["peak_host_rss_mb"] * 2**20)


def test_export_writes_only_an_export_of_its_own(tmp_path, capsys):
    out = tmp_path / "bmf.json"
    assert main(["export", str(RUN), "--format", "bmf", "--out", str(out)]) == 0
    assert main(["export", str(RUN), "--format", "bmf", "--out", str(out)]) == 0  # its own: replaced
    mine = tmp_path / "settings.json"
    mine.write_text('{"theme": "dark"}')
    assert main(["export", str(RUN), "--format", "bmf", "--out", str(mine)]) == 2
    assert mine.read_text() == '{"theme": "dark"}'
    assert main(["export", str(RUN), "--format", "csv", "--out", str(RUN)]) == 2  # never over an input
    assert "input" in capsys.readouterr().err


def test_the_committed_examples_are_what_export_writes(capsys):
    examples = Path(__file__).resolve().parents[1] / "docs" / "examples"
    names = {"bmf": "export-bmf.json", "github-action-benchmark": "export-github-action-benchmark.json",
             "openmetrics": "export-openmetrics.txt"}  # fmt: skip
    for fmt, name in names.items():
        assert (examples / name).read_text() == _export(capsys, fmt), name


PAIRED = RUN.parents[2] / "amd-epyc-zen-5-x2-avx-512-bf16/2026-12-02-quick/quick.json"


def test_paired_ratios_are_exported_with_their_intervals(capsys):
    assert main(["export", str(PAIRED), "--format", "bmf"]) == 0
    ratios = {n: m["ratio"] for n, m in json.loads(capsys.readouterr().out).items() if "ratio" in m}
    assert len(ratios) == 14
    for name, entry in ratios.items():
        assert entry["lower_value"] <= entry["value"] <= entry["upper_value"], name
    assert main(["export", str(PAIRED), "--format", "github-action-benchmark"]) == 0
    named = [e for e in json.loads(capsys.readouterr().out) if e["unit"] == "x"]
    assert len(named) == 14 and all("range" in e for e in named)


def test_several_runs_of_one_machine_are_refused_by_one_run_formats_and_kept_by_the_others(tmp_path, capsys):
    other = tmp_path / RUN.parent.parent.name / "b" / "quick-b.json"
    other.parent.mkdir(parents=True)
    data = json.loads(RUN.read_text())
    data["datetime"] = "2026-11-30T10:00:00+00:00"
    other.write_text(json.dumps(data))
    (other.parents[1] / "machine.json").write_text((RUN.parents[1] / "machine.json").read_text())
    for fmt in ("bmf", "github-action-benchmark", "github-action-benchmark-smaller"):
        assert main(["export", str(RUN), str(other), "--format", fmt]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "2 runs of machine" in err and "one run per upload" in err
    assert main(["export", str(RUN), str(other), "--format", "csv"]) == 0
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    cases = frame[frame["kind"] == "case"]
    assert len(cases) == 48 and cases["run"].nunique() == 2
    parser = pytest.importorskip(
        "prometheus_client.openmetrics.parser", reason="pip install prometheus-client"
    )
    assert main(["export", str(RUN), str(other), "--format", "openmetrics"]) == 0
    families = {f.name: f for f in parser.text_string_to_metric_families(capsys.readouterr().out)}
    samples = families["resnet_bench_images_per_second"].samples
    assert len(samples) == 48 and len({s.labels["run"] for s in samples}) == 2
    assert {"commit", "datetime"} <= set(samples[0].labels)


def test_csv_writes_integer_fields_as_integers(capsys):
    text = _export(capsys, "csv")
    frame = pd.read_csv(io.StringIO(text))
    rows = list(csv.DictReader(io.StringIO(text)))
    written = {row["batch_size"] for row in rows if row["batch_size"]}
    assert written and all(value.isdigit() for value in written), written
    assert set(frame["kind"]) >= {"case", "window", "build", "goal"}

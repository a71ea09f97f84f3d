"""resnet-bench export, each format checked against what its consumer reads: Bencher's
metric format, github-action-benchmark's custom JSON, a flat CSV and OpenMetrics text."""

from __future__ import annotations

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
    assert len(data) == 24 and "v1.5-inference-bs32-float32-cpu" in data
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


@pytest.mark.parametrize(("fmt", "units"), [("github-action-benchmark", {"images/s"}),
                                            ("github-action-benchmark-smaller", {"ms", "MiB"})])  # fmt: skip
def test_github_action_benchmark_custom_json(capsys, fmt, units):
    data = json.loads(_export(capsys, fmt))
    assert isinstance(data, list) and data
    for entry in data:
        assert set(entry) <= {"name", "unit", "value", "range", "extra"}
        assert isinstance(entry["name"], str) and isinstance(entry["value"], float) and entry["unit"] in units
        assert isinstance(entry.get("range", ""), str) and isinstance(entry.get("extra", ""), str)
    assert len({e["name"] for e in data}) == len(data)  # one series per name
    assert any("95% interval" in e.get("extra", "") for e in data)


def test_flat_csv_has_every_schema_field_per_case(capsys):
    frame = pd.read_csv(io.StringIO(_export(capsys, "csv")))
    assert set(FIELDS) <= set(frame.columns) and frame["case_id"].is_unique
    cases = frame[frame["kind"] == "case"]
    assert len(cases) == 24 and json.loads(cases["samples_s"].iloc[0])  # lists kept, as JSON


def test_openmetrics_text_parses_as_openmetrics(capsys):
    parser = pytest.importorskip(
        "prometheus_client.openmetrics.parser", reason="pip install prometheus-client"
    )
    text = _export(capsys, "openmetrics")
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    assert {
        "resnet_bench_images_per_sec",
        "resnet_bench_images_per_sec_ci_low",
        "resnet_bench_latency_ms_p50",
    } <= set(families)
    for family in families.values():
        assert family.type == "gauge"
        for sample in family.samples:
            assert {"machine", "case_id", *AXES} <= set(sample.labels)
    assert len(families["resnet_bench_images_per_sec"].samples) == 24


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

"""How fast results load: 1,000 files of 100 cases each (goal: under 10 s)."""

import pytest

from resnet.analysis.synthetic import write_synthetic_runs
from resnet.runs import load


@pytest.fixture(scope="module")
def many_runs(tmp_path_factory):
    return write_synthetic_runs(tmp_path_factory.mktemp("runs"), files=1000, cases=100)


def test_load_1000_files(benchmark, many_runs):
    benchmark.group = "loader"
    df = benchmark.pedantic(load, args=(many_runs,), rounds=3, iterations=1)
    benchmark.extra_info.update(case_id="load-1000x100", kind="loader", status="ok", rows=len(df))
    assert len(df) == 100_000

"""Build time, parameters and multiply-accumulates of each version."""

from resnet.engine.kinds.goals import run_build


def test_build(version, benchmark, sweep, settle_case):
    settle_case(run_build(sweep, version, benchmark))

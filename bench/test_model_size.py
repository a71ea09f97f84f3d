"""Build time, parameters and multiply-accumulates of each version."""


def test_build(version, benchmark, sweep, settle_case):
    settle_case(sweep.run_build(version, benchmark))

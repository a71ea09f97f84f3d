"""Build time, parameters and multiply-accumulates of each version."""


def test_build(version, benchmark, bench_run, settle_case):
    settle_case(bench_run.run_build(version, benchmark))

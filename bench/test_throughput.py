"""Throughput and latency of every case of the run's axes (versions x modes x
batch sizes x precisions x devices x jit x threads)."""


def test_case(case_id, benchmark, bench_run, settle_case):
    settle_case(bench_run.run_case(case_id, benchmark))

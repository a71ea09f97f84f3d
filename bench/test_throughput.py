"""Throughput and latency of every case of the run's axes (versions x modes x
batch sizes x precisions x devices x jit x threads x replicas)."""


def test_case(case, benchmark, sweep, settle_case):
    settle_case(sweep.run_case(case, benchmark))

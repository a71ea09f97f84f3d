"""Throughput and latency of every case of the run's axes (versions x modes x
batch sizes x precisions x devices x jit x threads x replicas), each in ``--repeat``
windows spread over the run."""

from resnet.engine.kinds.windows import run_window


def test_case(window, benchmark, sweep, settle_case):
    settle_case(run_window(sweep, window, benchmark))

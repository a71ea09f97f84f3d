"""Paired comparisons: our versions in every precision of the run, stepped alternately
in one process (``--paired MODE:BATCH``), for the version cost and the mixed-precision
speed-up with their 95% intervals."""

from resnet.engine.kinds.paired import run_paired


def test_paired(group, benchmark, sweep, settle_case):
    settle_case(run_paired(sweep, group, benchmark))

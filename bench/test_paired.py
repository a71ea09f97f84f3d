"""Paired comparisons: our versions in every precision of the run, stepped alternately
in one process (``--paired MODE:BATCH``), for the version cost and the mixed-precision
speed-up with their 95% intervals."""


def test_paired(group, benchmark, sweep, settle_case):
    settle_case(sweep.run_paired(group, benchmark))

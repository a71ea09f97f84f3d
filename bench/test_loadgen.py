"""MLPerf LoadGen scenarios (``--scenarios single-stream,multi-stream,offline,server``) over
each model's compiled inference step: LoadGen scenarios, not MLPerf submissions."""

from resnet.engine.kinds.loadgen import run_loadgen


def test_loadgen(lg_case, benchmark, sweep, settle_case, loadgen_logs):
    settle_case(run_loadgen(sweep, lg_case, benchmark, loadgen_logs))

"""MLPerf LoadGen scenarios (``--scenarios single-stream,multi-stream,offline,server``) over
each model's compiled inference step: LoadGen scenarios, not MLPerf submissions."""


def test_loadgen(lg_case, benchmark, sweep, settle_case, loadgen_logs):
    settle_case(sweep.run_loadgen(lg_case, benchmark, loadgen_logs))

from resnet.engine.kinds.crossed import run_cross


def test_crossed(cross_group, benchmark, sweep, settle_case):
    settle_case(run_cross(sweep, cross_group, benchmark))

from resnet.engine.kinds.ab import run_ab


def test_ab(ab_case, benchmark, sweep, settle_case):
    settle_case(run_ab(sweep, ab_case, benchmark))

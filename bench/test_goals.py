"""Measured goals, as ratios taken in one run (recorded, never asserted):
the harness adds nothing visible, and our v1 costs no more than keras.applications."""

from resnet.engine.kinds.goals import run_ratio


def test_harness_overhead(benchmark, sweep, settle_case):
    """Suite images/s over a bare loop of the same compiled step (goal: >= 0.97)."""
    settle_case(run_ratio(sweep, "harness-vs-bare-loop", "v1", None, benchmark))


def test_v1_vs_keras_applications(benchmark, sweep, settle_case):
    """Our v1 over keras.applications.ResNet50, same conditions (goal: >= 0.97)."""
    settle_case(run_ratio(sweep, "v1-vs-keras-applications", "v1", "keras-v1", benchmark))

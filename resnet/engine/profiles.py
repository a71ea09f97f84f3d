"""The profiles: every axis and setting of a run preset at once, as typed values;
explicit options override them."""

from __future__ import annotations

from typing import Any

from resnet.schema import MODES, PRECISIONS, SCENARIOS

#: Profiles set every axis at once, as typed values; explicit options override them.
PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {
        "versions": ("v1", "v1.5", "v2"),
        "modes": MODES,
        "batch_sizes": (2,),
        "precisions": ("float32",),
        "jit": (False,),
        "image_size": 32,
        "rounds": 3,
        "warmup_rounds": 1,
        "windows": 2,
        "paired": (("inference", 2),),
        "paired_rounds": 6,
        "scenarios": ("offline",),
        "loadgen_versions": ("v1.5",),
        "loadgen_duration": 1.0,
        "sample_count": 64,
    },
    "quick": {
        "versions": ("v1", "v1.5", "v2"),
        "modes": MODES,
        "batch_sizes": (1, 8, 32),
        "training_batch_sizes": (8,),
        "precisions": ("float32", "mixed_bfloat16"),
        "jit": (False,),
        "image_size": 224,
        "rounds": 3,
        "warmup_rounds": 1,
        # Four seconds of timed steps a window: long enough to span the short swings of a
        # shared machine (a neighbour busy a second in five), so a window's median is the
        # machine's mix rather than a snapshot of one state; a window's fixed cost (worker,
        # build, compile, warm-up, about 10 s) makes longer windows cheaper than more of them.
        "min_time": 4.0,
        # Three windows a case at least: two that happened to meet the same machine state
        # read as a precise figure that a rerun missed by 10-17% (2026-12-06, Zen 4 under the
        # noisy neighbour), and the run's pooled spread gets twice the degrees of freedom.
        "windows": 3,
        # More windows where the machine's window-to-window spread asks for them, while the
        # run stays within 25 minutes on 2 cores (no window beyond the third starts past 24).
        "target_precision": 3.0,
        "max_windows": 6,
        "time_budget": 24 * 60.0,
        "paired": (("inference", 32), ("training", 8)),
        "paired_rounds": 8,
        # 25 s of timed steps per paired model (inference) and at most 25 s (training): with
        # three four-second windows a case, the run stays within 25 minutes under a noisy
        # neighbour (a paired figure's intervals come from its own rounds: fewer rounds make
        # them wider, not wrong).
        "paired_min_time": (("inference", 25.0), ("training", 20.0)),
        "paired_width": 3.0,
        "paired_max_time": (("training", 25.0),),
        "paired_windows": 1,
    },
    "full": {
        "versions": ("v1", "v1.5", "v2", "keras-v1", "keras-v2"),
        "modes": MODES,
        "batch_sizes": (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
        "precisions": PRECISIONS,
        "jit": (False, True),
        "image_size": 224,
        "rounds": 10,
        "warmup_rounds": 2,
        "windows": 3,
        "paired": (("inference", 32), ("training", 32)),
        "paired_rounds": 20,
        "paired_min_time": (("inference", 60.0), ("training", 60.0)),
        "scenarios": SCENARIOS,
        "loadgen_duration": 60.0,
    },
}
DEFAULT_PROFILE = "quick"
DEFAULTS: dict[str, Any] = {"threads": (None,), "replicas": (1,), "strategy": "mirrored", "min_time": None}

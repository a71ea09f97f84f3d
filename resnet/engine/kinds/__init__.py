"""One module per kind of measurement, each holding its parent-side driver and its
worker-side half over one driver skeleton (base): the plain case (case; its windows:
windows), paired groups
(paired), goals and builds (goals), LoadGen scenarios (loadgen), deployment runtimes
(runtimes), input pipelines (pipelines), the peer library (peers), the peer across processes
(crossed) and A/B runs of two software stacks (ab), both over the alternating rounds
of rounds.

Importing this package registers every kind's worker commands and step sources."""

from resnet.engine.kinds import (
    ab,
    case,
    crossed,
    goals,
    loadgen,
    paired,
    peers,
    pipelines,
    runtimes,
    windows,
)

__all__ = ["ab", "case", "crossed", "goals", "loadgen", "paired", "peers", "pipelines", "runtimes", "windows"]

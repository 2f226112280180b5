"""How fast training goes, as shown: seconds per step over training time alone (validations, samples and
pauses left out), smoothed so that the speed and the ETA computed from it hold still."""

from __future__ import annotations

import math
from dataclasses import dataclass

SPEED_SMOOTHING_S = 10.0
"""The time constant of the shown speed: intervals weigh by how long they took, so short early intervals
(steps 1, 2, 5) and one slow step move it little, and the ETA computed from it holds still."""


@dataclass
class Progress:
    """Throughput bookkeeping for one logging interval, excluding evaluation and sampling time."""

    started: float
    steps: int = 0
    excluded_s: float = 0.0
    seconds_per_step: float | None = None
    """Smoothed over about SPEED_SMOOTHING_S of training: the one figure behind chars/s and the ETA."""

    def rate(self, now: float) -> float:
        """The smoothed seconds per step, this interval included."""
        busy = max(now - self.started - self.excluded_s, 1e-9)
        per_step = busy / max(self.steps, 1)
        previous = self.seconds_per_step
        weight = 1.0 - math.exp(-busy / SPEED_SMOOTHING_S)
        self.seconds_per_step = per_step if previous is None else previous + weight * (per_step - previous)
        return self.seconds_per_step

    def reset(self, now: float) -> None:
        self.started, self.steps, self.excluded_s = now, 0, 0.0

"""How fast training goes, as shown: seconds per step over training time alone (validations, samples and
pauses left out), averaged over the last SPEED_WINDOW_S of training so that the speed and the ETA computed
from it hold still, and without the first interval (allocation, warm-up, CUDA graph capture) once there
is another."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

SPEED_WINDOW_S = 10.0
"""How much recent training the shown speed averages over."""


@dataclass
class Progress:
    """Throughput bookkeeping for one logging interval, excluding evaluation and sampling time."""

    started: float
    steps: int = 0
    excluded_s: float = 0.0
    seconds_per_step: float | None = None
    """Averaged over the recent intervals: the one figure behind chars/s and the ETA."""
    _recent: deque[tuple[float, int]] = field(default_factory=deque, repr=False)
    """(busy seconds, steps) of the intervals averaged, newest last."""
    _warm: bool = False
    """Whether the first interval has been dropped (once a second one came)."""

    def rate(self, now: float) -> float:
        """The recent seconds per step, this interval included."""
        busy = max(now - self.started - self.excluded_s, 1e-9)
        recent = self._recent
        recent.append((busy, max(self.steps, 1)))
        if not self._warm and len(recent) > 1:
            recent.popleft()
            self._warm = True
        while len(recent) > 1 and sum(seconds for seconds, _ in list(recent)[1:]) >= SPEED_WINDOW_S:
            recent.popleft()
        self.seconds_per_step = sum(seconds for seconds, _ in recent) / sum(steps for _, steps in recent)
        return self.seconds_per_step

    def reset(self, now: float) -> None:
        self.started, self.steps, self.excluded_s = now, 0, 0.0

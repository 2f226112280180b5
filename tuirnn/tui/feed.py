"""What the app knows about the training run: histories for charts plus the latest of every event.

The trainer calls `TrainingFeed.__call__` on its own thread. It records the event (list appends are
atomic) and posts a message, coalescing step metrics to a few per second, so the worker never waits
for the screen and the screen never floods.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tuirnn.events import (
    CheckpointSaved,
    Evaluated,
    Event,
    Failed,
    Finished,
    Paused,
    Resumed,
    Sampled,
    Started,
    StepMetrics,
)

METRICS_INTERVAL_S = 0.25
MAX_SAMPLES = 200


@dataclass
class TrainingFeed:
    notify: Callable[[Event | None], None]
    """Called with None for coalesced metric updates and with the event for everything else."""
    status: str = "idle"
    run_dir: Path | None = None
    started: Started | None = None
    latest: StepMetrics | None = None
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    speeds: list[float] = field(default_factory=list)
    """chars/s of each logged interval."""
    val_steps: list[int] = field(default_factory=list)
    val_losses: list[float] = field(default_factory=list)
    best_val_loss: float | None = None
    samples: list[Sampled] = field(default_factory=list)
    message: str = ""
    last_checkpoint: CheckpointSaved | None = None
    _last_post: float = 0.0

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepMetrics):
            self.latest = event
            self.steps.append(event.step)
            self.losses.append(event.loss)
            self.speeds.append(event.chars_per_s)
            now = time.monotonic()
            if now - self._last_post >= METRICS_INTERVAL_S or event.step == event.total_steps:
                self._last_post = now
                self.notify(None)
            return
        if isinstance(event, Started):
            self.started, self.run_dir, self.status = event, event.run_dir, "training"
            self.message = f"training on {event.device}"
        elif isinstance(event, Evaluated):
            self.val_steps.append(event.step)
            self.val_losses.append(event.val_loss)
            if event.best:
                self.best_val_loss = event.val_loss
        elif isinstance(event, Sampled):
            self.samples.append(event)
            del self.samples[:-MAX_SAMPLES]
        elif isinstance(event, Paused):
            self.status = "paused"
        elif isinstance(event, Resumed):
            self.status = "training"
        elif isinstance(event, CheckpointSaved):
            self.last_checkpoint = event
        elif isinstance(event, Finished):
            self.status = event.reason
            self.message = f"{event.reason} at step {event.step}; saved in {event.run_dir}"
        elif isinstance(event, Failed):
            self.status = "failed"
            self.message = f"failed at step {event.step}: {event.message}"
        self.notify(event)

    @property
    def active(self) -> bool:
        return self.status in ("starting", "training", "paused", "stopping")

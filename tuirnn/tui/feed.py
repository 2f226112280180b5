"""What the app hears from its workers: the training run's histories and latest events, and a sweep's events.

The trainer calls `TrainingFeed.__call__` on its own thread. It records the event (list appends are
atomic) and posts a message, coalescing step metrics to a few per second, so the worker never waits
for the screen and the screen never floods. A sweep engine calls `SweepFeed` the same way; the app's
sweep runner takes what it collected.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tuirnn.events import (
    Evaluated,
    Event,
    Failed,
    Finished,
    Overfitting,
    Paused,
    Resumed,
    Sampled,
    Started,
    StepMetrics,
)
from tuirnn.sweeps.events import SweepEvent, TrialProgress

METRICS_INTERVAL_S = 0.25
MAX_SAMPLES = 200
NEWS_INTERVAL_S = 0.25
"""A sweep's progress is announced at most this often; starts, evaluations and ends at once."""


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
    overfitting: Overfitting | None = None
    """Said once, when validation rose while training loss fell."""
    baseline: tuple[int, float] | None = None
    """(order, validation loss) of the best n-gram model on the run's split: what counting alone reaches."""
    message: str = ""
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
        elif isinstance(event, Finished):
            self.status = event.reason
            then = "r resumes it" if event.reason == "stopped" else "r trains it further"
            self.message = f"{event.reason} at step {event.step:,}; saved in {event.run_dir}; {then}"
        elif isinstance(event, Failed):
            self.status = "failed"
            self.message = f"failed at step {event.step:,}: {event.message}"
        elif isinstance(event, Overfitting):
            self.overfitting = event
        self.notify(event)

    def replay(self, events: list[Event]) -> list[Finished | Failed]:
        """Take a run's past events (read from its files) with one redraw for the lot, not one per event;
        the endings among them, which the caller may announce."""
        notify, self.notify = self.notify, lambda event: None
        try:
            for event in events:
                self(event)
        finally:
            self.notify = notify
        return [event for event in events if isinstance(event, (Finished, Failed))]

    @property
    def active(self) -> bool:
        return self.status in ("starting", "training", "paused", "stopping")


class SweepFeed:
    """A sweep engine's events, collected on the engine's thread for the app to take.

    Progress is kept as the latest event per trial and announced at most every NEWS_INTERVAL_S; the
    other events are rare and announced at once. Taking happens under a lock held for a swap only.
    """

    def __init__(self, announce: Callable[[], object]) -> None:
        self._announce = announce
        self._lock = threading.Lock()
        self._progress: dict[str, TrialProgress] = {}
        self._events: list[SweepEvent] = []
        self._last = 0.0

    def __call__(self, event: SweepEvent) -> None:
        with self._lock:
            if isinstance(event, TrialProgress):
                self._progress[event.trial] = event
            else:
                self._events.append(event)
        now = time.monotonic()
        if not isinstance(event, TrialProgress) or now - self._last >= NEWS_INTERVAL_S:
            self._last = now
            self._announce()

    def take(self) -> tuple[dict[str, TrialProgress], list[SweepEvent]]:
        with self._lock:
            progress, events = self._progress, self._events
            self._progress, self._events = {}, []
        return progress, events

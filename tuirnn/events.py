"""What a training run tells its subscribers (CLI progress, TUI, sweep driver), and how it is steered.

Events are plain frozen dataclasses; subscribers are called on the training thread and must return
quickly (post a message, put on a queue). Commands arrive through `TrainingControl`, checked between steps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Started:
    run_dir: Path | None
    device: str
    parameters: int
    corpus: str
    start_step: int
    total_steps: int
    steps_per_epoch: int
    chars_per_step: int


@dataclass(frozen=True)
class StepMetrics:
    step: int
    total_steps: int
    epoch: float
    loss: float
    """Mean training loss over the steps since the previous report."""
    last_loss: float
    """Loss of the last training batch alone: the study's measure."""
    lr: float
    grad_norm: float
    chars_per_s: float
    elapsed_s: float
    eta_s: float
    memory_bytes: int | None


@dataclass(frozen=True)
class Evaluated:
    step: int
    val_loss: float
    val_bpc: float
    best: bool


@dataclass(frozen=True)
class Sampled:
    step: int
    prompt: str
    text: str
    seed: int


@dataclass(frozen=True)
class CheckpointSaved:
    step: int
    path: Path
    kind: str


@dataclass(frozen=True)
class Paused:
    step: int


@dataclass(frozen=True)
class Resumed:
    step: int


@dataclass(frozen=True)
class Finished:
    step: int
    reason: str
    """`completed` (all steps done), `early-stopped` (validation stopped improving: patience ran out) or
    `stopped` (asked to stop; a checkpoint was saved)."""
    last_loss: float | None
    val_loss: float | None
    best_val_loss: float | None
    run_dir: Path | None


@dataclass(frozen=True)
class Failed:
    step: int
    kind: str
    """`nan`, `oom`, `io` or `error`."""
    message: str
    run_dir: Path | None


@dataclass(frozen=True)
class Overfitting:
    """Validation loss has risen while training loss fell: the model learns its training text at the
    held-out text's expense. Said once per run."""

    step: int
    val_loss: float
    best_val_loss: float
    best_step: int
    train_loss: float
    train_loss_at_best: float


Event = (Started | StepMetrics | Evaluated | Sampled | CheckpointSaved | Paused | Resumed | Overfitting | Finished
         | Failed)


class TrainingControl:
    """Thread-safe commands for a running trainer: pause, resume, stop, save now."""

    def __init__(self, cancelled: Callable[[], bool] | None = None) -> None:
        self._cancelled = cancelled
        """An outside stop signal polled every step, e.g. a UI worker's cancellation flag."""
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()
        self._save = threading.Event()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def request_save(self) -> None:
        self._save.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        if self._cancelled is not None and not self._stop.is_set() and self._cancelled():
            self.stop()
        return self._stop.is_set()

    def take_save_request(self) -> bool:
        if not self._save.is_set():
            return False
        self._save.clear()
        return True

    def wait_while_paused(self, poll_s: float = 0.1) -> None:
        while not self._running.wait(poll_s):
            if self._save.is_set() or self.stop_requested:
                return

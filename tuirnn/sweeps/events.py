"""What a sweep engine tells its subscribers (the CLI's progress, the app's sweep runner): plain frozen dataclasses.

Both engines publish the same events on the thread that called `run()`; subscribers must return quickly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrialStarted:
    trial: str
    params: dict[str, Any]
    run_dir: Path
    start_step: int
    total_steps: int


@dataclass(frozen=True)
class TrialProgress:
    trial: str
    step: int
    total_steps: int
    loss: float
    last_loss: float
    chars_per_s: float
    eta_s: float


@dataclass(frozen=True)
class TrialEvaluated:
    trial: str
    step: int
    val_loss: float
    val_bpc: float


@dataclass(frozen=True)
class TrialEnded:
    trial: str
    status: str
    """done, pruned, failed or diverged; `queued` when the sweep was stopped while it ran (it resumes later)."""
    step: int
    last_loss: float | None
    val_loss: float | None
    error: str


@dataclass(frozen=True)
class SweepEnded:
    path: Path
    counts: dict[str, int]
    """Trials by status."""
    stopped: bool
    """The sweep was stopped before all its trials ran; `--resume` continues it."""


SweepEvent = TrialStarted | TrialProgress | TrialEvaluated | TrialEnded | SweepEnded

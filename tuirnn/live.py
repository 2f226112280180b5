"""A live run's heartbeat: who trains it, where it stands, and when it last said so.

The trainer's process rewrites `<run>/.live.json` about once a second (from its control thread, never the
training loop). Readers trust it only while the run's training lock is held: the lock says the trainer is
alive, the heartbeat says what it is doing. Nothing here imports torch, so `tuirnn runs` stays quick.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tuirnn.events import CheckpointSaved, Event, Paused, Resumed, Started, StepMetrics
from tuirnn.formatting import format_duration
from tuirnn.locks import is_held
from tuirnn.paths import open_no_follow
from tuirnn.runs import TRAINING_LOCK_FILE

LIVE_FILE = ".live.json"
MAX_LIVE_BYTES = 4096
"""A heartbeat is a few hundred bytes; a bigger file is not one."""


@dataclass(frozen=True)
class LiveInfo:
    pid: int
    host: str
    status: str
    """`starting` (building the model, reading the checkpoint), `training`, `paused` or `stopping`."""
    step: int
    total_steps: int
    chars_per_s: float
    eta_s: float | None
    heartbeat: float
    """When this was written (seconds since the epoch)."""
    last_checkpoint_step: int | None = None

    def describe(self, now: float | None = None) -> str:
        """One line for people: `pid 4242 on gpu-box, step 1,200/9,000, 41,000 chars/s, ETA 12m, beat 1s ago`."""
        age = max(0.0, (time.time() if now is None else now) - self.heartbeat)
        eta = f", ETA {format_duration(self.eta_s)}" if self.eta_s is not None and self.status == "training" else ""
        speed = f", {self.chars_per_s:,.0f} chars/s" if self.chars_per_s else ""
        state = "" if self.status == "training" else f", {self.status}"
        where = "" if self.status == "starting" else f", step {self.step:,}/{self.total_steps:,}{speed}{eta}"
        return f"pid {self.pid} on {self.host}{where}{state}, heartbeat {format_duration(age)} ago"


def read_live(run_path: Path) -> LiveInfo | None:
    """The run's heartbeat, or None when no live process trains it (the lock is the judge) or it has not
    written one yet."""
    run_path = Path(run_path)
    if not is_held(run_path / TRAINING_LOCK_FILE):
        return None
    try:
        fd = open_no_follow(run_path / LIVE_FILE, os.O_RDONLY)
        with os.fdopen(fd, "rb") as handle:
            data = json.loads(handle.read(MAX_LIVE_BYTES + 1)[:MAX_LIVE_BYTES])
        return LiveInfo(**{name: data[name] for name in LiveInfo.__dataclass_fields__ if name in data})
    except (OSError, ValueError, TypeError):
        return None


class LiveBeacon:
    """Keeps the trainer's latest position (a subscriber, called on the training thread: it only assigns)
    and writes it as the heartbeat when asked (on another thread)."""

    def __init__(self, run_path: Path) -> None:
        self.path = Path(run_path) / LIVE_FILE
        self._lock = threading.Lock()
        self._info = LiveInfo(os.getpid(), socket.gethostname(), "starting", 0, 0, 0.0, None, time.time())

    @property
    def info(self) -> LiveInfo:
        with self._lock:
            return self._info

    def __call__(self, event: Event) -> None:
        with self._lock:
            info = self._info
            if isinstance(event, Started):
                info = replace(info, status="training", step=event.start_step, total_steps=event.total_steps)
            elif isinstance(event, StepMetrics):
                info = replace(info, step=event.step, total_steps=event.total_steps, chars_per_s=event.chars_per_s,
                               eta_s=event.eta_s)
            elif isinstance(event, Paused):
                info = replace(info, status="paused", step=event.step)
            elif isinstance(event, Resumed):
                info = replace(info, status="training", step=event.step)
            elif isinstance(event, CheckpointSaved) and event.kind == "latest":
                info = replace(info, last_checkpoint_step=event.step)
            self._info = info

    def stopping(self) -> None:
        with self._lock:
            self._info = replace(self._info, status="stopping")

    def write(self) -> None:
        """Replace the heartbeat file. Not fsynced: it means nothing once its process is gone."""
        info = replace(self.info, heartbeat=time.time())
        temp = self.path.with_name(f"{LIVE_FILE}.{os.getpid()}.tmp")
        try:
            fd = open_no_follow(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(asdict(info), handle)
            os.replace(temp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                temp.unlink()

    def remove(self) -> None:
        """Take the heartbeat away, with what a killed writer left half-written."""
        for path in (self.path, *self.path.parent.glob(f"{LIVE_FILE}.*.tmp")):
            with contextlib.suppress(OSError):
                path.unlink()

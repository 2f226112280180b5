"""What the local and Ray engines share: the sweep directory, subscribers, and turning the workers' plain
messages (see trial.py) into trial records on disk and events for the display."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from tuirnn.config import ConfigError
from tuirnn.subscribers import Subscribers
from tuirnn.sweeps.events import (
    SweepEnded,
    SweepEvent,
    TrialEnded,
    TrialEvaluated,
    TrialProgress,
    TrialStarted,
)
from tuirnn.sweeps.sweepdir import STATUSES, SweepDir, TrialRecord
from tuirnn.sweeps.trial import Message, TrialJob


class SweepEngine:
    def __init__(self, sweep: SweepDir, data_dir: Path | None = None):
        from tuirnn.catalog import default_data_dir

        self.sweep = sweep
        self.data_dir = Path(data_dir if data_dir is not None else default_data_dir()).resolve()
        self._subscribers: Subscribers[SweepEvent] = Subscribers(lambda: sweep.path)
        self._stopping = threading.Event()

    def subscribe(self, callback: Callable[[SweepEvent], None]) -> None:
        self._subscribers.add(callback)

    def run(self) -> SweepEnded:
        """Run the sweep's remaining trials; returns when all have ended, or soon after `stop()`."""
        raise NotImplementedError

    def stop(self) -> None:
        """Start no more trials and stop the running ones; safe from a signal handler or another thread."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _emit(self, event: SweepEvent) -> None:
        self._subscribers.emit(event)

    def _job(self, record: TrialRecord, threads: int) -> TrialJob:
        return TrialJob(record.id, record.config, str(self.sweep.trial_path(record).resolve()), str(self.data_dir),
                        threads)

    def _launched(self, record: TrialRecord) -> None:
        record.status, record.attempts, record.started, record.error = "running", record.attempts + 1, time.time(), ""
        self.sweep.save()

    def _progress(self, message: Message) -> None:
        """Apply a started, step or eval message from a running trial."""
        record = self.sweep.find(message["trial"])
        if record is None:
            return
        kind = message["kind"]
        if kind == "started":
            record.total_steps = message["total_steps"]
            self._emit(TrialStarted(record.id, dict(record.params), self.sweep.trial_path(record),
                                    message["start_step"], message["total_steps"]))
        elif kind == "step":  # its total too: a budgeted trial plans its steps once it has timed a few
            record.step, record.last_loss = message["step"], message["last_loss"]
            record.total_steps = message["total_steps"]
            self._emit(TrialProgress(record.id, message["step"], message["total_steps"], message["loss"],
                                     message["last_loss"], message["chars_per_s"], message["eta_s"]))
        elif kind == "eval":
            record.val_loss = message["val_loss"]
            # a resumed attempt repeats evaluations after its checkpoint: keep one value per step
            record.intermediate = [pair for pair in record.intermediate if pair[0] < message["step"]]
            record.intermediate.append([message["step"], message["val_loss"]])
            self._emit(TrialEvaluated(record.id, message["step"], message["val_loss"], message["val_bpc"]))

    def _ended(self, record: TrialRecord, status: str, end: Message | None, error: str = "") -> None:
        """Record a trial's outcome: `status` is the sweep's word for it; `end` the worker's end message if any."""
        now = time.time()
        record.status = status
        if record.started is not None:
            record.seconds += now - record.started
        if end is not None:
            record.step = end["step"]
            for name in ("last_loss", "val_loss", "best_val_loss"):
                if end.get(name) is not None:
                    setattr(record, name, end[name])
        record.error = error or (end or {}).get("error", "")
        if status != "queued":
            record.finished = now
        self.sweep.save()
        self.sweep.export()
        self._emit(TrialEnded(record.id, status, record.step, record.last_loss, record.val_loss, record.error))

    def _finish(self) -> SweepEnded:
        for record in self.sweep.unfinished():
            record.status = "queued"
        self.sweep.save()
        self.sweep.export()
        counts = {status: sum(r.status == status for r in self.sweep.trials) for status in STATUSES}
        stopped = bool(self.sweep.unfinished()) or len(self.sweep.trials) < self.sweep.definition.trial_count
        event = SweepEnded(self.sweep.path, {k: v for k, v in counts.items() if v}, stopped)
        self._emit(event)
        return event


ENGINES = ("local", "ray")


def make_engine(sweep: SweepDir, engine: str, workers: int | None = None, data_dir: Path | None = None,
                address: str | None = None) -> SweepEngine:
    """The engine that runs `sweep`: `local` processes on this machine, or `ray` (a local Ray, or the
    cluster at `address`). Imported here, so that choosing one never loads the other's libraries."""
    if engine == "ray":
        from tuirnn.sweeps.ray_engine import RayEngine

        return RayEngine(sweep, workers, address, data_dir)
    if engine != "local":
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)} (got {engine!r})")
    from tuirnn.sweeps.local import LocalEngine

    return LocalEngine(sweep, workers, data_dir)

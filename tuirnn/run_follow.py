"""A run that another process trains, told as the trainer's own events, read from the run's files.

The app's dashboard takes `Trainer` events; attached to a run trained elsewhere (a detached trainer,
`tuirnn train` in another terminal, a sweep's trial), it takes the same events from a `RunFollower`:
the whole history first (metrics.jsonl, samples.jsonl), then what is appended, with the heartbeat for
pauses, speed and ETA, and the training lock for the end. No torch, no Textual.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirnn.events import Evaluated, Event, Failed, Finished, Paused, Resumed, Sampled, Started, StepMetrics
from tuirnn.jsonl_tail import JsonlTail, finite_number
from tuirnn.live import LiveInfo, read_live
from tuirnn.locks import is_held
from tuirnn.runs import METRICS_FILE, SAMPLES_FILE, TRAINING_LOCK_FILE, RunDir, live_status


@dataclass
class RunFollower:
    path: Path
    live: LiveInfo | None = None
    """The heartbeat as last read; None once nobody trains the run."""
    ended: bool = False
    _metrics: JsonlTail = field(init=False)
    _samples: JsonlTail = field(init=False)
    _best: float | None = field(default=None, init=False)
    _status: str = field(default="", init=False)
    _step: int = field(default=0, init=False)
    _last_loss: float | None = field(default=None, init=False)
    _val_loss: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self._metrics = JsonlTail(self.path / METRICS_FILE)
        self._samples = JsonlTail(self.path / SAMPLES_FILE)

    def poll(self) -> tuple[bool, list[Event]]:
        """(restarted, events) since the last poll; restarted: the history was rewritten (a resume drops
        what came after its checkpoint), so the events before are void and these replace them."""
        run = RunDir.open(self.path)
        events: list[Event] = []
        first = not self._status
        self.live = read_live(self.path)
        if first:
            events.append(self._started(run))
        restarted, records = self._metrics.read()
        if restarted:
            self._best, self._step = None, 0
            events = [self._started(run)]
        events += self._from_metrics(records, run)
        samples_restarted, samples = self._samples.read()
        restarted = restarted or samples_restarted
        events += [Sampled(int(s.get("step", 0)), str(s.get("prompt", "")), str(s.get("text", "")),
                           int(s.get("seed", 0))) for s in samples if isinstance(s.get("text"), str)]
        events += self._status_change(run)
        return restarted, events

    def _started(self, run: RunDir) -> Started:
        info, config = run.info, run.config
        total = int(self.live.total_steps if self.live else info.get("total_steps", 0) or 0)
        return Started(self.path, str(info.get("device", "")), int(info.get("parameters", 0) or 0),
                       str(info.get("corpus", config.data.corpus)), 0, total, 0,
                       config.train.batch_size * config.data.seq_len)

    def _from_metrics(self, records: list[dict[str, Any]], run: RunDir) -> list[Event]:
        live, events = self.live, list[Event]()
        total = int(live.total_steps if live else run.info.get("total_steps", 0) or 0)
        for record in records:
            step = finite_number(record, "step")
            if step is None:
                continue
            self._step = max(self._step, int(step))
            loss, val_loss = finite_number(record, "loss"), finite_number(record, "val_loss")
            if loss is not None:
                self._last_loss = finite_number(record, "last_loss") or loss
                events.append(StepMetrics(
                    step=int(step), total_steps=max(total, int(step)), epoch=finite_number(record, "epoch") or 0.0,
                    loss=loss, last_loss=self._last_loss, lr=finite_number(record, "lr") or 0.0,
                    grad_norm=finite_number(record, "grad_norm") or 0.0,
                    chars_per_s=finite_number(record, "chars_per_s") or 0.0, elapsed_s=0.0,
                    eta_s=live.eta_s if live is not None and live.eta_s is not None else 0.0, memory_bytes=None))
            if val_loss is not None:
                best = self._best is None or val_loss < self._best
                self._best = val_loss if best else self._best
                self._val_loss = val_loss
                events.append(Evaluated(int(step), val_loss, finite_number(record, "val_bpc") or 0.0, best))
        return events

    def _status_change(self, run: RunDir) -> list[Event]:
        """Paused and resumed from the heartbeat; the end from the lock, with run.json's last word."""
        live = self.live
        if live is not None:
            status = "paused" if live.status == "paused" else "training"
            if status == self._status:
                return []
            was, self._status = self._status, status
            if status == "paused":
                return [Paused(live.step)]
            return [Resumed(live.step)] if was == "paused" else []
        if is_held(self.path / TRAINING_LOCK_FILE):  # held, but no heartbeat yet: a trainer starting
            self._status = self._status or "training"
            return []
        status = live_status(self.path, run.info)
        if self.ended:
            return []
        self.ended, self._status = True, status
        step = int(run.info.get("step", self._step) or 0)
        if status in ("failed", "interrupted"):
            reason = str(run.info.get("error", "")) if status == "failed" else "its trainer died"
            return [Failed(step, "error", reason or status, self.path)]
        return [Finished(step, status, self._last_loss, self._val_loss,
                         _float(run.info.get("best_val_loss")), self.path)]


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

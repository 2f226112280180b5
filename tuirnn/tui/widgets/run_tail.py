"""Follow a run directory that another process (a headless `tuirnn train`) is writing.

Polls read only what was appended (see `JsonlTail`). Free of torch and Textual: the Runs screen stays fast
and tests drive it directly.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from tuirnn.jsonl_tail import JsonlTail, finite_number
from tuirnn.runs import INFO_FILE, METRICS_FILE, SAMPLES_FILE, RunSummary, live_status


class MetricsTail:
    """Training and validation loss against step, kept up to date from a run's metrics.jsonl."""

    def __init__(self, path: Path) -> None:
        self._tail = JsonlTail(path)
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.val_steps: list[int] = []
        self.val_losses: list[float] = []
        self.val_bpcs: list[float | None] = []

    def poll(self) -> bool:
        """Read what was appended; True when the curves changed."""
        restarted, records = self._tail.read()
        if restarted:
            for values in (self.steps, self.losses, self.val_steps, self.val_losses, self.val_bpcs):
                values.clear()
        for record in records:
            step = finite_number(record, "step")
            if step is None:
                continue
            loss, val_loss = finite_number(record, "loss"), finite_number(record, "val_loss")
            if loss is not None:
                self.steps.append(int(step))
                self.losses.append(loss)
            if val_loss is not None:
                self.val_steps.append(int(step))
                self.val_losses.append(val_loss)
                self.val_bpcs.append(finite_number(record, "val_bpc"))
        return restarted or bool(records)

    @property
    def last_step(self) -> int:
        return max(self.steps[-1] if self.steps else 0, self.val_steps[-1] if self.val_steps else 0)

    @property
    def best_val(self) -> tuple[float, float | None] | None:
        """(loss, bits per character) of the best evaluation so far, None before the first."""
        if not self.val_losses:
            return None
        i = min(range(len(self.val_losses)), key=self.val_losses.__getitem__)
        return self.val_losses[i], self.val_bpcs[i]


class RunTail:
    """Everything the Runs screen shows of one run that changes while it trains: curves, samples, run.json."""

    def __init__(self, run_path: Path) -> None:
        self.path = Path(run_path)
        self.metrics = MetricsTail(self.path / METRICS_FILE)
        self._samples = JsonlTail(self.path / SAMPLES_FILE)
        self.samples: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {}
        self._info_version: tuple[int, int] | None = None

    def poll(self) -> bool:
        """Read what changed since the last poll; True when anything did."""
        changed = self.metrics.poll()
        restarted, samples = self._samples.read()
        if restarted:
            self.samples.clear()
        self.samples.extend(samples)
        return self._poll_info() or changed or restarted or bool(samples)

    def _poll_info(self) -> bool:
        """run.json is small and replaced whole (a new inode) on every update, so it is re-read when it changes."""
        path = self.path / INFO_FILE
        try:
            stat = path.stat()
            version = (stat.st_ino, stat.st_mtime_ns)
            if version == self._info_version:
                return False
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        self._info_version = version
        self.info = info if isinstance(info, dict) else {}
        return True

    def summarize(self, listed: RunSummary) -> RunSummary:
        """`listed` brought up to date: run.json as last read, and the metrics, which run ahead of run.json."""
        info = self.info
        best_loss = info.get("best_val_loss", listed.best_val_loss)
        best_bpc = info.get("best_val_bpc", listed.best_val_bpc)
        logged = self.metrics.best_val
        if logged is not None and (best_loss is None or logged[0] < best_loss):
            best_loss, best_bpc = logged
        return replace(
            listed,
            steps=max(int(info.get("step", listed.steps) or 0), self.metrics.last_step),
            best_val_loss=best_loss,
            best_val_bpc=best_bpc,
            status=live_status(self.path, info, listed.status),
        )

"""Sweep progress for the command line: plain lines for logs and pipes, a live rich table on a terminal."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from tuirnn.formatting import format_duration
from tuirnn.sweeps.definition import describe_point
from tuirnn.sweeps.events import (
    SweepEnded,
    SweepEvent,
    TrialEnded,
    TrialEvaluated,
    TrialProgress,
    TrialStarted,
)
from tuirnn.sweeps.sweepdir import SweepDir

PLAIN_PROGRESS_EVERY_S = 10.0
RECENT_ROWS = 10


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


class PlainSweepReporter:
    """A line per trial start, evaluation and end, and a progress line per trial at most every 10 seconds."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self._last_line: dict[str, float] = {}

    def _print(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # the terminal is gone: the sweep goes on and is saved
            print(text, file=self.stream, flush=True)

    def __call__(self, event: SweepEvent) -> None:
        if isinstance(event, TrialStarted):
            how = f"resumed at step {event.start_step}" if event.start_step else "started"
            self._print(f"{event.trial} {how} ({describe_point(event.params)}), {event.total_steps} steps, "
                        f"run {event.run_dir}")
        elif isinstance(event, TrialProgress):
            now = time.monotonic()
            if now - self._last_line.get(event.trial, 0.0) >= PLAIN_PROGRESS_EVERY_S:
                self._last_line[event.trial] = now
                self._print(f"{event.trial} step {event.step}/{event.total_steps} loss {event.loss:.4f} "
                            f"last {event.last_loss:.4f} {event.chars_per_s:,.0f} chars/s "
                            f"eta {format_duration(event.eta_s)}")
        elif isinstance(event, TrialEvaluated):
            self._print(f"{event.trial} eval at step {event.step}: val loss {event.val_loss:.4f}, "
                        f"{event.val_bpc:.3f} bits/char")
        elif isinstance(event, TrialEnded):
            detail = f": {event.error}" if event.error else (f", last batch loss {_fmt(event.last_loss)}, "
                                                              f"val loss {_fmt(event.val_loss)}")
            self._print(f"{event.trial} {event.status} at step {event.step}{detail}")


class LiveSweepReporter:
    """A table of the running and the most recently ended trials, redrawn in place."""

    def __init__(self, sweep: SweepDir, console: Console | None = None):
        self.sweep = sweep
        self.progress: dict[str, TrialProgress] = {}
        self.ended: list[str] = []
        self.live = Live(self._table(), console=console or Console(), refresh_per_second=4)
        self.live.start()

    def _table(self) -> Table:
        counts: dict[str, int] = {}
        for record in self.sweep.trials:
            counts[record.status] = counts.get(record.status, 0) + 1
        caption = ", ".join(f"{n} {status}" for status, n in counts.items())
        table = Table(title=f"sweep {self.sweep.definition.name}: {self.sweep.definition.trial_count} trials",
                      caption=caption or None)
        for column in ("trial", "settings", "status", "step", "loss", "last batch", "val loss", "eta"):
            table.add_column(column)
        running = [r for r in self.sweep.trials if r.status == "running"]
        recent = [r for r in (self.sweep.find(t) for t in self.ended[-RECENT_ROWS:]) if r is not None]
        for record in running + recent[::-1]:
            seen = self.progress.get(record.id)
            step = f"{record.step}/{record.total_steps}" if record.total_steps else "-"
            table.add_row(record.id, describe_point(record.params), record.status, step,
                          _fmt(seen.loss) if seen and record.status == "running" else "-", _fmt(record.last_loss),
                          _fmt(record.val_loss),
                          format_duration(seen.eta_s) if seen and record.status == "running" else "-")
        return table

    def __call__(self, event: SweepEvent) -> None:
        if isinstance(event, TrialProgress):
            self.progress[event.trial] = event
        elif isinstance(event, TrialEnded):
            self.ended.append(event.trial)
        if isinstance(event, SweepEnded):
            self.close()
        else:
            self.live.update(self._table())

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.live.stop()

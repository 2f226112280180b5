"""Training progress for the command line: a live rich display on a terminal, plain lines otherwise."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import asdict
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from tuirnn.events import (
    CheckpointSaved,
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
from tuirnn.formatting import format_duration
from tuirnn.validation_watch import overfitting_text


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


class PlainReporter:
    """One line per report, for logs and pipes."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stdout
        self.val_loss: float | None = None

    def _print(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # the terminal is gone (SIGHUP): keep training and saving
            print(text, file=self.stream, flush=True)

    def aside(self, text: str) -> None:
        """A note for the person (stderr), not part of the report."""
        with contextlib.suppress(OSError, ValueError):
            print(text, file=sys.stderr, flush=True)

    def __call__(self, event: Event) -> None:
        if isinstance(event, Started):
            self._print(f"training on {event.device}: {event.parameters:,} parameters, corpus {event.corpus}")
            steps = (f"steps {event.start_step}..{event.total_steps}" if event.total_steps
                     else "steps planned to fit the time budget once the first ones are timed")
            where = f", run {event.run_dir}" if event.run_dir else ""
            self._print(f"{steps} ({event.steps_per_epoch} per epoch){where}")
        elif isinstance(event, StepMetrics):
            self._print(f"step {event.step}/{event.total_steps} epoch {event.epoch:.2f} loss {event.loss:.4f} "
                        f"last {event.last_loss:.4f} val {_fmt(self.val_loss)} {event.chars_per_s:,.0f} chars/s "
                        f"eta {format_duration(event.eta_s)}")
        elif isinstance(event, Evaluated):
            self.val_loss = event.val_loss
            self._print(f"eval step {event.step}: val loss {event.val_loss:.4f}, {event.val_bpc:.3f} bits/char"
                        + (" (best)" if event.best else ""))
        elif isinstance(event, Sampled):
            self._print(f"sample at step {event.step} (seed {event.seed}): {event.prompt}{event.text}")
        elif isinstance(event, Overfitting):
            self._print(f"warning: {overfitting_text(**asdict(event))}")
        elif isinstance(event, Paused):
            self._print(f"paused at step {event.step}")
        elif isinstance(event, Resumed):
            self._print(f"resumed at step {event.step}")
        elif isinstance(event, (Finished, Failed, CheckpointSaved)):
            pass  # the command prints the outcome itself


class RichReporter(PlainReporter):
    """A progress bar with loss, validation loss, chars/s and ETA; evaluations and samples scroll above it."""

    def __init__(self, console: Console | None = None):
        super().__init__()
        self.console = console or Console()
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss [cyan]{task.fields[loss]}[/] val [green]{task.fields[val]}[/]"),
            TextColumn("{task.fields[speed]} chars/s"),
            TextColumn("eta {task.fields[eta]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.task: TaskID | None = None

    def _print(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.progress.console.print(text, markup=False, highlight=False)

    def aside(self, text: str) -> None:
        """Printed above the live progress line: written past it, the line would be drawn again below."""
        self._print(text)

    def __call__(self, event: Event) -> None:
        if isinstance(event, Started):
            super().__call__(event)
            self.progress.start()
            self.task = self.progress.add_task("train", total=event.total_steps or None, completed=event.start_step,
                                               loss="-", val="-", speed="-", eta="-")
        elif isinstance(event, StepMetrics) and self.task is not None:
            self.progress.update(self.task, total=event.total_steps, completed=event.step, loss=f"{event.loss:.4f}",
                                 val=_fmt(self.val_loss),
                                 speed=f"{event.chars_per_s:,.0f}", eta=format_duration(event.eta_s))
        elif isinstance(event, Evaluated) and self.task is not None:
            super().__call__(event)
            self.progress.update(self.task, val=_fmt(event.val_loss))
        elif isinstance(event, (Finished, Failed)):
            self.close()
        else:
            super().__call__(event)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.progress.stop()

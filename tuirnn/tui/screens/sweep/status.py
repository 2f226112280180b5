"""The line under the Sweep screen's panels: the shown sweep's name, its counts, and whether it runs here,
elsewhere, is stopped (and resumable) or finished."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from tuirnn.formatting import format_duration
from tuirnn.sweeps.listing import progress, resumable, sweep_counts
from tuirnn.sweeps.sweepdir import SweepDir

BAR_WIDTH = 20


class SweepStatus(Static):
    def show(self, sweep: SweepDir | None, running: bool, stopping: bool, workers: int = 1) -> None:
        """`running`: the app runs `sweep` with `workers` trials at once; `stopping`: it was asked to stop
        and its trials are saving."""
        if sweep is None:
            self.update(Text("No sweep shown: ctrl+t runs the setup, ctrl+o opens a saved sweep.", "dim"))
            return
        text = Text(sweep.path.name, "bold").append(f"  {sweep_counts(sweep)}  ")
        if running:
            text.append("stopping, the trials save a checkpoint…" if stopping else "running",
                        "bold yellow" if stopping else "bold cyan")
            done, left = progress(sweep, workers, time.time())
            filled = round(done * BAR_WIDTH)
            text.append(f"  {'#' * filled}{'.' * (BAR_WIDTH - filled)} {done:.0%}", "cyan")
            text.append(f"  ETA {format_duration(left)}" if left is not None else "  ETA after the first steps")
        elif any(record.status == "running" for record in sweep.trials):
            text.append("running elsewhere, or killed: followed live", "cyan")
        elif resumable(sweep):
            text.append("stopped: r resumes", "yellow")
        else:
            text.append("finished", "green")
        self.update(text)

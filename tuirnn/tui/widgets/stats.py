"""The numbers of a training run at a glance."""

from __future__ import annotations

import math

from rich.table import Table
from textual.widgets import Static

from tuirnn.formatting import format_duration, human_bytes
from tuirnn.tui.feed import TrainingFeed

STATUS_STYLE = {"training": "bold green", "paused": "bold yellow", "failed": "bold red", "stopping": "yellow",
                "starting": "cyan", "completed": "bold cyan", "early-stopped": "bold cyan", "stopped": "cyan",
                "idle": "dim"}


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, fmt)


class Stats(Static):
    def show(self, feed: TrainingFeed) -> None:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="dim", no_wrap=True, min_width=7)
        table.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        m = feed.latest
        device = feed.started.device if feed.started else "-"
        table.add_row("status", f"[{STATUS_STYLE.get(feed.status, '')}]{feed.status}[/] on {device}")
        table.add_row("run", feed.run_dir.name if feed.run_dir else "-")
        table.add_row("step", f"{m.step:,}/{m.total_steps:,}  ep {m.epoch:.2f}" if m else "-")
        val = feed.val_losses[-1] if feed.val_losses else None
        table.add_row("loss", f"{_num(m.loss if m else None, '.4f')}  val {_num(val, '.4f')}")
        bpc = _num(val / math.log(2) if val else None, ".3f")
        table.add_row("val bpc", f"{bpc}  best {_num(feed.best_val_loss, '.4f')}")
        eta = format_duration(m.eta_s) if m and feed.status == "training" else "-"
        table.add_row("chars/s", f"{_num(m.chars_per_s if m else None, ',.0f')}  ETA {eta}")
        table.add_row("grad/lr", f"{_num(m.grad_norm if m else None, '.3f')}  {_num(m.lr if m else None, '.1e')}")
        if m is not None and m.memory_bytes is not None:
            table.add_row("GPU mem", human_bytes(m.memory_bytes))
        if feed.overfitting is not None:
            seen = feed.overfitting
            table.add_row("[yellow]overfit[/]", f"[yellow]since step {seen.step:,}: val up from its best "
                                                f"{seen.best_val_loss:.4f} (step {seen.best_step:,})[/]")
        self.update(table)

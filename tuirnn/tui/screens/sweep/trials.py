"""The Trials panel: one row a trial (its point, status, step, losses and speed), the best starred.

Rows are brought up to date in place, only changed cells redrawn, so a running sweep's table does not
flicker. The panel posts `Chosen` when a trial is opened (Enter or g) and `Highlighted` when the cursor
moves; the screen decides what follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, TabPane

from tuirnn.sweeps.axes_text import value_label
from tuirnn.sweeps.results import average_speed, speed_text
from tuirnn.sweeps.sweepdir import SweepDir, TrialRecord

STATUS_STYLES = {"queued": "dim", "running": "bold cyan", "done": "green", "pruned": "yellow",
                 "failed": "bold red", "diverged": "magenta"}
COLUMNS = (("status", "status"), ("step", "step"), ("train", "train"), ("val", "val"), ("bpc", "bpc"),
           ("chars/s", "speed"))
"""(label, key) of the columns after the trial id and the axes."""
QUEUED = "queued:"
"""Row keys of a grid's trials that have not started (their ids come when they start)."""


def _number(value: float | None, digits: int = 3) -> Text:
    return Text("–" if value is None else f"{value:.{digits}f}", justify="right")


class TrialTable(DataTable[Any]):
    """The trials; Enter (or g) opens the highlighted one on the Generate screen."""

    BINDINGS = [Binding("enter,g", "generate", "Generate", id="sweep-generate")]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.row_count > 0 if action == "generate" else True

    def action_generate(self) -> None:
        self.action_select_cursor()


class TrialsPanel(TabPane):
    class Chosen(Message):
        """A trial was opened (Enter or g on its row)."""

        def __init__(self, trial: str) -> None:
            super().__init__()
            self.trial = trial

    class Highlighted(Message):
        """The cursor moved to another trial (see `selected`)."""

    def __init__(self, *, id: str) -> None:
        super().__init__("Trials", id=id)

    def compose(self) -> ComposeResult:
        yield TrialTable(id="trial-table", cursor_type="row", zebra_stripes=True)

    @property
    def selected(self) -> str | None:
        """The highlighted trial."""
        table = self.query_one(TrialTable)
        return str(table.ordered_rows[table.cursor_row].key.value) if table.row_count else None

    def reset(self, sweep: SweepDir) -> None:
        """Empty the table and give it `sweep`'s columns."""
        table = self.query_one(TrialTable)
        table.clear(columns=True)
        table.add_column("trial", key="trial")
        for axis in sweep.definition.axes:
            table.add_column(axis.name, key=f"axis:{axis.name}")
        for label, key in COLUMNS:
            table.add_column(label, key=key)

    def show(self, sweep: SweepDir, metric: str, speeds: Mapping[str, float]) -> None:
        """Bring every row up to date (adding new trials); `speeds` are the running trials' latest chars/s."""
        table = self.query_one(TrialTable)
        best = next(iter(sweep.ranked(metric)), None)
        keys = [str(column.key.value) for column in table.ordered_columns]
        records = list(sweep.trials)
        for record in records:
            cells = self._row(sweep, record, best.id if best else None, speeds)
            if record.id not in table.rows:
                table.add_row(*cells, key=record.id)
                continue
            for key, cell in zip(keys, cells, strict=True):
                if table.get_cell(record.id, key) != cell:
                    table.update_cell(record.id, key, cell, update_width=True)
        self._show_queued(sweep, [record.params for record in records])

    def _show_queued(self, sweep: SweepDir, started: list[dict[str, Any]]) -> None:
        """A grid's trials not started yet, as `queued` rows at the end, each gone once its trial starts."""
        table = self.query_one(TrialTable)
        definition = sweep.definition
        points = definition.listed_points() if definition.strategy == "grid" else []
        waiting = {f"{QUEUED}{index}": point for index, point in enumerate(points) if point not in started}
        for key in [str(row.key.value) for row in table.ordered_rows]:
            if key.startswith(QUEUED) and key not in waiting:
                table.remove_row(key)
        for key, point in waiting.items():
            if key not in table.rows:
                table.add_row(Text(" (next)", style="dim"),
                              *(Text(value_label(point.get(axis.name)), justify="right", style="dim")
                                for axis in definition.axes),
                              Text("queued", style=STATUS_STYLES["queued"]),
                              *(Text("–", justify="right", style="dim") for _ in COLUMNS[1:]), key=key)

    @staticmethod
    def _row(sweep: SweepDir, record: TrialRecord, best: str | None, speeds: Mapping[str, float]) -> list[Any]:
        speed = speeds.get(record.id) if record.status == "running" else average_speed(record)
        return [
            Text(("★" if record.id == best else " ") + record.id, style="bold green" if record.id == best else ""),
            *(Text(value_label(record.params.get(axis.name)), justify="right") for axis in sweep.definition.axes),
            Text(record.status, style=STATUS_STYLES.get(record.status, "")),
            Text(str(record.step), justify="right"),
            _number(record.last_loss),
            _number(record.val_loss),
            _number(record.val_bpc),
            Text(speed_text(speed), justify="right"),
        ]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.Chosen(str(event.row_key.value)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Highlighted())

"""A sweep's results as data for display: one measure over two axes (a heatmap), and trial speeds.

Free of Textual: the Sweep screen draws these, and tests check them without a terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tuirnn.sweeps.axes_text import value_label
from tuirnn.sweeps.definition import Axis, describe_point
from tuirnn.sweeps.sweepdir import SweepDir, TrialRecord

METRIC_LABELS = {"val_loss": "validation loss", "last_loss": "final training loss (last batch)"}
"""How each of the sweep definition's METRICS is named on screen."""

Cell = tuple[int, int]
"""(row index, column index)."""


@dataclass(frozen=True)
class HeatmapData:
    title: str
    row_axis: str
    """The name of the axis down the side; empty for a single row (a one-axis sweep)."""
    col_axis: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    values: Mapping[Cell, float]
    """Finite values only; a cell without one is drawn as missing (or failed)."""
    failed: frozenset[Cell] = frozenset()
    names: Mapping[Cell, str] = field(default_factory=dict)
    """Where each value came from (trial ids), so the legend can say which trial is best."""

    @property
    def best(self) -> Cell | None:
        """The lowest value; ties go to the first cell in reading order."""
        return min(self.values, key=lambda cell: (self.values[cell], cell), default=None)


def heatmap_data(sweep: SweepDir, metric: str, rows: Axis | None, cols: Axis) -> HeatmapData:
    """`metric` of the done trials by the two axes' values (one row when `rows` is None); other axes are
    folded in by taking the best. A cell with no result and a failed or diverged trial is marked failed."""
    values: dict[Cell, float] = {}
    names: dict[Cell, str] = {}
    failed: set[Cell] = set()
    for record in sweep.trials:
        try:
            cell = (rows.values.index(record.params[rows.name]) if rows else 0,
                    cols.values.index(record.params[cols.name]))
        except (KeyError, ValueError):
            continue
        value = record.metric(metric) if record.status == "done" else None
        if value is not None and (cell not in values or value < values[cell]):
            values[cell] = value
            names[cell] = f"{record.id}: {describe_point(record.params)}"
        elif record.status in ("failed", "diverged"):
            failed.add(cell)
    others = [a.name for a in sweep.definition.axes if a.name not in (cols.name, rows.name if rows else None)]
    title = METRIC_LABELS[metric] + (f", best over {', '.join(others)}" if others else "")
    return HeatmapData(title, rows.name if rows else "", cols.name,
                       tuple(map(value_label, rows.values)) if rows else ("",), tuple(map(value_label, cols.values)),
                       values, frozenset(failed - values.keys()), names)


def average_speed(record: TrialRecord) -> float | None:
    """Characters a second over the trial's whole time (start-up and evaluations included)."""
    if record.seconds <= 0 or not record.step:
        return None
    chars_per_step = int(record.config["train"]["batch_size"]) * int(record.config["data"]["seq_len"])
    return record.step * chars_per_step / record.seconds


def speed_text(chars_per_s: float | None) -> str:
    """A speed in a table cell's few columns: 950, 12.3k, 1.2M; `–` when unknown."""
    if chars_per_s is None:
        return "–"
    for limit, unit in ((1e6, "M"), (1e3, "k")):
        if chars_per_s >= limit:
            return f"{chars_per_s / limit:.1f}{unit}"
    return f"{chars_per_s:.0f}"

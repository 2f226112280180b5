"""The Heatmap panel: the ranking measure over two axes of the sweep (any ordered pair, cycled by the
screen's `w` key), the other axes folded in by taking the best; over one axis, a line above a one-row map."""

from __future__ import annotations

import math
from itertools import permutations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.widgets import TabPane
from textual_plotext import Plot

from tuirnn.sweeps.axes_text import value_label
from tuirnn.sweeps.definition import Axis
from tuirnn.sweeps.results import METRIC_LABELS, heatmap_data
from tuirnn.sweeps.sweepdir import SweepDir
from tuirnn.tui.widgets.chart import Chart, legend_entry, padded_range, round_axis
from tuirnn.tui.widgets.heatmap import BEST, Heatmap

NO_SWEEP = ("No sweep shown yet.\n\nSet one up on the Setup panel ([ ]) and press ctrl+t,\n"
            "or open a saved one with ctrl+o.")


class MetricLine(Chart):
    """The measure against the axis value of a one-axis sweep (the study's layers sweep), best in green."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._axis: Axis | None = None
        self._values: dict[int, float] = {}

    def show(self, axis: Axis, values: dict[int, float], title: str) -> None:
        self._axis, self._values = axis, {i: v for i, v in values.items() if math.isfinite(v)}
        header = Text(title, style="bold")
        if self._values:
            header.append("  ").append_text(legend_entry(f"by {axis.name}", "cyan"))
            header.append("  ").append_text(legend_entry("best", "green", BEST))
        self.update_header(header)
        self.set_empty(not self._values)

    def draw(self, plt: Plot, width: int, height: int) -> None:
        axis, values = self._axis, self._values
        if axis is None or not values:
            return
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in axis.values)
        positions = [float(v) if numeric else float(i) for i, v in enumerate(axis.values)]
        plt.xticks(positions, [value_label(v) for v in axis.values])
        plt.xlim(*padded_range(min(positions), max(positions)))
        done = sorted(values)
        ends, ticks, labels = round_axis(min(values.values()), max(values.values()), max(3, (height - 2) // 3))
        plt.yticks(ticks, labels)
        plt.ylim(*ends)
        xs, ys = [positions[i] for i in done], [values[i] for i in done]
        plt.plot(xs, ys, color="cyan", marker="braille")
        plt.scatter(xs, ys, color="cyan", marker="●")
        best = min(done, key=values.__getitem__)
        plt.scatter([positions[best]], [values[best]], color="green", marker=BEST)


class HeatmapPanel(TabPane):
    def __init__(self, *, id: str) -> None:
        super().__init__("Heatmap", id=id)
        self.axis_pair = 0
        """Which ordered pair of axes the map shows (rows, columns)."""

    def compose(self) -> ComposeResult:
        yield MetricLine(id="metric-line")
        with ScrollableContainer(id="heatmap-box"):
            yield Heatmap(id="heatmap-grid")

    def on_resize(self) -> None:
        self.query_one(Heatmap).refresh(layout=True)  # its cells follow the room it has

    def reset(self) -> None:
        """A new sweep is shown: start from its first pair of axes."""
        self.axis_pair = 0

    @staticmethod
    def can_turn(sweep: SweepDir | None) -> bool:
        """Whether the sweep has another pair of axes to show."""
        return sweep is not None and len(sweep.definition.axes) > 1

    def turn(self) -> None:
        """Show the next ordered pair of axes (at the next `show`)."""
        self.axis_pair += 1

    def _axes(self, sweep: SweepDir) -> tuple[Axis | None, Axis]:
        axes = sweep.definition.axes
        if len(axes) == 1:
            return None, axes[0]
        pairs = list(permutations(axes, 2))
        return pairs[self.axis_pair % len(pairs)]

    def show(self, sweep: SweepDir | None, metric: str) -> None:
        heatmap = self.query_one(Heatmap)
        line = self.query_one(MetricLine)
        if sweep is None:
            line.display = False
            heatmap.show(None, NO_SWEEP)
            return
        rows, cols = self._axes(sweep)
        data = heatmap_data(sweep, metric, rows, cols)
        heatmap.show(data)
        line.display = rows is None
        self.set_class(rows is None, "-one-axis")
        if rows is None:
            line.show(cols, {c: value for (_, c), value in data.values.items()}, METRIC_LABELS[metric])

"""Training and validation loss against step, drawn with plotext; one or several runs.

The legend is the header line above the plot, so it never covers a curve; ticks are round numbers (steps
whole ones); z switches between every step and the recent ones, where the early fall no longer flattens
the curve that is still moving.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual_plotext import Plot

from tuirnn.tui.widgets.chart import Chart, legend_entry, log_ticks, nice_ticks, padded_range, round_axis, tick_label

MAX_POINTS = 1500
"""plotext slows down with tens of thousands of points; a long curve is drawn from every n-th."""
RECENT_FRACTION = 0.25
"""The recent view shows the last quarter of the steps."""
COLUMNS_PER_X_TICK, ROWS_PER_Y_TICK = 12, 3


@dataclass(frozen=True)
class Curve:
    label: str
    steps: Sequence[int]
    values: Sequence[float]
    color: str


@dataclass(frozen=True)
class _Points:
    curve: Curve
    steps: list[int]
    values: list[float]


class LossChart(Chart):
    """Call `show(curves)`; redrawing is left to Textual's refresh, so callers may throttle it."""

    can_focus = True
    BINDINGS = [Binding("z", "recent_steps", "Recent/all steps", id="chart-recent", show=False)]  # screens show z

    def __init__(self, title: str = "loss", **kwargs: object):
        super().__init__(**kwargs)
        self.title = title
        self.log_scale = False
        self.recent = False
        """Whether only the last RECENT_FRACTION of the steps is shown."""
        self._curves: list[Curve] = []

    def on_mount(self) -> None:
        self._changed()

    def show(self, curves: Sequence[Curve]) -> None:
        self._curves = [c for c in curves if c.steps]
        self._changed()

    def toggle_log_scale(self) -> None:
        self.log_scale = not self.log_scale
        self._changed()

    def action_recent_steps(self) -> None:
        self.recent = not self.recent
        self._changed()

    def shown_steps(self) -> tuple[int, int] | None:
        """The first and last step on the x axis, None while there is no data."""
        ends = [(c.steps[0], c.steps[min(len(c.steps), len(c.values)) - 1]) for c in self._curves if c.values]
        if not ends:
            return None
        first, last = min(e[0] for e in ends), max(e[1] for e in ends)
        if self.recent and last > first:
            first = max(first, math.floor(last - (last - first) * RECENT_FRACTION))
        return first, last

    def _changed(self) -> None:
        self.set_empty(not self._points())
        title = " ".join(filter(None, [self.title, "(log scale)" if self.log_scale else ""]))
        pieces = [Text(title, style="bold")] if title else []
        pieces += [legend_entry(curve.label, curve.color) for curve in self._curves if curve.label]
        shown = self.shown_steps()
        if shown is not None:
            view = f"steps {shown[0]:,}-{shown[1]:,}" if self.recent else "all steps"
            pieces.append(Text(view, style="dim"))
        self.update_header(Text("  ", no_wrap=True).join(pieces))

    def _points(self) -> list[_Points]:
        """Each curve's finite points inside the shown steps (a training thread may be appending)."""
        shown = self.shown_steps()
        if shown is None:
            return []
        points = []
        for curve in self._curves:
            length = min(len(curve.steps), len(curve.values))
            stride = max(1, length // MAX_POINTS)
            pairs = [(s, v) for s, v in zip(curve.steps[:length:stride], curve.values[:length:stride], strict=True)
                     if s >= shown[0] and math.isfinite(v) and (v > 0 or not self.log_scale)]
            if pairs:
                points.append(_Points(curve, [s for s, _ in pairs], [v for _, v in pairs]))
        return points

    def draw(self, plt: Plot, width: int, height: int) -> None:
        points = self._points()
        shown = self.shown_steps()
        if not points or shown is None:
            return
        low = min(min(p.values) for p in points)
        high = max(max(p.values) for p in points)
        most_y = max(3, (height - 2) // ROWS_PER_Y_TICK)
        if self.log_scale:
            ticks = log_ticks(low, high, most_y) or [low]
            positions = [math.log10(t) for t in ticks]
            labels = [f"{t:g}" for t in ticks]
            plt.ylim(*padded_range(math.log10(low), math.log10(high)))
        else:
            ends, positions, labels = round_axis(low, high, most_y)
            plt.ylim(*ends)
        plt.yticks(positions, labels)
        first, last = padded_range(*shown)
        steps = nice_ticks(first, last, max(2, width // COLUMNS_PER_X_TICK), integer=True)
        plt.xticks(steps, [tick_label(s, 0) for s in steps])
        plt.xlim(first, last)
        for p in points:
            values = [math.log10(v) for v in p.values] if self.log_scale else p.values
            plt.plot(p.steps, values, color=p.curve.color, marker="braille" if len(p.steps) > 1 else "dot")

"""What the app's plotext charts share: theme-following colours, a header above the plot, "no data yet",
and round ticks.

textual-plotext's default ("auto") theme copies the Textual theme's surface and foreground into plotext as
RGB; an ANSI theme's are "default", which copy as black, so the title, axes and ticks were drawn black on
black and only the data dots remained. plotext's "clear" theme colours nothing but the curves, so the
widget's CSS `color` and `background` apply in every theme.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import plotext
from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.widget import Widget
from textual.widgets import Static
from textual_plotext import Plot, PlotextPlot

EMPTY = "no data yet"
LEGEND_MARK = "━━"


def nice_step(low: float, high: float, most: int) -> float:
    """The smallest of 1, 2 or 5 times a power of ten that leaves at most `most` of its multiples between
    `low` and `high`."""
    span = high - low
    if not (math.isfinite(span) and span > 0):
        return 1.0
    power = 10.0 ** math.floor(math.log10(span / max(1, most)))
    for step in (power, 2 * power, 5 * power):
        if math.floor(high / step + 1e-9) - math.ceil(low / step - 1e-9) + 1 <= most:
            return step
    return 10 * power


def nice_ticks(low: float, high: float, most: int, integer: bool = False) -> list[float]:
    """At most `most` round values between `low` and `high` (both included when round); whole numbers only
    when `integer`."""
    if not (math.isfinite(low) and math.isfinite(high)) or high < low:
        return []
    step = nice_step(low, high, most)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    digits = decimals(step)
    return [round(k * step, digits) for k in range(first, last + 1)]


def decimals(step: float) -> int:
    """How many decimals tell ticks `step` apart (a step of 0.05 needs two)."""
    return max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0


def log_ticks(low: float, high: float, most: int) -> list[float]:
    """Round values (1, 2 and 5 times powers of ten, or every digit when those are too few) for a log axis."""
    if not (0 < low <= high and math.isfinite(high)):
        return []
    powers = range(math.floor(math.log10(low)), math.floor(math.log10(high)) + 1)
    for mantissas in ((1,), (1, 2, 5), tuple(range(1, 10))):
        ticks = [m * 10.0 ** p for p in powers for m in mantissas if low <= m * 10.0 ** p <= high]
        if len(ticks) >= min(3, most):
            return ticks[:: max(1, math.ceil(len(ticks) / most))]
    return ticks


def tick_label(value: float, digits: int) -> str:
    """A tick's text: 1.5, 2.0, 12k."""
    if digits == 0 and abs(value) >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:,.{digits}f}"


def padded_range(low: float, high: float) -> tuple[float, float]:
    """A range with room to show: a single value gets some on either side."""
    if high > low:
        return low, high
    pad = abs(low) * 0.05 or 0.5
    return low - pad, high + pad


def round_axis(low: float, high: float, most: int) -> tuple[tuple[float, float], list[float], list[str]]:
    """A value axis from `low` to `high` (the data fill the height), its round ticks and their labels."""
    ends = padded_range(low, high)
    step = nice_step(*ends, most)
    ticks = nice_ticks(*ends, most)
    return ends, ticks, [tick_label(t, decimals(step)) for t in ticks]


def legend_entry(label: str, color: str, mark: str = LEGEND_MARK) -> Text:
    """A curve's legend entry, its mark drawn by plotext in the curve's own colour (the same ANSI or 256-colour
    code as the curve, whatever the theme)."""
    return Text.from_ansi(str(plotext.colorize(mark, color))).append(f" {label}")


class ThemedPlot(PlotextPlot):
    """A plotext plot drawn by its chart at render time, at the size it has then, in plotext's "clear" theme."""

    def __init__(self, draw: Callable[[Plot, int, int], None], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.theme = "clear"
        self._draw_with = draw

    def render(self) -> RenderResult:
        self.plt.clear_data()
        self.plt.clear_figure()
        self._draw_with(self.plt, self.size.width, self.size.height)
        return super().render()


class Chart(Widget):
    """A header line (title and legend, never over the curves), then the plot, or "no data yet".

    Subclasses draw in `draw(plt, width, height)`, called whenever the plot renders (so ticks follow its
    size), and call `update_header` and `set_empty` as their data changes.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._header = Text()

    def compose(self) -> ComposeResult:
        yield Static(self._header, classes="chart-header", markup=False)
        yield ThemedPlot(self.draw, classes="chart-plot")
        yield Static(EMPTY, classes="chart-empty", markup=False)

    def draw(self, plt: Plot, width: int, height: int) -> None:
        raise NotImplementedError

    def update_header(self, header: Text) -> None:
        self._header = header
        if self.is_mounted:
            self.query_one(".chart-header", Static).update(header)

    def set_empty(self, empty: bool) -> None:
        self.set_class(empty, "-empty")
        if self.is_mounted:
            self.query_one(ThemedPlot).refresh()

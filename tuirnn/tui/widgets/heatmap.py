"""A heatmap of one measure over two sweep axes: background-coloured cells that show their values.

plotext's matrix plot draws sparse blocks that read badly in a terminal, so this is a grid of text cells
instead: one row per value of one axis, one column per value of the other, green for good (low) through
yellow to red for bad (high), the best cell starred, cells with no result a dim dot. A 7x9 grid of
6-character cells fits an 80-column terminal. Callers pass labels and values (tuirnn.sweeps.results builds
them from a sweep).
"""

from __future__ import annotations

from itertools import pairwise

from rich.color import Color
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from tuirnn.sweeps.results import Cell, HeatmapData

CELL_WIDTH = 6
"""At least one marker column (★ on the best cell) and five for the value."""
MAX_CELL_WIDTH = 10
HEADER_LINES, LEGEND_LINES = 3, 4
MAX_ROW_LABEL = 12
MISSING, FAILED, BEST = "·", "✗", "★"
"""A cell without a result, a cell whose trial failed or diverged, the best cell's marker."""
LEGEND_STEPS = 12
SCALE = ((0.0, (26, 152, 80)), (0.5, (254, 224, 139)), (1.0, (215, 48, 39)))
"""Good (green) to bad (red) through yellow, as in ColorBrewer's RdYlGn."""


def scale_color(fraction: float) -> Color:
    """The colour of a value `fraction` of the way from the best (0) to the worst (1) shown."""
    fraction = min(1.0, max(0.0, fraction))
    for (start, low), (stop, high) in pairwise(SCALE):
        if fraction <= stop:
            t = (fraction - start) / (stop - start)
            return Color.from_rgb(*(round(a + (b - a) * t) for a, b in zip(low, high, strict=False)))
    return Color.from_rgb(*SCALE[-1][1])


def format_value(value: float) -> str:
    """At most five characters: 1.234, 12.35, 123.5, 1e+04."""
    for digits in (3, 2, 1, 0):
        text = f"{value:.{digits}f}"
        if len(text) <= CELL_WIDTH - 1:
            return text
    return f"{value:.0e}"


def _fit(label: str, width: int) -> str:
    return label if len(label) <= width else label[:width - 1] + "…"


def _cell_style(color: Color, best: bool) -> Style:
    r, g, b = color.get_truecolor()
    ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 100 else "white"
    return Style(color=ink, bgcolor=color, bold=best)


def cell_size(data: HeatmapData, width: int, height: int) -> tuple[int, int]:
    """The cell width and height that fill `width` x `height` (a larger screen gets larger cells)."""
    label_width = _label_width(data)
    cell_width = (width - label_width - 1) // max(1, len(data.cols))
    cell_height = 2 if 2 * len(data.rows) + LEGEND_LINES + HEADER_LINES <= height else 1
    return min(MAX_CELL_WIDTH, max(CELL_WIDTH, cell_width)), cell_height


def _label_width(data: HeatmapData) -> int:
    return min(MAX_ROW_LABEL, max(len(data.row_axis), *(len(r) for r in data.rows), 1))


def render_heatmap(data: HeatmapData, cell_width: int = CELL_WIDTH, cell_height: int = 1) -> Text:
    """The grid, then a legend with the colour scale and the best cell."""
    label_width = _label_width(data)
    low = min(data.values.values(), default=0.0)
    high = max(data.values.values(), default=0.0)
    span = high - low
    best = data.best
    text = Text(no_wrap=True, overflow="crop")
    text.append(f"{data.title}\n", "bold")
    text.append(" " * (label_width + 1)).append(f"{data.col_axis} →\n", "dim")
    text.append(_fit(data.row_axis, label_width).rjust(label_width) + " ", "dim")
    for col in data.cols:
        text.append((" " + _fit(col, cell_width - 1).rjust(CELL_WIDTH - 1)).center(cell_width), "bold")
    for r, row in enumerate(data.rows):
        for line in range(cell_height):
            label = _fit(row, label_width) if line == 0 else ""
            text.append("\n").append(label.rjust(label_width) + " ", "bold")
            for c in range(len(data.cols)):
                text.append(*_cell(data, (r, c), line, cell_width, low, span, best))
    text.append("\n\n")
    if best is None:
        text.append("no results yet", "dim")
    else:
        text.append(f"{format_value(low)} good ", "dim")
        for step in range(LEGEND_STEPS):
            text.append(" ", Style(bgcolor=scale_color(step / (LEGEND_STEPS - 1))))
        text.append(f" bad {format_value(high)}", "dim")
        text.append(f"\n{BEST} best {data.values[best]:.4f}", "bold")
        if best in data.names:
            text.append(f" {data.names[best]}")
    text.append(f"\n{MISSING} no result  ", "dim").append(f"{FAILED} failed or diverged", "dim")
    return text


def _cell(data: HeatmapData, cell: Cell, line: int, width: int, low: float, span: float,
          best: Cell | None) -> tuple[str, Style | str]:
    """One line of one cell: the value on its first line, the colour on all of them."""
    value = data.values.get(cell)
    if value is None:
        mark, style = (FAILED, "bold red") if cell in data.failed else (MISSING, "dim")
        return ((" " + mark.center(CELL_WIDTH - 1)) if line == 0 else "").center(width), style
    color = scale_color((value - low) / span if span > 0 else 0.0)
    label = ((BEST if cell == best else " ") + format_value(value).rjust(CELL_WIDTH - 1)) if line == 0 else ""
    return label.center(width), _cell_style(color, cell == best)


class Heatmap(Widget):
    """Call `show(data)`, or `show(None, message)` while there is nothing to draw.

    Cells grow to fill the container (up to MAX_CELL_WIDTH wide, two lines high), so the grid reads as
    blocks on a large terminal and still fits 80x24; the container scrolls a grid too wide for it.
    """

    DEFAULT_CSS = """
    Heatmap {
        width: auto;
        height: auto;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.data: HeatmapData | None = None
        self.message = ""

    def show(self, data: HeatmapData | None, message: str = "") -> None:
        self.data, self.message = data, message
        self.refresh(layout=True)

    def render(self) -> Text:
        if self.data is None:
            return Text(self.message, "dim")
        room = self.parent.content_size if isinstance(self.parent, Widget) else self.size
        return render_heatmap(self.data, *cell_size(self.data, room.width, room.height))

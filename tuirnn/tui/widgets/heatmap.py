"""A heatmap of one measure over two sweep axes: background-coloured cells that show their values.

plotext's matrix plot draws sparse blocks that read badly in a terminal, so this is a grid of text cells
instead: one row per value of one axis, one column per value of the other, the best cell starred, cells
with no result a dim dot. Cells are coloured by rank, not by value: one diverged trial would otherwise
squeeze every other cell into one colour, and near-best cells must differ. The scale is viridis (reversed:
the best brightest), ordered by lightness and readable with the common colour-blindnesses; a 16-colour
theme gets the nearest ordered run of ANSI colours. Cells grow with the room they have. Callers pass
labels and values (tuirnn.sweeps.results builds them from a sweep).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from tuirnn.sweeps.results import Cell, HeatmapData

CELL_WIDTH = 6
"""At least one marker column (★ on the best cell) and five for the value."""
MAX_CELL_WIDTH, MAX_CELL_HEIGHT = 16, 5
HEADER_LINES, LEGEND_LINES = 3, 4
MAX_ROW_LABEL = 12
MISSING, FAILED, BEST = "·", "✗", "★"
"""A cell without a result, a cell whose trial failed or diverged, the best cell's marker."""

Palette = Sequence[tuple[str, str]]
"""(background, text colour) from the best rank to the worst."""
VIRIDIS: Palette = tuple((background, "#000000" if number < 6 else "#ffffff") for number, background in enumerate(
    ("#fde725", "#b5de2b", "#6ece58", "#35b779", "#1f9e89", "#26828e", "#31688e", "#3e4989", "#482878", "#440154")))
"""matplotlib's viridis at ten even stops, best (bright yellow) first, each with the ink that contrasts more."""
ANSI_SCALE: Palette = (("bright_yellow", "black"), ("yellow", "black"), ("green", "black"), ("cyan", "black"),
                       ("blue", "bright_white"), ("magenta", "bright_white"))
"""The same order in the 16 ANSI colours, as a 16-colour theme draws them."""


def rank_shades(values: Mapping[Cell, float], shades: int) -> dict[Cell, int]:
    """Each cell's shade, 0 (best) to `shades` - 1 (worst), by the rank of its value among the distinct
    values (equal values share a shade)."""
    distinct = sorted(set(values.values()))
    last = max(1, len(distinct) - 1)
    position = {value: rank / last for rank, value in enumerate(distinct)}
    return {cell: round(position[value] * (shades - 1)) for cell, value in values.items()}


def format_value(value: float) -> str:
    """At most five characters: 1.234, 12.35, 123.5, 1e+04."""
    for digits in (3, 2, 1, 0):
        text = f"{value:.{digits}f}"
        if len(text) <= CELL_WIDTH - 1:
            return text
    return f"{value:.0e}"


def _fit(label: str, width: int) -> str:
    return label if len(label) <= width else label[:width - 1] + "…"


def _style(palette: Palette, shade: int, best: bool) -> Style:
    background, ink = palette[shade]
    return Style(color=ink, bgcolor=background, bold=best)


def cell_size(data: HeatmapData, width: int, height: int) -> tuple[int, int]:
    """The cell width and height that fill `width` x `height` (a larger screen gets larger cells)."""
    label_width = _label_width(data)
    cell_width = (width - label_width - 1) // max(1, len(data.cols))
    cell_height = (height - HEADER_LINES - LEGEND_LINES) // max(1, len(data.rows))
    return min(MAX_CELL_WIDTH, max(CELL_WIDTH, cell_width)), min(MAX_CELL_HEIGHT, max(1, cell_height))


def _label_width(data: HeatmapData) -> int:
    return min(MAX_ROW_LABEL, max(len(data.row_axis), *(len(r) for r in data.rows), 1))


def render_heatmap(data: HeatmapData, cell_width: int = CELL_WIDTH, cell_height: int = 1,
                   palette: Palette = VIRIDIS) -> Text:
    """The grid, then a legend with the colour scale and the best cell."""
    label_width = _label_width(data)
    shades = rank_shades(data.values, len(palette))
    best = data.best
    middle = (cell_height - 1) // 2
    text = Text(no_wrap=True, overflow="crop")
    text.append(f"{data.title}\n", "bold")
    text.append(" " * (label_width + 1)).append(f"{data.col_axis} →\n", "dim")
    text.append(_fit(data.row_axis, label_width).rjust(label_width) + " ", "dim")
    for col in data.cols:
        text.append((" " + _fit(col, cell_width - 1).rjust(CELL_WIDTH - 1)).center(cell_width), "bold")
    for r, row in enumerate(data.rows):
        for line in range(cell_height):
            label = _fit(row, label_width) if line == middle else ""
            text.append("\n").append(label.rjust(label_width) + " ", "bold")
            for c in range(len(data.cols)):
                text.append(*_cell(data, (r, c), line == middle, cell_width, shades, palette))
    text.append("\n\n")
    if best is None:
        text.append("no results yet", "dim")
    else:
        text.append(f"best {format_value(data.values[best])} ", "dim")
        for shade in range(len(palette)):
            text.append("  ", _style(palette, shade, False))
        text.append(f" worst {format_value(max(data.values.values()))}, colour by rank", "dim")
        text.append(f"\n{BEST} best {data.values[best]:.4f}", "bold")
        if best in data.names:
            text.append(f" {data.names[best]}")
    text.append(f"\n{MISSING} no result  ", "dim").append(f"{FAILED} failed or diverged", "dim")
    return text


def _cell(data: HeatmapData, cell: Cell, labelled: bool, width: int, shades: Mapping[Cell, int],
          palette: Palette) -> tuple[str, Style | str]:
    """One line of one cell: the value on its middle line, the colour on all of them."""
    value = data.values.get(cell)
    if value is None:
        mark, style = (FAILED, "bold red") if cell in data.failed else (MISSING, "dim")
        return ((" " + mark.center(CELL_WIDTH - 1)) if labelled else "").center(width), style
    label = ((BEST if cell == data.best else " ") + format_value(value).rjust(CELL_WIDTH - 1)) if labelled else ""
    return label.center(width), _style(palette, shades[cell], cell == data.best)


class Heatmap(Widget):
    """Call `show(data)`, or `show(None, message)` while there is nothing to draw.

    Cells grow to fill the container (up to MAX_CELL_WIDTH x MAX_CELL_HEIGHT), so the grid reads as blocks
    on a large terminal and still fits 80x24; the container scrolls a grid too wide for it.
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
        palette = ANSI_SCALE if self.app.native_ansi_color else VIRIDIS
        return render_heatmap(self.data, *cell_size(self.data, room.width, room.height), palette)

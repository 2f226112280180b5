"""What the Explore screen draws, as rich text from plain data: the coloured text with a cursor laid out in rows,
sparklines aligned under an excerpt, the gate scatters and the temperature strip. No widgets here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text

from tuirnn.inspection.gates import GateSaturation, saturation_scatter
from tuirnn.inspection.palette import Band, band_of, shown
from tuirnn.inspection.temperature import TemperatureSample
from tuirnn.inspection.units import UnitScore

BLOCKS = "▁▂▃▄▅▆▇█"
RAMP = " .:-=+*#"
"""The sparkline's eight heights in ASCII output, where blocks would be translated less evenly."""


def rows(text: str, width: int) -> list[tuple[int, int]]:
    """(start, end) of each shown row: a row ends after a newline or at `width` characters."""
    width = max(1, width)
    found, start = [], 0
    for t, char in enumerate(text):
        if char == "\n" or t + 1 - start == width:
            found.append((start, t + 1))
            start = t + 1
    if start < len(text) or not found:
        found.append((start, len(text)))
    return found


def row_of(layout: list[tuple[int, int]], position: int) -> int:
    return next((i for i, (start, end) in enumerate(layout) if start <= position < end), len(layout) - 1)


def row_step(layout: list[tuple[int, int]], position: int, step: int) -> int:
    """The position `step` rows up or down, in the same column where that row is long enough."""
    row = row_of(layout, position)
    start, end = layout[max(0, min(len(layout) - 1, row + step))]
    return min(end - 1, start + position - layout[row][0])


@dataclass(frozen=True)
class Marks:
    """The styles the text is drawn with, one per band of the scale, as the screen's stylesheet sets them."""

    bands: Sequence[Style]
    cursor: Style
    span: Style

    def of(self, scale: tuple[Band, ...], value: float) -> Style:
        return self.bands[scale.index(band_of(scale, value))]


def painted(text: str, values: np.ndarray, scale: tuple[Band, ...], marks: Marks, layout: list[tuple[int, int]],
            cursor: int, ascii_only: bool, span: tuple[int, int] | None = None) -> Text:
    """The text in rows, each character's background set by its value, the cursor and a marked span marked."""
    out = Text(no_wrap=True, overflow="crop")
    for number, (start, end) in enumerate(layout):
        if number:
            out.append("\n")
        for t in range(start, end):
            style = marks.of(scale, float(values[t]))
            if span is not None and span[0] <= t < span[1]:
                style += marks.span
            if t == cursor:
                style += marks.cursor
            out.append(shown(text[t], ascii_only), style=style)
    return out


def legend(scale: tuple[Band, ...], marks: Marks, labels: dict[str, str] | None = None, per_line: int = 1) -> Text:
    """Each band's swatch (its ASCII mark on its colour) and what it means, `per_line` bands a line."""
    out = Text()
    for number, (band, style) in enumerate(zip(scale, marks.bands, strict=True)):
        out.append(("\n" if number % per_line == 0 else "  ") if number else "")
        out.append(band.mark * 2, style=style)
        out.append(f" {(labels or {}).get(band.label, band.label)}")
    return out


def sparkline(values: np.ndarray, ascii_only: bool) -> str:
    """One character per value on the -1..+1 scale, low to high."""
    glyphs = RAMP if ascii_only else BLOCKS
    levels = np.clip(np.round((values + 1.0) / 2.0 * (len(glyphs) - 1)), 0, len(glyphs) - 1).astype(int)
    return "".join(glyphs[i] for i in levels)


def units_panel(text: str, window: tuple[int, int], traces: list[tuple[UnitScore, np.ndarray]], selected: int,
                cursor: int, ascii_only: bool) -> Text:
    """The excerpt `window` of the text, and under it each ranked unit's values over the same characters."""
    start, end = window
    label_width = 18
    out = Text(no_wrap=True, overflow="crop")
    out.append(" " * label_width)
    for t in range(start, end):
        out.append(shown(text[t], ascii_only), style="reverse bold" if t == cursor else "")
    for rank, (score, values) in enumerate(traces):
        label = f"{rank + 1:>2} {score.label} {score.correlation:+.2f}"
        out.append("\n")
        out.append(f"{label:<{label_width}}"[:label_width], style="reverse" if rank == selected else "bold")
        out.append(sparkline(values[start:end], ascii_only))
    return out


def gate_scatters(saturations: list[GateSaturation], width: int) -> RenderableType:
    """One layer's gates side by side, each an ASCII scatter of its units."""
    if not saturations:
        return Text("A plain RNN has no gates.", style="dim")
    plot_width = max(8, min(31, width // len(saturations) - 5))
    grid = Table.grid(padding=(0, 2))
    for _ in saturations:
        grid.add_column(no_wrap=True)
    titles = [Text(f"L{s.layer + 1} {s.gate}", style="bold") for s in saturations]
    plots = [Text("\n".join(saturation_scatter(s, plot_width, 9))) for s in saturations]
    grid.add_row(*titles)
    grid.add_row(*plots)
    note = Text("\nup: share of time right-saturated (>0.9); across: left-saturated (<0.1); "
                "one mark per unit: . 1, : 2-3, o 4-7, 8 8-15, @ 16+", style="dim")
    return Group(grid, note)


def temperature_columns(prompt: str, samples: list[TemperatureSample], ascii_only: bool) -> Table:
    """The same prompt and seed at each temperature, one column each."""
    grid = Table(box=None, expand=True, show_header=True, header_style="bold", padding=(0, 1))
    for sample in samples:
        grid.add_column(f"T={sample.temperature:g}", ratio=1, overflow="fold")
    cells = []
    for sample in samples:
        cell = Text(prompt.replace("\n", " "), style="dim")
        cell.append("".join(" " if c == "\n" else shown(c, ascii_only) for c in sample.text))
        cells.append(cell)
    grid.add_row(*cells)
    return grid

"""Colour scales for values over a text, readable three ways: graded colours where the terminal has 256 or more,
the 16 ANSI colours (the app's ansi-dark theme), and ASCII marks under the text where there is no colour at all
(a pipe, a file). Each scale is a few bands, so a legend names every colour and mark exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text


@dataclass(frozen=True)
class Band:
    upper: float
    """Values below this (and at or above the band before) fall in the band."""
    colour: str
    """Background for 256 colours and more; empty: no background."""
    ansi: str
    """Background among the 16 ANSI colours."""
    ink: str
    """A text colour readable on both backgrounds."""
    mark: str
    """The ASCII mark for the band, where there is no colour."""
    label: str


DIVERGING = (
    Band(-0.6, "#2166ac", "blue", "white", "=", "<-0.6"),
    Band(-0.2, "#92c5de", "bright_blue", "black", "-", "<-0.2"),
    Band(0.2, "", "", "", " ", "~0"),
    Band(0.6, "#f4a582", "bright_red", "black", "+", ">0.2"),
    Band(math.inf, "#b2182b", "red", "white", "#", ">0.6"),
)
"""-1 (blue) to +1 (red) through no colour, as ColorBrewer's RdBu: a unit's value on the -1..+1 scale."""
SURPRISAL = (
    Band(1.0, "", "", "", " ", "<1 bit"),
    Band(2.0, "#fed976", "bright_yellow", "black", ".", "<2"),
    Band(4.0, "#fd8d3c", "yellow", "black", "-", "<4"),
    Band(8.0, "#e31a1c", "red", "white", "+", "<8"),
    Band(math.inf, "#800026", "magenta", "white", "#", ">=8 bits"),
)
"""Surprisal in bits, from expected (no colour) to astonished (dark red), as ColorBrewer's YlOrRd."""
SHOWN = {"\n": "⏎", "\t": "⇥", " ": " "}
SHOWN_ASCII = {"\n": "$", "\t": ">"}


def band_of(bands: tuple[Band, ...], value: float) -> Band:
    """The band `value` falls in; NaN (a value not known, such as the first character's surprisal) is the
    band without colour."""
    if math.isnan(value):
        return next(b for b in bands if not b.colour)
    return next(b for b in bands if value < b.upper)


def style_of(band: Band, ansi: bool) -> str:
    """A rich style: the band's background and a readable ink, or nothing for the band without colour."""
    background = band.ansi if ansi else band.colour
    return f"{band.ink} on {background}" if background else ""


def shown(char: str, ascii_only: bool = False) -> str:
    """A character as one visible cell: a newline as ⏎ ($ in ASCII), a tab as ⇥ (>), other controls as ?."""
    if ascii_only and char in SHOWN_ASCII:
        return SHOWN_ASCII[char]
    if char in SHOWN:
        return SHOWN[char]
    return char if char.isprintable() else "?"


def coloured(text: str, values: list[float], bands: tuple[Band, ...], ansi: bool = False,
             ascii_only: bool = False) -> Text:
    """`text` with each character's background set by its value."""
    out = Text()
    for char, value in zip(text, values, strict=True):
        out.append(shown(char, ascii_only), style=style_of(band_of(bands, value), ansi))
    return out


def marks(values: list[float], bands: tuple[Band, ...]) -> str:
    """One ASCII mark per value."""
    return "".join(band_of(bands, value).mark for value in values)


def legend(bands: tuple[Band, ...], ansi: bool = False, labels: dict[str, str] | None = None) -> Text:
    """Each band's colour swatch and label (a label can be renamed: a gate's scale reads 0..1)."""
    out = Text()
    for band in bands:
        label = (labels or {}).get(band.label, band.label)
        out.append(f"{band.mark}{band.mark}", style=style_of(band, ansi))
        out.append(f" {label} ")
    return out


def plain_legend(bands: tuple[Band, ...], labels: dict[str, str] | None = None) -> str:
    """The ASCII marks and what each means."""
    return "  ".join(f"'{band.mark}' {(labels or {}).get(band.label, band.label)}" for band in bands)

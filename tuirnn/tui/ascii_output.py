"""ASCII output for terminals whose locale is not UTF-8.

Without a UTF-8 locale (a bare SSH login, `LANG=C`), tmux draws every non-ASCII character as `_` and
older terminals show mojibake, so box drawing, sparklines, charts and heatmaps become noise. Rather than
keep a second glyph set in every widget (Textual's own included), the driver translates what it writes:
each character becomes ASCII of the same width, chosen to keep the picture readable (lines stay lines,
bars keep their height, accented letters keep their base letter).
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Mapping

from rich.cells import cell_len
from textual.driver import Driver

FORCE_VARIABLE = "TUIRNN_ASCII"
"""1 forces ASCII output, 0 forces Unicode; unset, the locale decides."""

_BY_CHARACTER = {
    # block heights, as sparklines and Textual's bars use them
    "▁": "_", "▂": "_", "▃": ".", "▄": "-", "▅": "=", "▆": "+", "▇": "*", "█": "#",
    "▀": '"', "▔": "-", "▐": "|", "▌": "|", "▕": "|", "▉": "#", "▊": "|", "▋": "|", "▍": "|", "▎": "|", "▏": "|",
    "░": ".", "▒": ":", "▓": "#",
    "●": "*", "○": "o", "◆": "*", "◇": "o", "■": "#", "□": "o", "★": "*", "☆": "*", "•": "*", "·": ".",
    "▲": "^", "△": "^", "▼": "v", "▽": "v", "◀": "<", "◁": "<", "▶": ">", "▷": ">", "►": ">", "◄": "<",
    "←": "<", "→": ">", "↑": "^", "↓": "v", "⭘": "O", "✓": "v", "✔": "v", "✕": "x", "✗": "x", "✘": "x",
    "×": "x", "…": "~", "–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "«": "<", "»": ">",
}


def _box_drawing(name: str) -> str:
    if "DIAGONAL" in name:
        return "X" if "CROSS" in name else ("/" if "UPPER RIGHT" in name else "\\")
    if " AND " in name or "CROSS" in name or "ARC" in name:
        return "+"
    if "HORIZONTAL" in name or "LEFT" in name or "RIGHT" in name:
        return "-"
    return "|"


def _braille(code: int) -> str:
    """A braille cell (plotext's line marker) as the dots it shows: top half ', bottom half ., both :."""
    dots = code - 0x2800
    top, bottom = dots & 0b00011011, dots & 0b11100100
    return ":" if top and bottom else "'" if top else "." if bottom else " "


def ascii_for(char: str) -> str:
    """The ASCII stand-in for one character, as many cells wide as the character."""
    if char.isascii():
        return char
    width = cell_len(char)
    if width == 0:
        return ""
    code = ord(char)
    if char in _BY_CHARACTER:
        return _BY_CHARACTER[char]
    if 0x2800 <= code <= 0x28FF:
        return _braille(code)
    name = unicodedata.name(char, "")
    if name.startswith("BOX DRAWINGS"):
        return _box_drawing(name)
    if 0x2580 <= code <= 0x259F:  # the remaining block elements: quadrants
        return ":"
    base = unicodedata.normalize("NFKD", char)[:1]
    if width == 1 and base.isascii() and base.isprintable() and base:
        return base
    return "?" * width


class _AsciiTable(dict[int, str]):
    """`str.translate` table that works out each character once: ASCII maps to itself from the start."""

    def __init__(self) -> None:
        super().__init__((code, chr(code)) for code in range(128))

    def __missing__(self, code: int) -> str:
        self[code] = replacement = ascii_for(chr(code))
        return replacement


_TABLE = _AsciiTable()


def to_ascii(text: str) -> str:
    return text if text.isascii() else text.translate(_TABLE)


def wants_ascii(environ: Mapping[str, str]) -> bool:
    """Whether the terminal's locale is not UTF-8 (or TUIRNN_ASCII says so); never by itself on Windows,
    whose consoles Textual switches to UTF-8.

    The locale is the first of LC_ALL, LC_CTYPE and LANG that is set. Python itself replaces a C locale
    by C.UTF-8 in LC_CTYPE at start-up (PEP 538), so LC_CTYPE=C.UTF-8 with no LC_ALL and LANG unset, C or
    POSIX is read as the C locale the terminal was given.
    """
    forced = environ.get(FORCE_VARIABLE, "")
    if forced in ("0", "1") or sys.platform == "win32":
        return forced == "1"
    lc_all, lc_ctype, lang = (environ.get(name, "") for name in ("LC_ALL", "LC_CTYPE", "LANG"))
    if not lc_all and lc_ctype == "C.UTF-8" and lang in ("", "C", "POSIX"):
        return True
    return not re.search(r"utf-?8", lc_all or lc_ctype or lang, re.IGNORECASE)


def ascii_driver(base: type[Driver]) -> type[Driver]:
    """`base` (the terminal driver Textual picked) writing ASCII only."""

    class AsciiDriver(base):  # type: ignore[valid-type,misc]
        def write(self, data: str) -> None:
            super().write(to_ascii(data))

    return AsciiDriver

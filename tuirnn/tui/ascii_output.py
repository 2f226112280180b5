"""ASCII output for terminals whose locale is not UTF-8.

Without a UTF-8 locale (a bare SSH login, `LANG=C`), tmux draws every non-ASCII character as `_` and
older terminals show mojibake, so box drawing, sparklines, charts and heatmaps become noise. Rather than
keep a second glyph set in every widget (Textual's own included), the driver translates what it writes:
each character becomes ASCII of the same width, chosen to keep the picture readable (lines stay lines,
bars keep their height, accented letters keep their base letter).
"""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from rich.cells import cell_len, split_graphemes
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
    # shown newlines, tabs and spaces: $ marks a line's end as `cat -A` does
    "⏎": "$", "↵": "$", "⇥": ">", "␠": "_",
}


def _box_drawing(name: str) -> str:
    words = set(name.split())
    if "DIAGONAL" in words:
        return "X" if "CROSS" in words else "/" if "UPPER RIGHT" in name else "\\"
    across = bool(words & {"HORIZONTAL", "LEFT", "RIGHT"})
    upright = bool(words & {"VERTICAL", "UP", "DOWN"})
    return "+" if across and upright else "-" if across else "|"


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
    if base and width == 1 and base.isascii() and base.isprintable():
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

_ESCAPE_SEQUENCE = re.compile(  # CSI, OSC (BEL or ST), DCS, and the short two-byte escapes
    r"(\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|P[^\x1b]*\x1b\\|[ -/]*[0-~]))")
"""CSI, OSC, DCS and two-character escape sequences, kept whole."""


def _text_to_ascii(text: str) -> str:
    """Each character on its own, except around the two that change their neighbours' width the way rich
    measures it (a zero-width joiner joins the next character, a variation selector widens the one
    before): there each grapheme becomes ASCII as wide as rich measured it."""
    if "\u200d" not in text and "\ufe0f" not in text:
        return text.translate(_TABLE)
    pieces = []
    for start, end, width in split_graphemes(text)[0]:
        translated = text[start:end].translate(_TABLE)[:width]
        pieces.append(translated + "?" * (width - len(translated)))
    return "".join(pieces)


def to_ascii(text: str) -> str:
    """`text` with every character outside escape sequences in ASCII, each run as wide as Textual measured
    it (escape sequences pass untouched)."""
    if text.isascii():
        return text
    pieces = _ESCAPE_SEQUENCE.split(text)  # text, escape sequence, text, ...
    pieces[::2] = [_text_to_ascii(piece) for piece in pieces[::2]]
    return "".join(pieces)


def launch_environment() -> Mapping[str, str]:
    """The environment this process was started with, where the system keeps it (Linux).

    Python replaces a C or unusable locale by C.UTF-8 in os.environ's LC_CTYPE at start-up (PEP 538),
    which would hide the locale the terminal was given.
    """
    try:
        raw = Path("/proc/self/environ").read_bytes()
    except OSError:
        return os.environ
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {name.decode(errors="replace"): value.decode(errors="replace") for name, value in pairs}


def wants_ascii(environ: Mapping[str, str]) -> bool:
    """Whether the locale is not UTF-8, read as tmux reads it: the first of LC_ALL, LC_CTYPE and LANG that
    is set. TUIRNN_ASCII=1 or 0 decides instead; on Windows, whose consoles Textual switches to UTF-8, only
    it does."""
    forced = environ.get(FORCE_VARIABLE, "")
    if forced in ("0", "1") or sys.platform == "win32":
        return forced == "1"
    locale_name = environ.get("LC_ALL") or environ.get("LC_CTYPE") or environ.get("LANG") or ""
    return not re.search(r"utf-?8", locale_name, re.IGNORECASE)


def ascii_driver(base: type[Driver]) -> type[Driver]:
    """`base` (the terminal driver Textual picked) writing ASCII only."""

    class AsciiDriver(base):  # type: ignore[valid-type,misc]
        def write(self, data: str) -> None:
            super().write(to_ascii(data))

    return AsciiDriver

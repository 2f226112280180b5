"""ASCII output for terminals without a UTF-8 locale: what each character becomes, and when it applies."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from tuirnn.tui.ascii_output import ascii_for, to_ascii, wants_ascii


@pytest.mark.parametrize(("text", "expected"), [
    ("┌──┬─┐", "+--+-+"),
    ("│ ┃ ║", "| | |"),
    ("╭─╮╰─╯", "+-++-+"),
    ("▁▂▃▄▅▆▇█", "__.-=+*#"),  # a sparkline keeps its shape
    ("⣀⠉⣿⠀", ".': "),  # plotext's braille line: bottom dots, top dots, both, none
    ("café Ñandú", "cafe Nandu"),
    ("Nietzsch…", "Nietzsch~"),
    ("◆ ★ ● • ▲▼", "* * * * ^v"),
    ("日本", "????"),  # wide characters keep their two cells
    ("e\u0301", "e"),  # a combining accent takes no cell
    ("\x1b[38;5;196m─\x1b[0m", "\x1b[38;5;196m-\x1b[0m"),  # escape sequences pass untouched
])
def test_text_becomes_ascii_of_the_same_shape(text: str, expected: str) -> None:
    assert to_ascii(text) == expected


def test_every_character_becomes_ascii_as_wide_as_it() -> None:
    for code in [*range(0x80, 0x3100), *range(0xFF01, 0xFF5F)]:
        char = chr(code)
        if not char.isprintable():
            continue
        replacement = ascii_for(char)
        assert replacement.isascii() and replacement.isprintable(), hex(code)
        assert cell_len(replacement) == cell_len(char), hex(code)
    assert to_ascii("plain text, unchanged") == "plain text, unchanged"


@pytest.mark.parametrize(("environ", "expected"), [
    ({"LANG": "en_US.UTF-8"}, False),
    ({"LANG": "C.UTF-8", "LC_CTYPE": "C.UTF-8"}, False),
    ({"LC_ALL": "de_DE.utf8", "LANG": "C"}, False),
    ({"LC_CTYPE": "fr_FR.UTF-8", "LANG": "C"}, False),
    ({}, True),
    ({"LANG": "C"}, True),
    ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, True),
    ({"LANG": "de_DE.ISO-8859-1"}, True),
    ({"LC_CTYPE": "C.UTF-8"}, True),  # Python's own coercion of a C locale: the terminal was given none
    ({"LC_CTYPE": "C.UTF-8", "LANG": "POSIX"}, True),
    ({"LANG": "en_US.UTF-8", "TUIRNN_ASCII": "1"}, True),
    ({"LANG": "C", "TUIRNN_ASCII": "0"}, False),
])
def test_ascii_output_follows_the_locale_unless_told(environ: dict[str, str], expected: bool) -> None:
    assert wants_ascii(environ) is expected

"""ASCII output for terminals without a UTF-8 locale: what each character becomes, and when it applies."""

from __future__ import annotations

import os
import subprocess
import sys

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
    ("line ⏎ next", "line $ next"),  # a shown newline, marked as `cat -A` marks one
    ("╼╽╾╿", "-|-|"),  # half-heavy straight lines stay straight
    ("日本", "????"),  # wide characters keep their two cells
    ("e\u0301", "e"),  # a combining accent takes no cell
    ("\x1b[38;5;196m─\x1b[0m", "\x1b[38;5;196m-\x1b[0m"),  # escape sequences pass untouched
    ("\x1b]8;;https://example.org/é\x1b\\é\x1b]8;;\x1b\\", "\x1b]8;;https://example.org/é\x1b\\e\x1b]8;;\x1b\\"),
    ("I ❤\ufe0f it", "I ?? it"),  # the variation selector makes the heart two cells wide
    ("key 1\ufe0f\u20e3 ok", "key 1? ok"),
    ("a 👨\u200d👩\u200d👧 b", "a ?? b"),  # joined into one two-cell emoji
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


def test_mixed_text_keeps_the_width_rich_measures() -> None:
    import random

    pieces = ["a", " ", "1", "é", "e\u0301", "─", "█", "⣿", "日", "…", "❤", "❤\ufe0f", "👩", "👩\u200d👩\u200d👧",
              "1\ufe0f\u20e3", "👍🏽"]
    rng = random.Random(0)
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        assert to_ascii(text).isascii(), repr(text)
        assert cell_len(to_ascii(text)) == cell_len(text), repr(text)


@pytest.mark.parametrize(("environ", "expected"), [
    ({"LANG": "en_US.UTF-8"}, False),
    ({"LANG": "C.UTF-8"}, False),
    ({"LC_ALL": "de_DE.utf8", "LANG": "C"}, False),
    ({"LC_CTYPE": "UTF-8"}, False),  # as macOS sends it over SSH
    ({"LC_CTYPE": "C.UTF-8", "LANG": "C"}, False),
    ({}, True),  # a bare SSH login
    ({"LANG": "C"}, True),
    ({"LANG": "POSIX"}, True),
    ({"LC_ALL": "C", "LANG": "en_US.UTF-8"}, True),
    ({"LANG": "C.UTF-8", "LC_CTYPE": "C"}, True),
    ({"LANG": "de_DE.ISO-8859-1"}, True),
    ({"LANG": "en_US.UTF-8", "TUIRNN_ASCII": "1"}, True),
    ({"LANG": "C", "TUIRNN_ASCII": "0"}, False),
])
def test_ascii_output_follows_the_locale_unless_told(environ: dict[str, str], expected: bool) -> None:
    assert wants_ascii(environ) is expected


def test_the_locale_is_read_as_the_terminal_gave_it_not_as_python_coerced_it() -> None:
    code = ("import os; from tuirnn.tui.ascii_output import launch_environment, wants_ascii; "
            "print(os.environ.get('LC_CTYPE'), launch_environment().get('LC_CTYPE'), "
            "wants_ascii(launch_environment()))")
    environ = {name: value for name, value in os.environ.items() if not name.startswith(("LC_", "LANG"))}
    out = subprocess.run([sys.executable, "-c", code], env={**environ, "LANG": "C"}, capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == ["C.UTF-8", "None", "True"]  # os.environ has Python's C.UTF-8; the terminal gave C

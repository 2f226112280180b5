"""Features of a text whose answer is known, to find the units that track them (Karpathy, Johnson and Fei-Fei
2015; LSTMVis). A probe gives each position the feature's value in the state after reading that character:
an opening quote is already inside the quotes, a closing one no longer is."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tuirnn.inspection.errors import InspectError

SENTENCE_ENDS = ".!?"
OPENING, CLOSING = "([{", ")]}"


@dataclass(frozen=True)
class Probe:
    name: str
    description: str
    binary: bool
    """Whether the probe is on or off at each position (else a quantity, such as a count)."""
    compute: Callable[[str], np.ndarray]


def inside_quotes(text: str) -> np.ndarray:
    """1 between a double quote (straight or curly) and the one that closes it."""
    inside, values = False, np.zeros(len(text))
    for t, char in enumerate(text):
        if char == '"':
            inside = not inside
        elif char == "\u201c":
            inside = True
        elif char == "\u201d":
            inside = False
        values[t] = inside
    return values


def inside_brackets(text: str) -> np.ndarray:
    """1 while a parenthesis, bracket or brace is open; a stray closing one is ignored."""
    depth, values = 0, np.zeros(len(text))
    for t, char in enumerate(text):
        if char in OPENING:
            depth += 1
        elif char in CLOSING:
            depth = max(0, depth - 1)
        values[t] = depth > 0
    return values


def line_position(text: str) -> np.ndarray:
    """Characters read since the last newline (0 on the newline itself)."""
    column, values = 0, np.zeros(len(text))
    for t, char in enumerate(text):
        column = 0 if char == "\n" else column + 1
        values[t] = column
    return values


def word_start(text: str) -> np.ndarray:
    """1 on a word's first character."""
    return np.array([char.isalnum() and (t == 0 or not text[t - 1].isalnum()) for t, char in enumerate(text)],
                    dtype=float)


def capitalised_word(text: str) -> np.ndarray:
    """1 on the characters of a word that starts with a capital letter."""
    capital, values = False, np.zeros(len(text))
    for t, char in enumerate(text):
        if not char.isalnum():
            capital = False
        elif t == 0 or not text[t - 1].isalnum():
            capital = char.isupper()
        values[t] = capital and char.isalnum()
    return values


def after_sentence_end(text: str) -> np.ndarray:
    """1 from a sentence's final . ! or ? through the spaces (and closing quotes or brackets) after it, until
    the next sentence starts."""
    ended, values = False, np.zeros(len(text))
    for t, char in enumerate(text):
        if char in SENTENCE_ENDS:
            ended = True
        elif not (char.isspace() or char in CLOSING or char in "\"'\u201d"):
            ended = False
        values[t] = ended
    return values


PROBES: dict[str, Probe] = {
    probe.name: probe
    for probe in (
        Probe("quotes", "inside double quotes", True, inside_quotes),
        Probe("brackets", "inside parentheses or brackets", True, inside_brackets),
        Probe("line", "position in the line (characters since a newline)", False, line_position),
        Probe("word-start", "first character of a word", True, word_start),
        Probe("capitalised", "inside a capitalised word", True, capitalised_word),
        Probe("sentence-end", "after the end of a sentence", True, after_sentence_end),
    )
}
SPAN = "span"
"""The probe from a span a person marks: on inside it, off elsewhere."""


def span_values(length: int, start: int, end: int) -> np.ndarray:
    """1 on positions start..end-1 of a text of `length` characters."""
    if not 0 <= start < end <= length:
        raise InspectError(f"the span {start}:{end} is not inside the text's {length:,} characters "
                           "(give START:END with START < END)")
    values = np.zeros(length)
    values[start:end] = 1.0
    return values


def parse_span(text: str) -> tuple[int, int]:
    """START:END as two whole numbers."""
    start, colon, end = text.partition(":")
    try:
        if not colon:
            raise ValueError
        return int(start), int(end)
    except ValueError:
        raise InspectError(f"span {text!r} is not START:END (two whole numbers)") from None


def probe_values(name: str, text: str, span: tuple[int, int] | None = None) -> np.ndarray:
    """The named probe (or the span) over `text`."""
    if name == SPAN:
        if span is None:
            raise InspectError("the span probe needs a span: mark one (START:END)")
        return span_values(len(text), *span)
    if name not in PROBES:
        raise InspectError(f"unknown probe {name!r}; probes: {', '.join([*PROBES, SPAN])}")
    return PROBES[name].compute(text)


def is_binary(name: str) -> bool:
    return name == SPAN or PROBES[name].binary

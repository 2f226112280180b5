"""The one failure of exploring a model that a person can fix (a probe the text never exercises, an offset
past the corpus, an empty text): the CLI prints it as one line, the app shows it."""

from __future__ import annotations

from tuirnn.errors import TuirnnError


class InspectError(TuirnnError):
    """The text, probe or unit asked for cannot be explored; the message says what to pick instead."""

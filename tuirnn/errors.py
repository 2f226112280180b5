"""The one base of every expected failure, so each face catches them in one place.

A `TuirnnError` is a problem a person can act on (bad settings, a missing or damaged file, a run another
process trains): the CLI prints its message as one line, the app shows it. Anything else is a bug.
"""

from __future__ import annotations


class TuirnnError(ValueError):
    """An expected failure; the message says what is wrong and what to do."""

    exit_code = 2
    """The CLI's exit status for it: 2 for bad input, 1 where the work itself failed."""

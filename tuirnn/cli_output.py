"""The command line's two voices: results on stdout, notes and errors on stderr behind one `tuirnn:`.

Both swallow a closed or broken stream: a terminal that went away (SIGHUP) must not stop the work.
"""

from __future__ import annotations

import contextlib
import sys


def say(text: str) -> None:
    """A result line on stdout."""
    with contextlib.suppress(OSError, ValueError):
        print(text, flush=True)


def note(text: str) -> None:
    """A line on stderr for the person, not the pipe: `tuirnn: TEXT`."""
    with contextlib.suppress(OSError, ValueError):
        print(f"tuirnn: {text}", file=sys.stderr, flush=True)

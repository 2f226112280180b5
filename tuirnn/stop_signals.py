"""Ctrl-C, SIGTERM and SIGHUP as a polite stop for long headless commands.

The first signal asks the work to stop (it saves, then returns); a second Ctrl-C aborts at once.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any


class StopOnSignal:
    def __init__(self, stop: Callable[[], None], announce: Callable[[int], None] | None = None):
        self.stop = stop
        self.announce = announce
        """Called with the signal number on the first signal, to tell the person what happens now."""
        self.received: int | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum
        if self.announce is not None:
            self.announce(signum)
        self.stop()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

"""Callbacks that watch the work but must never stop it: one that raises is kept, and its failure is
written down (once per kind) where a person can find it, instead of vanishing."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from tuirnn.paths import open_no_follow

ERRORS_FILE = "errors.log"
"""Beside a run's or a sweep's files: what broke in a display or another subscriber."""

EventT = TypeVar("EventT")


class Subscribers(Generic[EventT]):
    def __init__(self, log_dir: Callable[[], Path | None] = lambda: None):
        self._callbacks: list[Callable[[EventT], None]] = []
        self._log_dir = log_dir
        self._reported: set[tuple[str, str]] = set()

    def add(self, callback: Callable[[EventT], None]) -> None:
        self._callbacks.append(callback)

    def emit(self, event: EventT) -> None:
        for callback in self._callbacks:
            try:
                callback(event)
            except Exception as exc:  # noqa: BLE001  (a broken display must not stop training)
                self._report(callback, exc)

    def _report(self, callback: Callable[[EventT], None], exc: Exception) -> None:
        name = getattr(callback, "__qualname__", type(callback).__qualname__)
        key = (name, type(exc).__name__)
        if key in self._reported:
            return
        self._reported.add(key)
        text = (f"{time.strftime('%Y-%m-%d %H:%M:%S')} subscriber {name} failed (the work goes on; later "
                f"failures of this kind are not repeated):\n{''.join(traceback.format_exception(exc))}")
        if os.environ.get("TUIRNN_DEBUG"):
            print(text, file=sys.stderr, flush=True)
        folder = self._log_dir()
        if folder is None:
            return
        try:
            fd = open_no_follow(folder / ERRORS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(text)
        except (OSError, ValueError):
            pass  # nowhere to write: the failure must not become one itself

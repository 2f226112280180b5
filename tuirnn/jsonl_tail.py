"""Reading what a writer appends to a JSON-lines file (a run's metrics and samples), a poll at a time.

Each poll reads only the bytes appended since the last one, so a reader can poll every second even when
the logs are megabytes long. Used by the app's live views and by `RunFollower`; no torch, no Textual.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any


class JsonlTail:
    """The records appended to a JSON-lines file since the previous read.

    It keeps the byte offset it has read up to. A torn last line (no newline yet: the writer is mid-line)
    is held back until it is complete. A file that shrank or was replaced by another one (as an atomic
    rewrite on resume does) is read again from the start.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._identity: tuple[int, int] | None = None
        self._offset = 0
        self._partial = b""

    def read(self) -> tuple[bool, list[dict[str, Any]]]:
        """(restarted, records): restarted means the records returned before are void and these replace them."""
        try:
            handle = open(self.path, "rb")  # noqa: SIM115  (the `with` below closes it; only opening may fail here)
        except OSError:
            restarted = self._identity is not None
            self._restart(None)
            return restarted, []
        with handle:
            stat = os.fstat(handle.fileno())
            identity = (stat.st_dev, stat.st_ino)
            restarted = False
            if identity != self._identity or stat.st_size < self._offset:
                restarted = self._identity is not None
                self._restart(identity)
            if stat.st_size == self._offset:
                return restarted, []
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        return restarted, [record for record in map(_parse, lines) if record is not None]

    def _restart(self, identity: tuple[int, int] | None) -> None:
        self._identity = identity
        self._offset = 0
        self._partial = b""


def _parse(line: bytes) -> dict[str, Any] | None:
    """A damaged line is skipped rather than stopping the tail, as `runs._read_jsonl` does."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def finite_number(record: dict[str, Any], key: str) -> float | None:
    """Non-finite values are logged as null; they and missing fields leave a gap in the curve."""
    value = record.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None

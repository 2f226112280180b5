"""Messages that carry core events from worker threads to the app (posted, never awaited)."""

from __future__ import annotations

from textual.message import Message

from tuirnn.events import Event


class TrainingChanged(Message):
    """The training feed has news: coalesced metrics, or one of the rarer events."""

    def __init__(self, event: Event | None) -> None:
        super().__init__()
        self.event = event


class DownloadProgress(Message):
    def __init__(self, name: str, done: int, total: int | None, error: str | None = None, finished: bool = False):
        super().__init__()
        self.name = name
        self.done = done
        self.total = total
        self.error = error
        self.finished = finished

"""Messages that carry core events from worker threads to the app (posted, never awaited)."""

from __future__ import annotations

from textual.message import Message

from tuirnn.events import Event


class TrainingChanged(Message):
    """The training feed has news: coalesced metrics (`event` None), or one of the rarer events."""

    def __init__(self, event: Event | None) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        """Coalesced metrics only say "redraw from the feed": any later news from the feed says it too."""
        return self.event is None and isinstance(message, TrainingChanged)


class SweepNews(Message):
    """The sweep feed holds events the app has not taken yet (the feed itself carries them)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SweepNews)


class DownloadProgress(Message):
    def __init__(self, name: str, done: int, total: int | None, error: str | None = None, finished: bool = False):
        super().__init__()
        self.name = name
        self.done = done
        self.total = total
        self.error = error
        self.finished = finished

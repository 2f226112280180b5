"""The evolving samples of a run, newest on top: watch noise turn into text."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tuirnn.events import Sampled


class SamplePane(VerticalScroll):
    can_focus = True

    def __init__(self, **kwargs: object):
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._shown: Sampled | None = None
        self._body = Static(self._placeholder(), id="sample-text")

    @staticmethod
    def _placeholder() -> Text:
        return Text("Samples from the model appear here while it trains.", style="dim")

    def compose(self) -> ComposeResult:
        yield self._body

    def show(self, samples: Sequence[Sampled]) -> None:
        newest = samples[-1] if samples else None
        if newest is self._shown:  # the feed keeps a bounded list, so compare the newest, not the count
            return
        self._shown = newest
        if not samples:
            self._body.update(self._placeholder())
            return
        text = Text()
        for sample in reversed(samples):
            text.append(f"step {sample.step}  ", style="bold cyan")
            text.append(sample.prompt, style="bold")
            text.append(sample.text.replace("\n", " ⏎ ") + "\n\n")
        self._body.update(text)

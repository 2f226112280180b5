"""The Samples panel: the latest sample text of the best and of the worst trial, side by side, read from
their samples logs as they grow."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static, TabPane

from tuirnn.errors import TuirnnError
from tuirnn.jsonl_tail import JsonlTail
from tuirnn.runs import SAMPLES_FILE
from tuirnn.sweeps.definition import describe_point
from tuirnn.sweeps.sweepdir import SweepDir, TrialRecord

ENDS = ("best", "worst")


class SamplesPanel(TabPane):
    def __init__(self, *, id: str) -> None:
        super().__init__("Samples", id=id)
        self._samples: dict[str, tuple[JsonlTail, list[dict[str, Any]]]] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="samples-body"):
            for which in ENDS:
                with VerticalScroll(id=f"{which}-sample"):
                    yield Static(id=f"{which}-sample-text")

    def on_mount(self) -> None:
        for which in ENDS:
            self.query_one(f"#{which}-sample").border_title = f"{which} trial"

    def reset(self) -> None:
        """A new sweep is shown: forget the logs read so far."""
        self._samples.clear()

    def poll(self, sweep: SweepDir, metric: str, redraw: bool = False) -> None:
        """Read what the best and the worst trial's logs gained; redraw when anything did (or when asked to)."""
        order = sweep.ranked(metric)
        ends = [(order[0], "best"), (order[-1], "worst")] if order else []
        for record, _ in ends:
            if record.id not in self._samples:
                try:
                    self._samples[record.id] = (JsonlTail(sweep.trial_path(record) / SAMPLES_FILE), [])
                except TuirnnError:  # a trial directory that leads out of the sweep is not read
                    continue
            tail, samples = self._samples[record.id]
            restarted, new = tail.read()
            if restarted:
                samples.clear()
            samples.extend(new)
            redraw = redraw or restarted or bool(new)
        if redraw:
            self._draw(ends, metric)

    def _draw(self, ends: list[tuple[TrialRecord, str]], metric: str) -> None:
        for which in ENDS:
            self.query_one(f"#{which}-sample").border_title = f"{which} trial"
            self.query_one(f"#{which}-sample-text", Static).update(Text("No finished trial yet.", "dim"))
        for record, which in ends:
            self.query_one(f"#{which}-sample").border_title = (
                f"{which}: {record.id}, {metric} {record.metric(metric):.4f}")
            text = Text().append(describe_point(record.params) + "\n\n", "bold")
            samples = self._samples[record.id][1]
            if samples:
                latest = samples[-1]
                text.append(f"step {latest.get('step', '?')}\n", "cyan")
                text.append(str(latest.get("prompt", "")), "bold").append(str(latest.get("text", "")))
            elif not record.config["train"]["sample_every"]:
                text.append("no samples: this trial ran with sample_every = 0", "dim")
            else:
                text.append("no sample written yet", "dim")
            self.query_one(f"#{which}-sample-text", Static).update(text)

"""The training dashboard: start/pause/stop, live numbers, sparklines, the loss chart and samples."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Label, ProgressBar, Sparkline

from tuirnn.events import Event, Sampled
from tuirnn.formatting import model_label
from tuirnn.tui.feed import TrainingFeed
from tuirnn.tui.screens.base import AppScreen
from tuirnn.tui.widgets.loss_chart import Curve, LossChart
from tuirnn.tui.widgets.sample_pane import SamplePane
from tuirnn.tui.widgets.stats import Stats
from tuirnn.tui.widgets.trend import Trend

if TYPE_CHECKING:
    from tuirnn.tui.app import TuirnnApp

SPARK_POINTS = 120


class TrainScreen(AppScreen):
    BINDINGS = [
        Binding("s", "start", "Start", id="train-start"),
        Binding("p", "pause", "Pause/resume", id="train-pause"),
        Binding("x", "stop", "Stop & save", id="train-stop"),
        Binding("ctrl+s", "save", "Save now", id="train-save"),
        Binding("d", "detach", "Detach", id="train-detach"),
        Binding("r", "resume", "Resume run", id="train-resume"),
        Binding("l", "log_scale", "Log scale", id="train-log"),
        Binding("z", "recent_steps", "Recent steps", id="train-recent"),
    ]

    @property
    def tuirnn(self) -> TuirnnApp:
        return cast("TuirnnApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="train-top"):
            with Vertical(id="train-side"):
                yield Stats(id="stats")
                with Horizontal(classes="spark-row"):
                    yield Label("loss", classes="spark-label")
                    yield Trend([], id="loss-spark")
                with Horizontal(classes="spark-row"):
                    yield Label("val", classes="spark-label")
                    yield Trend([], id="val-spark")
            yield LossChart(id="loss-chart")
        with Horizontal(id="train-progress"):
            yield ProgressBar(total=1, show_eta=False, id="progress")
            yield Label("", id="train-message")
        yield SamplePane(id="samples")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Train"
        self.show_feed(self.tuirnn.feed, None)

    def on_screen_resume(self) -> None:
        self.show_feed(self.tuirnn.feed, None)

    def show_feed(self, feed: TrainingFeed, event: Event | None) -> None:
        self.query_one(Stats).show(feed)
        self.query_one("#loss-spark", Sparkline).data = feed.losses[-SPARK_POINTS:]
        self.query_one("#val-spark", Sparkline).data = feed.val_losses[-SPARK_POINTS:]
        progress = self.query_one(ProgressBar)
        if feed.latest is not None:
            progress.update(total=feed.latest.total_steps, progress=feed.latest.step)
        elif feed.started is not None:
            progress.update(total=feed.started.total_steps, progress=feed.started.start_step)
        elif feed.status == "starting":
            progress.update(total=None)  # pulses while the corpus and torch load
        else:
            progress.update(total=1, progress=0)
        message = feed.message or self._idle_message()
        self.query_one("#train-message", Label).update(message)
        if event is None or not isinstance(event, Sampled):
            curves = [Curve("train", feed.steps, feed.losses, "cyan"),
                      Curve("val", feed.val_steps, feed.val_losses, "orange")]
            if feed.baseline is not None and feed.steps:
                order, loss = feed.baseline
                curves.append(Curve(f"{order}-gram", [feed.steps[0], feed.steps[-1]], [loss, loss], "magenta"))
            self.query_one(LossChart).show(curves)
        self.query_one(SamplePane).show(feed.samples)

    def _idle_message(self) -> str:
        c = self.tuirnn.config
        return (f"ready: {model_label(c.model)} on {c.data.corpus}; "
                "s starts, 2 edits the model")

    def action_start(self) -> None:
        self.tuirnn.start_training()

    def action_pause(self) -> None:
        self.tuirnn.toggle_pause()

    def action_stop(self) -> None:
        self.tuirnn.stop_training()

    def action_save(self) -> None:
        self.tuirnn.save_now()

    def action_resume(self) -> None:
        """Continue the run this screen last showed (stopped, failed or finished: then extended)."""
        feed = self.tuirnn.feed
        if feed.active:
            self.notify("It is training: x stops it, then r resumes it.", severity="warning")
        elif feed.run_dir is None:
            self.notify("No run to resume here yet: s starts one, r on Runs (4) resumes any.", severity="warning")
        else:
            self.tuirnn.resume_run(feed.run_dir)

    def action_detach(self) -> None:
        self.tuirnn.handover.detach(quit_after=False)

    def action_log_scale(self) -> None:
        self.query_one(LossChart).toggle_log_scale()

    def action_recent_steps(self) -> None:
        self.query_one(LossChart).action_recent_steps()

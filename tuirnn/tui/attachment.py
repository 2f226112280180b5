"""The app attached to a run that another process trains: a detached trainer, `tuirnn train` in another
terminal, a sweep's trial.

It follows the run's files into the app's training feed, so the Train screen shows the whole history and
then the live run exactly as it shows its own; pause, stop and save-now become remote commands, answered
by the trainer. Following reads files only: the UI crashing or quitting never touches the run.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from textual.notifications import SeverityLevel

from tuirnn.errors import TuirnnError
from tuirnn.live import read_live
from tuirnn.remote_control import send_command
from tuirnn.run_follow import RunFollower
from tuirnn.runs import LIVE_STATUSES, list_runs
from tuirnn.tui.feed import TrainingFeed

if TYPE_CHECKING:
    from tuirnn.tui.app import TuirnnApp

POLL_S = 0.5
"""How often an attached dashboard reads the run's files."""


class Attachment:
    def __init__(self, app: TuirnnApp) -> None:
        self.app = app
        self.follower: RunFollower | None = None

    @property
    def following(self) -> bool:
        """Attached to a run whose trainer is still alive."""
        return self.follower is not None and not self.follower.ended

    @property
    def run_path(self) -> Path | None:
        return self.follower.path if self.follower is not None else None

    def attach(self, path: Path) -> None:
        """Show the run at `path` on the Train screen: its history now, its progress as it comes."""
        self.follower = RunFollower(Path(path))
        self.app.feed = TrainingFeed(self.app.notify_training, status="training")
        self.poll()

    def leave(self) -> None:
        """Stop following (the run goes on training, or stays as it ended); the dashboard goes idle."""
        self.follower = None
        self.app.feed = TrainingFeed(self.app.notify_training)
        self.app.notify_training(None)

    def poll(self) -> None:
        follower = self.follower
        if follower is None or follower.ended:
            return
        try:
            restarted, events = follower.poll()
        except TuirnnError as exc:  # the run directory went away or was damaged under us
            self.follower = None
            self.app.notify(f"Stopped following: {exc}", severity="warning", timeout=10)
            return
        if restarted:
            self.app.feed = TrainingFeed(self.app.notify_training, status="training")
        feed = self.app.feed
        first = feed.started is None
        ends = feed.replay(events)
        name = follower.path.name
        if follower.live is not None:
            feed.message = (f"attached to {name}: {follower.live.describe()}; "
                            "p, x and ctrl+s steer it, d leaves it training")
            if feed.status == "training" and follower.live.status == "stopping":
                feed.status = "stopping"
        elif ends:
            feed.message = f"{name}: {feed.status} at step {ends[-1].step:,} (t on Runs resumes it)"
        if ends and not first:
            self.app.notify_training(ends[-1])  # said aloud only when it happens while attached
        elif events or follower.live is not None:
            self.app.notify_training(None)

    def send(self, command: str) -> None:
        """Give the followed run's trainer `command`; the answer (or why there is none) is shown when it comes."""
        if self.follower is None:
            return
        self.app.notify(f"Asking the trainer to {command}...", timeout=3)
        self._send(self.follower.path, command)

    def _send(self, path: Path, command: str) -> None:
        app = self.app

        def work() -> None:
            severity: SeverityLevel
            try:
                answer = send_command(path, command)
                text, severity = answer.message, "information" if answer.ok else "warning"
            except (TuirnnError, OSError) as exc:
                text, severity = str(exc), "error"
            with contextlib.suppress(RuntimeError):  # the app has ended meanwhile
                app.call_from_thread(app.notify, text, severity=severity, timeout=8)

        # a daemon thread, not a worker: quitting must not wait for a trainer's answer
        threading.Thread(target=work, name="tuirnn-remote-control", daemon=True).start()

    def offer_live_runs(self) -> None:
        """At start: if runs train in other processes, offer to attach to the newest (a thread reads the list)."""
        app = self.app

        def work() -> None:  # a live trainer says so in its heartbeat; a held lock alone may be anyone's
            live = [run for run in list_runs(app.models_dir)
                    if run.status in LIVE_STATUSES and read_live(run.path) is not None]
            if live:
                with contextlib.suppress(RuntimeError):  # the app has ended meanwhile
                    app.call_from_thread(self._offer, live[0].path, len(live))

        app.run_worker(work, thread=True, group="live-runs", exit_on_error=False)

    def _offer(self, path: Path, count: int) -> None:
        from tuirnn.tui.screens.confirm import ConfirmScreen

        app = self.app
        if app.feed.active or self.follower is not None:
            return
        live = read_live(path)
        where = f" ({live.describe()})" if live else ""
        others = f" {count - 1} more train too: see Runs (4)." if count > 1 else ""
        question = f"{path.name} is training in another process{where}.{others} Attach to it?"

        def answered(yes: bool | None) -> None:
            if yes:
                app.attach_run(path)

        app.push_screen(ConfirmScreen(question, "Attach"), answered)

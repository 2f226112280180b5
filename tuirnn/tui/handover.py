"""Detaching: the app's own run handed to a trainer that outlives the app (see tuirnn.handoff).

`d` on the Train screen, the quit dialog's "Detach" and a hang-up all come here. The app's trainer is
stopped first (it saves an exact checkpoint and lets go of the run); then, once, whichever way gets there
first (the app's message loop, or the exit watch of a hang-up whose terminal is gone), the detached trainer
is started. After `d` the app follows the run from its files; after the dialog it quits.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from tuirnn.events import Event, Finished
from tuirnn.handoff import start_detached_trainer, wait_until_trained_elsewhere
from tuirnn.tui.messages import TrainingChanged

if TYPE_CHECKING:
    from tuirnn.tui.app import TuirnnApp

WAIT_S = 120.0
"""How long the app waits for the detached trainer to take the run (it imports torch and reads the checkpoint)."""


class Handover:
    def __init__(self, app: TuirnnApp) -> None:
        self.app = app
        self.due: Path | None = None
        """A run whose trainer here is stopping so that a detached one can take it."""
        self.quit_after = False
        self._lock = threading.Lock()

    def detach(self, quit_after: bool) -> None:
        """Keep the run training without this app: stop the trainer here, then hand the run over; after
        that, follow it or (`quit_after`) quit. Attached to a run trained elsewhere, `d` just stops following."""
        app = self.app
        if app.attachment.following and not quit_after:
            path = app.attachment.run_path
            app.attachment.leave()
            app.notify(f"Left {path.name if path else 'the run'} training; a on Runs (4) attaches again.")
            return
        trainer = app.trainer
        if trainer is None or trainer.run_dir is None or not app.feed.active or app.feed.status == "stopping":
            app.notify("Nothing trains here to detach.", severity="warning")
            return
        self.due, self.quit_after = trainer.run_dir.path, quit_after
        app.feed.message = "handing the run to a detached trainer: saving a checkpoint first..."
        trainer.control.stop()
        app.post_message(TrainingChanged(None))

    def trainer_ended(self, event: Event, quitting: bool) -> bool:
        """The app's trainer ended with `event`; whether that was the stop of a hand-over (now going on)."""
        if self.due is None:
            return False
        if isinstance(event, Finished) and event.reason == "stopped":
            self._hand_over(self.due, quit_after=quitting or self.quit_after)
            return True
        self.due = None  # it ended on its own first: nothing left to hand over
        if self.quit_after:
            self.app.exit(0)
        return False

    def _hand_over(self, path: Path, quit_after: bool) -> None:
        app = self.app
        app.feed.message = "starting the detached trainer..."
        app.post_message(TrainingChanged(None))

        def work() -> None:
            pid = self.start_once()
            taken = pid is not None and wait_until_trained_elsewhere(path, WAIT_S)
            with contextlib.suppress(RuntimeError):  # the app has ended meanwhile: the other trainer goes on
                app.call_from_thread(self._handed_over, path, pid, taken, quit_after)

        # a daemon thread, not a worker: quitting meanwhile must not wait for the other trainer's start-up
        threading.Thread(target=work, name="tuirnn-handover", daemon=True).start()

    def _handed_over(self, path: Path, pid: int | None, taken: bool, quit_after: bool) -> None:
        app = self.app
        if not taken:
            why = "could not be started" if pid is None else f"(pid {pid}) has not taken it"
            app.notify(f"The detached trainer {why}; see {path / 'train.log'}. Resume with t on Runs.",
                       severity="error", timeout=15)
            if quit_after:
                app.exit(1)
            return
        if quit_after:
            app.exit(0)
            return
        app.attachment.attach(path)
        app.notify(f"{path.name} trains in process {pid} now (output in train.log); q leaves it training.")

    def start_once(self) -> int | None:
        """Start the detached trainer for the run due, once, whichever way gets here first; its pid, or None
        if none was due (or it could not be started)."""
        with self._lock:  # held while starting: a way that comes second waits, so the process outlives the start
            path, self.due = self.due, None
            if path is None:
                return None
            try:
                return start_detached_trainer(path, self.app.data_dir)
            except OSError:
                return None

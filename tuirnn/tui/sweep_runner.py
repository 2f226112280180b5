"""The app's sweep engine, owned by the app as training is: one sweep at a time, whatever screen is shown.

The engine runs in a thread worker of the app and publishes its events on that thread into a `SweepFeed`,
which posts `SweepNews` to the app a few times a second; the app hands the news to `take_news`, which
keeps the trials' speeds and publishes a `SweepUpdate` on `changed` for whoever observes (the Sweep
screen). Quitting, Ctrl-C and hang-ups stop the engine through `stop`, which is safe from a signal handler,
and wait on `idle`; neither depends on the Sweep screen having been shown.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.signal import Signal
from textual.worker import Worker, get_current_worker

from tuirnn.sweeps.engine import SweepEngine, make_engine
from tuirnn.sweeps.events import SweepEnded, SweepEvent
from tuirnn.sweeps.start import SweepPlan
from tuirnn.sweeps.sweepdir import SweepDir
from tuirnn.tui.feed import SweepFeed
from tuirnn.tui.messages import SweepNews

if TYPE_CHECKING:
    from textual.app import App

GROUP = "sweep-run"
"""The worker group of the engine, as the app sees it in `Worker.StateChanged`."""
WATCH_S = 0.2


@dataclass(frozen=True)
class SweepUpdate:
    """What changed in the running sweep since the last update."""

    events: tuple[SweepEvent, ...] = ()
    """Starts, evaluations and ends, in order (progress is in the runner's `speeds` and the sweep's records)."""
    ended: bool = False
    """The engine has returned (finished, stopped or failed): the sweep is no longer run here."""


class SweepRunner:
    def __init__(self, app: App[Any], data_dir: Path) -> None:
        self._app = app
        self._data_dir = data_dir
        self.idle = threading.Event()
        """Set while no engine runs; waited on off the UI thread when the app must exit without its terminal."""
        self.idle.set()
        self.sweep: SweepDir | None = None
        """The sweep being run (its records are updated by the engine's thread)."""
        self.speeds: dict[str, float] = {}
        """The latest chars/s of each trial of the running sweep."""
        self.workers = 1
        """Trials at once of the running sweep, for the progress line's ETA."""
        self.changed: Signal[SweepUpdate] = Signal(app, "sweep-changed")
        self._feed: SweepFeed | None = None
        self._stop = threading.Event()

    @property
    def running(self) -> bool:
        return self._feed is not None

    @property
    def stopping(self) -> bool:
        return self.running and self._stop.is_set()

    def start(self, sweep: SweepDir, plan: SweepPlan) -> None:
        """Run `sweep` (claimed by this process) as `plan` says, in a thread worker of the app."""
        if self.running:
            raise RuntimeError("a sweep is already running")
        self.sweep, self.speeds = sweep, {}
        self.workers = plan.slots().trials
        self._stop = threading.Event()
        self._feed = SweepFeed(lambda: self._app.post_message(SweepNews()))
        self.idle.clear()  # before the worker starts: quitting at once waits for it
        self._app.run_worker(partial(self._run, sweep, plan, self._feed, self._stop), name="sweep", group=GROUP,
                             thread=True, exclusive=True, exit_on_error=False)

    def stop(self) -> None:
        """Start no more trials and stop the running ones (they save a checkpoint); safe from a signal handler."""
        self._stop.set()

    def _run(self, sweep: SweepDir, plan: SweepPlan, feed: SweepFeed, stop: threading.Event) -> None:
        try:
            if plan.engine == "local":
                _start_resource_tracker()
            engine = make_engine(sweep, plan.engine, plan.workers, self._data_dir)
            engine.subscribe(feed)
            finished = threading.Event()
            threading.Thread(target=_forward_stop, args=(get_current_worker(), engine, stop, finished),
                             name="sweep-stop", daemon=True).start()
            try:
                engine.run()
            finally:
                finished.set()
        finally:
            sweep.release()
            self.idle.set()

    def take_news(self) -> None:
        """Take what the feed collected (on the app's thread) and publish it."""
        feed = self._feed
        if feed is None:
            return
        progress, events = feed.take()
        self.speeds.update((trial, event.chars_per_s) for trial, event in progress.items())
        if progress or events:
            self.changed.publish(SweepUpdate(tuple(events)))
        for event in events:
            if isinstance(event, SweepEnded):
                outcome = "stopped: r resumes it" if event.stopped else "finished"
                counts = ", ".join(f"{n} {status}" for status, n in event.counts.items())
                self._app.notify(counts, title=f"Sweep {outcome}")

    def ended(self, worker: Worker[Any]) -> None:
        """The engine's worker has ended (the app forwards its state change): report a failure, publish the
        last news and the end."""
        if worker.error is not None:
            error = worker.error
            self._app.notify(f"{type(error).__name__}: {error}", title=f"{GROUP} failed", severity="error",
                             timeout=10, markup=False)
        self.take_news()
        self._feed, self.sweep = None, None
        self.changed.publish(SweepUpdate(ended=True))


def _forward_stop(worker: Worker[None], engine: SweepEngine, stop: threading.Event, finished: threading.Event) -> None:
    """Stop the engine when asked to, or when Textual cancels its worker (the app is quitting), so no
    trial process outlives the app: the trials save a checkpoint and the engine returns."""
    while not finished.wait(WATCH_S):
        if stop.is_set() or worker.is_cancelled:
            engine.stop()
            return


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with the real stderr.

    The tracker is started on first need and handed `sys.stderr.fileno()`; inside the app that is
    Textual's print capture, whose fileno is -1, and the start fails ("bad value(s) in fds_to_keep").
    """
    from multiprocessing import resource_tracker

    previous, sys.stderr = sys.stderr, sys.__stderr__
    try:
        resource_tracker.ensure_running()
    finally:
        sys.stderr = previous

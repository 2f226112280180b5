"""The tuirnn app: five screens (modes) over one shared configuration, one training worker and one sweep runner.

torch is imported just after the first frame is shown, never before. Quitting, Ctrl-C and SIGTERM stop the
trainer between steps and any running sweep, which save checkpoints before the process exits; the app
owns both, so this holds whatever screen has or has not been shown. A hang-up (SIGHUP: a dropped SSH
session) does the same, then, unless told to stop (`--on-hang-up stop`), hands the run to a detached
trainer that goes on to its planned end; the next `tuirnn` offers to attach to it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from tuirnn.config import ConfigError, RunConfig, run_length, validate, with_overrides
from tuirnn.corpus import Corpus, CorpusError
from tuirnn.errors import TuirnnError
from tuirnn.events import (
    CheckpointSaved,
    Evaluated,
    Event,
    Failed,
    Finished,
    Overfitting,
    Sampled,
    Started,
    StepMetrics,
    TrainingControl,
)
from tuirnn.formatting import format_duration
from tuirnn.paths import PathError, safe_child
from tuirnn.run_follow import RunFollower
from tuirnn.runs import RunDir, RunError, live_status
from tuirnn.tui.ascii_output import ascii_driver, launch_environment, wants_ascii
from tuirnn.tui.attachment import POLL_S, Attachment
from tuirnn.tui.feed import TrainingFeed
from tuirnn.tui.handover import Handover
from tuirnn.tui.messages import SweepNews, TrainingChanged
from tuirnn.tui.screens.confirm import ConfirmScreen, QuitScreen
from tuirnn.tui.screens.explore.screen import ExploreScreen
from tuirnn.tui.screens.generate import GenerateScreen
from tuirnn.tui.screens.help import HelpScreen
from tuirnn.tui.screens.model import ModelScreen
from tuirnn.tui.screens.runs import RunsScreen
from tuirnn.tui.screens.sweep.screen import SweepScreen
from tuirnn.tui.screens.train import TrainScreen
from tuirnn.tui.sweep_runner import GROUP as SWEEP_GROUP
from tuirnn.tui.sweep_runner import SweepRunner
from tuirnn.validation_watch import overfitting_text

if TYPE_CHECKING:
    from tuirnn.training import Trainer

GRACEFUL_EXIT_S = 5.0
"""After SIGTERM, how long Textual gets to restore the terminal before the process ends."""
EXIT_DEADLINE_S = 8.0
"""How long quitting waits for the trainer to stop and save. A worker stuck past it (a hung disk, a read
that never returns) does not keep the process alive: the last checkpoint on disk stays as it was."""
MODE_KEYS = (("train", "1", "f2"), ("model", "2", "f3"), ("generate", "3", "f4"), ("runs", "4", "f5"),
             ("sweep", "5", "f6"), ("explore", "6", "f7"))


def _length_text(config: RunConfig) -> str:
    train = config.train
    way = run_length(train)
    if way == "steps":
        return f"{train.max_steps:,} steps"
    return format_duration(train.time_budget) if way == "budget" else f"{train.epochs} epochs"


def _wants_ansi_theme() -> bool:
    """16-colour terminals (no 256-colour TERM, no COLORTERM, as over plain SSH) get the ANSI theme."""
    term = os.environ.get("TERM", "")
    return not os.environ.get("COLORTERM") and "256" not in term and "direct" not in term


class TuirnnApp(App[int]):
    TITLE = "tuirnn"
    CSS_PATH = "tuirnn.tcss"
    MODES = {"train": TrainScreen, "model": ModelScreen, "generate": GenerateScreen, "runs": RunsScreen,
             "sweep": SweepScreen, "explore": ExploreScreen}
    DEFAULT_MODE = "train"
    BINDINGS = [
        *(
            Binding(digit, f"switch_mode('{mode}')", mode.capitalize(), id=f"mode-{mode}")
            for mode, digit, _ in MODE_KEYS
        ),
        *(Binding(fkey, f"switch_mode('{mode}')", mode.capitalize(), id=f"mode-{mode}-fkey", show=False,
                  priority=True) for mode, _, fkey in MODE_KEYS),  # from anywhere, a text area's own F6/F7 too
        Binding("f1,question_mark", "help", "Help", id="help", show=False),  # shown first by each screen
        Binding("q", "quit_app", "Quit", id="quit", show=False),
        Binding("ctrl+c", "quit_app", "Quit", show=False, priority=True),
    ]

    def __init__(self, models_dir: Path, data_dir: Path, config: RunConfig | None = None, preload_torch: bool = True,
                 ascii_output: bool = False, exit_deadline: bool = False, on_hang_up: str = "detach"):
        super().__init__()
        self.on_hang_up = on_hang_up
        """`detach`: a hang-up hands a training run to a detached trainer; `stop`: it stops and saves."""
        self.attachment = Attachment(self)
        self.handover = Handover(self)
        self._save_requested = False
        """Save now was asked for: the next saved checkpoint is confirmed aloud."""
        self.exit_deadline = exit_deadline
        """End the process EXIT_DEADLINE_S after quitting starts, whatever a worker is stuck in (real runs
        only: under a test harness it would end the harness too)."""
        self.ascii_output = ascii_output
        if ascii_output:
            self.driver_class = ascii_driver(self.driver_class)
        self.models_dir = Path(models_dir)
        self.data_dir = Path(data_dir)
        self.config = config or RunConfig()
        self.feed = TrainingFeed(self.notify_training)
        self.trainer: Trainer | None = None
        self.training_idle = threading.Event()
        self.training_idle.set()
        self.preload_torch = preload_torch
        self.sweeps = SweepRunner(self, self.data_dir)
        self._quitting = False
        if _wants_ansi_theme():
            self.theme = "ansi-dark"

    # ----- lifecycle -------------------------------------------------------------------------------
    def on_mount(self) -> None:
        if self.preload_torch:
            self.call_after_refresh(self._preload_torch)
        self.set_interval(POLL_S, self.attachment.poll)
        self.call_after_refresh(self.attachment.offer_live_runs)

    def _preload_torch(self) -> None:
        self.ensure_torch()

    @staticmethod
    def ensure_torch() -> None:
        """Import torch on the main thread, before any worker touches it.

        Called right after the first frame, and again (a no-op by then) before work that needs torch:
        when torch is first imported off the main thread, its CPU thread pools are set up in a way that
        left training at half speed or less in every later thread (measured). Keys pressed meanwhile
        wait in the queue; nothing is lost.
        """
        import tuirnn.training  # noqa: F401

    def get_key_display(self, binding: Binding) -> str:
        """In ASCII output a key is shown by name where Textual shows a symbol (⏎, ⇥, ↑)."""
        display = super().get_key_display(binding)
        if not self.ascii_output or display.isascii():
            return display
        modifiers, key = binding.parse_key()
        return "+".join([*modifiers, key])

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Start training", "Train the current configuration", self.start_training)
        yield SystemCommand("Pause or resume training", "Toggle pause", self.toggle_pause)
        yield SystemCommand("Stop training", "Stop after this step and save a checkpoint", self.stop_training)
        yield SystemCommand("Save checkpoint now", "Write the latest checkpoint", self.save_now)
        yield SystemCommand("Detach training", "Hand the run to a trainer that outlives this app",
                            lambda: self.handover.detach(quit_after=False))
        for mode, _, _ in MODE_KEYS:
            yield SystemCommand(f"Go to {mode}", f"Open the {mode} screen", lambda m=mode: self.switch_mode(m))
        yield SystemCommand("Help", "Show the key bindings", self.action_help)
        where = type(screen).__name__.removesuffix("Screen")
        for binding in Binding.make_bindings(type(screen).BINDINGS):  # this screen's own commands, with their keys
            if binding.description and binding.show:
                key = self.get_key_display(binding)
                yield SystemCommand(f"{where}: {binding.description}", f"key {key}",
                                    lambda action=binding.action: self.run_action(action, screen))

    # ----- training --------------------------------------------------------------------------------
    def notify_training(self, event: Event | None) -> None:
        self.post_message(TrainingChanged(event))

    def start_training(self, resume_dir: Path | None = None, extend: bool = False) -> None:
        """Train the app's configuration, or resume the run at `resume_dir` (`extend`: by as much again)."""
        if self.attachment.following:
            self.notify("This screen follows a run trained elsewhere: d leaves it, then s starts a new one.",
                        severity="warning")
            return
        if self.feed.active:
            self.notify("A run is already training: stop it first (x).", severity="warning")
            return
        if self.attachment.run_path is not None:
            self.attachment.leave()
        try:
            config = validate(self.config) if resume_dir is None else None
        except ConfigError as exc:
            self.notify(f"Cannot start: {exc}", severity="error", timeout=8)
            return
        self.ensure_torch()
        self.trainer = None
        self.feed = TrainingFeed(self.notify_training, status="starting", message="loading corpus and torch...")
        if resume_dir is not None:
            self._show_history(resume_dir)
        self.training_idle.clear()
        self.post_message(TrainingChanged(None))
        self._train(config, resume_dir, extend)

    def _show_history(self, run_path: Path) -> None:
        """A resumed run's curve and samples up to its checkpoint, so its chart starts at step 0."""
        try:
            _, events = RunFollower(run_path).poll()
            saved = int(RunDir.open(run_path).info.get("step", 0) or 0)
        except (RunError, OSError, ValueError):
            return  # the worker says what is wrong with the run
        self.feed.replay([e for e in events if isinstance(e, (StepMetrics, Evaluated, Sampled)) and e.step <= saved])

    @work(thread=True, exclusive=True, group="training", exit_on_error=False)
    def _train(self, config: RunConfig | None, resume_dir: Path | None, extend: bool) -> None:
        worker = get_current_worker()
        feed = self.feed
        try:
            from tuirnn.launch import Launch, create_run, extension, plan_run, resume_run
            from tuirnn.runs import new_run_name
            from tuirnn.training import Trainer

            run: RunDir | None = None
            try:
                if resume_dir is not None:
                    run = RunDir.open_claimed(resume_dir)  # before any write: another trainer is refused here
                    settings = with_overrides(run.config, extension(run.config)) if extend else run.config
                    launch: Launch = resume_run(run, plan_run(settings, self.data_dir))
                else:
                    assert config is not None
                    plan = plan_run(config, self.data_dir)
                    name = new_run_name(plan.config, plan.corpus.name)
                    launch = create_run(plan, safe_child(self.models_dir, name, "run name"))
            except (ConfigError, CorpusError, RunError, PathError, OSError) as exc:
                if run is not None:
                    run.release()
                feed(Failed(0, "error", str(exc), None))
                return
            run, config, corpus = launch.run, launch.config, launch.corpus
            control = TrainingControl(cancelled=lambda: worker.is_cancelled)
            trainer = Trainer(config, corpus, run, resume=resume_dir is not None, control=control)
            trainer.subscribe(feed)
            self.trainer = trainer
            if worker.is_cancelled:
                run.release()
                feed(Finished(0, "stopped", None, None, None, run.path))
            else:
                trainer.run()
        finally:
            self.training_idle.set()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        group = event.worker.group
        ended = event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)
        if group == "training" and event.state == WorkerState.ERROR:
            error = event.worker.error
            self.feed(Failed(0, "error", f"{type(error).__name__}: {error}", self.feed.run_dir))
        elif group == SWEEP_GROUP and ended:
            self.sweeps.ended(event.worker)
        if group in ("training", SWEEP_GROUP) and ended and self._quitting:
            self._exit_when_idle()

    def on_training_changed(self, message: TrainingChanged) -> None:
        event = message.event
        trainer = self.trainer
        if (isinstance(event, (Finished, Failed)) and trainer is not None and trainer.run_dir is not None
                and trainer.run_dir.path == event.run_dir):
            self.trainer = None  # gives the model and optimizer memory back (on a GPU too)
            if self.handover.trainer_ended(event, quitting=self._quitting):
                event = None  # not "training stopped": it goes on elsewhere
        if isinstance(event, Started) and trainer is not None:
            self._measure_baseline(trainer.corpus, trainer.config.data.val_fraction, self.feed)
        if isinstance(event, CheckpointSaved) and event.kind == "latest" and self._save_requested:
            self._save_requested = False
            self.notify(f"Checkpoint saved at step {event.step:,}.")
        if isinstance(event, Failed):
            self.notify(event.message, title="Training failed", severity="error", timeout=10)
        elif isinstance(event, Overfitting):
            self.notify(overfitting_text(**asdict(event)), title="Overfitting", severity="warning", timeout=15)
        elif isinstance(event, Finished) and not self._quitting:
            self.notify(self.feed.message, title="Training " + event.reason)
        if isinstance(self.screen, TrainScreen):
            self.screen.show_feed(self.feed, message.event)

    def _measure_baseline(self, corpus: Corpus, val_fraction: float, feed: TrainingFeed) -> None:
        """The best n-gram model's validation loss, for the Train chart's reference line (a second or less)."""
        from tuirnn.inspection.baseline import ngram_baselines

        def work() -> None:
            with contextlib.suppress(TuirnnError, MemoryError):
                order, loss = min(ngram_baselines(corpus, val_fraction).items(), key=lambda item: item[1])
                feed.baseline = (order, loss)
                with contextlib.suppress(RuntimeError):  # the app has ended meanwhile
                    self.call_from_thread(self.notify_training, None)

        threading.Thread(target=work, name="tuirnn-baseline", daemon=True).start()

    def toggle_pause(self) -> None:
        if self.attachment.following:
            self.attachment.send("unpause" if self.feed.status == "paused" else "pause")
            return
        if self.trainer is None or not self.feed.active:
            self.notify("Nothing is training.", severity="warning")
            return
        control = self.trainer.control
        control.resume() if control.paused else control.pause()

    def stop_training(self) -> None:
        if self.attachment.following:
            self.attachment.send("stop")
            return
        if not self.feed.active:
            self.notify("Nothing is training.", severity="warning")
            return
        self.feed.status = "stopping"
        self.feed.message = "stopping after this step and saving a checkpoint..."
        self.post_message(TrainingChanged(None))
        if self.trainer is not None:
            self.trainer.control.stop()
        else:  # still loading: the worker checks for cancellation before it starts the trainer
            self.workers.cancel_group(self, "training")

    def save_now(self) -> None:
        if self.attachment.following:
            self.attachment.send("save")
            return
        if self.trainer is None or not self.feed.active:
            self.notify("Nothing is training.", severity="warning")
            return
        self.trainer.control.request_save()
        self._save_requested = True
        self.notify("A checkpoint will be written after this step.")

    # ----- sweeps ----------------------------------------------------------------------------------
    def on_sweep_news(self, message: SweepNews) -> None:
        self.sweeps.take_news()

    # ----- between screens -------------------------------------------------------------------------
    def open_in_generate(self, run_path: Path) -> None:
        self.switch_mode("generate")
        generate = self.screen_stack[0]
        assert isinstance(generate, GenerateScreen)
        generate.choose_run(Path(run_path))

    def attach_run(self, run_path: Path) -> None:
        if self.feed.active and not self.attachment.following:
            self.notify("A run trains here: stop it (x) or detach it (d) first.", severity="warning")
            return
        self.switch_mode("train")
        self.attachment.attach(Path(run_path))

    def resume_run(self, run_path: Path) -> None:
        """Continue a stopped or interrupted run; one that reached its end is offered as much again."""
        path = Path(run_path)
        try:
            run = RunDir.open(path)
        except RunError as exc:
            self.notify(str(exc), severity="error", timeout=8)
            return
        status = live_status(path, run.info)
        if status not in ("completed", "early-stopped"):
            self.start_training(resume_dir=path)
            self.switch_mode("train")
            return

        def answered(extend: bool | None) -> None:
            if extend:
                self.start_training(resume_dir=path, extend=True)
                self.switch_mode("train")

        step = int(run.info.get("step", 0) or 0)
        question = (f"{run.name} has {status} (step {step:,}): resuming it has nothing left to train. Extend it "
                    f"by as much training again ({_length_text(run.config)} more)?")
        self.push_screen(ConfirmScreen(question, "Extend"), answered)

    # ----- app actions -----------------------------------------------------------------------------
    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
            return
        self.push_screen(HelpScreen(self.screen))

    async def action_quit(self) -> None:
        """The command palette's Quit asks first, as q does, while something trains."""
        self.action_quit_app()

    def action_quit_app(self) -> None:
        training_here = self.feed.active and not self.attachment.following
        if not training_here and not self.sweeps.running:
            self.exit(0)  # a run followed from its files goes on training
            return
        if training_here and not self.sweeps.running:
            def chose(choice: str | None) -> None:
                if choice == "stop":
                    self.save_and_exit()
                elif choice == "detach":
                    self.handover.detach(quit_after=True)

            self.push_screen(QuitScreen("A run is training. Save a checkpoint and quit, or keep it training "
                                        "without this app?"), chose)
            return

        def answered(stop: bool | None) -> None:
            if stop:
                self.save_and_exit()

        what = "A run is training and a sweep is running" if training_here else "A sweep is running"
        self.push_screen(ConfirmScreen(f"{what}. Save checkpoints and quit?", "Save and quit"), answered)

    def save_and_exit(self) -> None:
        """Stop the trainer and any sweep (they save checkpoints), then exit once both workers have finished."""
        if not self._quitting:
            self._quitting = True
            self._watch_exit(terminal_lost=False)
        self.sweeps.stop()
        if self._exit_when_idle():
            return
        if not self.training_idle.is_set():
            self.notify("Saving a checkpoint before quitting...", timeout=30)
            self.stop_training()
        else:
            self.notify("Stopping the sweep: its trials save a checkpoint before quitting...", timeout=30)

    def _exit_when_idle(self) -> bool:
        """Exit if neither training nor a sweep runs; whether it did."""
        if self.training_idle.is_set() and self.sweeps.idle.is_set():
            self.exit(0)
            return True
        return False

    def hang_up(self, terminal_lost: bool) -> None:
        """From a signal handler: stop and save without depending on the terminal.

        Once the trainer has saved, the process exits even if Textual is stuck writing to a terminal
        that no longer exists (SIGHUP); after SIGTERM it first gets a moment to restore the terminal.
        """
        trainer = self.trainer
        if trainer is not None:
            if terminal_lost and self.on_hang_up == "detach" and trainer.run_dir is not None:
                self.handover.due = trainer.run_dir.path  # started once the trainer has saved and let go
            trainer.control.stop()
        self.sweeps.stop()
        if not self._quitting:
            self._quitting = True
            self._watch_exit(terminal_lost)
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self.save_and_exit)

    def _watch_exit(self, terminal_lost: bool) -> None:
        if self.exit_deadline:
            threading.Thread(target=self._exit_when_saved, args=(terminal_lost,), name="exit-deadline",
                             daemon=True).start()

    def _exit_when_saved(self, terminal_lost: bool) -> None:
        """End the process once the trainer and any sweep have stopped and saved, or at the deadline."""
        deadline = time.monotonic() + EXIT_DEADLINE_S
        self.training_idle.wait(timeout=EXIT_DEADLINE_S)
        # a sweep's trials save on their own once its driver is gone: the engine is not waited for past the deadline
        self.sweeps.idle.wait(timeout=max(0.0, deadline - time.monotonic()))
        if self.training_idle.is_set():
            self.handover.start_once()
        if not terminal_lost:
            loop = self._loop
            if loop is not None and loop.is_running():
                loop.call_soon_threadsafe(self.exit, 0)
            time.sleep(GRACEFUL_EXIT_S)
        os._exit(0)


def run_app(models_dir: Path, data_dir: Path, config: RunConfig | None = None, on_hang_up: str = "detach") -> int:
    app = TuirnnApp(models_dir, data_dir, config, ascii_output=wants_ascii(launch_environment()), exit_deadline=True,
                    on_hang_up=on_hang_up)

    def on_signal(signum: int, frame: object) -> None:
        app.hang_up(terminal_lost=signum == getattr(signal, "SIGHUP", None))

    for name in ("SIGHUP", "SIGTERM"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_signal)
    try:
        app.run()
    finally:
        if app.trainer is not None:
            app.trainer.control.stop()
        app.sweeps.stop()
        deadline = time.monotonic() + EXIT_DEADLINE_S
        if not (app.training_idle.wait(timeout=EXIT_DEADLINE_S)
                and app.sweeps.idle.wait(timeout=max(0.0, deadline - time.monotonic()))):
            os._exit(1)  # a worker is stuck: the interpreter would wait for its thread forever
        app.handover.start_once()  # a hang-up's run, if the app ended before its exit watch got to it
    return 0

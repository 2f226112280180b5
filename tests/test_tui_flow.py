"""The app's main flow, driven by keys: train, watch, pause, stop, generate reproducibly, quit safely (a sweep
running too, whatever screen was shown); and the news messages that coalesce."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest
from test_tui_process import _signal_and_wait, _spawn_app, _wait
from textual.widgets import Input
from tui_helpers import make_app, tiny_config, wait_for

from tuirnn.checkpoint import load_checkpoint
from tuirnn.config import save_toml
from tuirnn.events import Paused
from tuirnn.runs import TRIALS_DIR, RunDir, list_runs
from tuirnn.sweeps.definition import Axis, SweepDefinition
from tuirnn.sweeps.start import SweepPlan
from tuirnn.sweeps.sweepdir import SweepDir
from tuirnn.tui.app import TuirnnApp
from tuirnn.tui.messages import SweepNews, TrainingChanged
from tuirnn.tui.screens.confirm import ConfirmScreen
from tuirnn.tui.screens.generate import GenerateScreen
from tuirnn.tui.screens.train import TrainScreen

SIZE = (80, 24)


def test_train_watch_pause_stop_and_generate(tmp_path: Path, nietzsche_path: Path) -> None:
    app = make_app(tmp_path, tiny_config(nietzsche_path, max_steps=100_000))

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            assert isinstance(screen, TrainScreen)
            spark = screen.query_one("#loss-spark")
            samples = screen.query_one("#sample-text")
            placeholder = str(samples.render())
            await pilot.press("s")
            await wait_for(pilot, lambda: len(spark.data or []) >= 3 and app.feed.samples)
            first_spark = list(spark.data)
            await wait_for(pilot, lambda: len(app.feed.samples) >= 2)
            await pilot.pause(0.3)
            assert list(spark.data) != first_spark
            assert str(samples.render()) != placeholder
            assert f"step {app.feed.samples[-1].step}" in str(samples.render())

            await pilot.press("p")
            await wait_for(pilot, lambda: app.feed.status == "paused")
            paused_at = app.feed.latest.step
            await pilot.pause(0.5)
            assert app.feed.latest.step <= paused_at + app.config.train.log_every
            await pilot.press("p")
            await wait_for(pilot, lambda: app.feed.status == "training" and app.feed.latest.step > paused_at + 4)

            await pilot.press("x")
            await wait_for(pilot, lambda: app.feed.status == "stopped")
            run = RunDir.open(app.feed.run_dir)
            assert load_checkpoint(run.latest_path).step == app.feed.latest.step

            await pilot.press("3")
            generate = app.screen
            assert isinstance(generate, GenerateScreen)
            await pilot.press("i", *"The ", "enter")  # the prompt is a key away, never in the way
            await wait_for(pilot, lambda: len(generate.generated) == generate.settings.length)
            first, seed = generate.text(), generate.settings.seed
            assert f"seed {seed}" in str(generate.query_one("#gen-settings").render())
            best_step = load_checkpoint(run.best_path).step  # which weights drew it, and from when
            assert f"from best at step {best_step:,}" in str(generate.query_one("#gen-settings").render())
            await pilot.press("g")
            await wait_for(pilot, lambda: len(generate.generated) == generate.settings.length)
            assert generate.text() == first
            await pilot.press("n")
            await wait_for(pilot, lambda: generate.settings.seed != seed
                           and len(generate.generated) == generate.settings.length)
            assert generate.text() != first
            new_seed = generate.settings.seed
            await pilot.press("full_stop")
            await wait_for(pilot, lambda: generate.settings.seed == new_seed + 1)
            temperature = generate.settings.temperature
            await pilot.press("T")
            assert generate.settings.temperature == pytest.approx(temperature + 0.1)
            assert f"temp {temperature + 0.1:.1f}" in str(generate.query_one("#gen-settings").render())
            await pilot.press("b")
            await wait_for(pilot, lambda: generate.settings.greedy
                           and len(generate.generated) == generate.settings.length)
            greedy = generate.text()
            await pilot.press("b", "b")
            await wait_for(pilot, lambda: generate.settings.greedy
                           and len(generate.generated) == generate.settings.length)
            assert generate.text() == greedy

    asyncio.run(scenario())


def test_quit_while_training_saves_a_loadable_checkpoint(tmp_path: Path, nietzsche_path: Path) -> None:
    app = make_app(tmp_path, tiny_config(nietzsche_path, max_steps=100_000, eval_every=100_000))

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.feed.latest is not None and app.feed.latest.step >= 10)
            await pilot.press("q")
            await pilot.pause(0.2)
            assert app.is_running, "quitting while training must ask first"
            await pilot.press("y")
            await wait_for(pilot, lambda: not app.is_running, timeout=30)

    asyncio.run(scenario())
    (summary,) = list_runs(tmp_path / "models")
    run = RunDir.open(summary.path)
    checkpoint = load_checkpoint(run.latest_path)
    assert checkpoint.step >= 10
    assert json.loads((summary.path / "run.json").read_text())["status"] == "stopped"


def test_failure_in_the_worker_is_shown_and_the_app_keeps_running(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    app = make_app(tmp_path, tiny_config(empty))

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.feed.status == "failed")
            await pilot.pause(0.2)
            assert "empty" in app.feed.message
            assert "empty" in str(app.screen.query_one("#train-message").render())
            await pilot.press("3")
            assert isinstance(app.screen, GenerateScreen)

    asyncio.run(scenario())


def test_configure_a_tiny_model_by_keys_then_train(tmp_path: Path, nietzsche_path: Path) -> None:
    app = TuirnnApp(tmp_path / "models", tmp_path / "data", preload_torch=False)

    async def tab_to(pilot, widget_id: str) -> None:
        for _ in range(len(app.screen.focus_chain)):
            if app.focused is not None and app.focused.id == widget_id:
                return
            await pilot.press("tab")
        raise AssertionError(f"Tab never reached #{widget_id}")

    async def type_into(pilot, widget_id: str, text: str) -> None:
        await tab_to(pilot, widget_id)
        await pilot.press("end", "ctrl+u", *text)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("2")
            await tab_to(pilot, "corpus")
            await pilot.press("enter", "end", "enter")  # the last choice: a file
            await type_into(pilot, "corpus_path", str(nietzsche_path))
            await type_into(pilot, "seq_len", "32")
            await tab_to(pilot, "cell")
            await pilot.press("enter", "home", "enter")  # rnn
            await type_into(pilot, "layers", "1")
            await type_into(pilot, "hidden_size", "24")
            await type_into(pilot, "embedding_size", "8")
            await type_into(pilot, "dropout", "0")
            await type_into(pilot, "batch_size", "16")
            await type_into(pilot, "max_steps", "60")
            await type_into(pilot, "eval_every", "20")
            await type_into(pilot, "sample_every", "20")
            await pilot.press("ctrl+t")
            await wait_for(pilot, lambda: isinstance(app.screen, TrainScreen))
            await wait_for(pilot, lambda: app.feed.status == "completed", timeout=60)
            config = app.config
            assert (config.model.cell, config.model.layers, config.model.hidden_size) == ("rnn", 1, 24)
            assert config.data.corpus == str(nietzsche_path) and config.train.max_steps == 60
            assert app.feed.latest.step == 60 and len(app.feed.samples) == 3

    asyncio.run(scenario())


# ----- a sweep running while the Sweep screen was never shown ---------------------------------------------


def endless_sweep(models: Path, corpus: Path) -> SweepDir:
    """A two-trial sweep, one trial at a time, whose trials would train for ever: written, not claimed."""
    base = tiny_config(corpus, max_steps=1_000_000, eval_every=1_000_000, sample_every=0)
    definition = SweepDefinition("endless", base, (Axis("lr", (0.01, 0.003)),))
    return SweepDir.create(models / "sweeps" / "endless", definition)


def assert_stopped_and_saved(path: Path) -> None:
    """The running trial was stopped with a checkpoint and re-queued; its run and the sweep are free."""
    sweep = SweepDir.open(path)  # the sweep's lock is free
    assert [record.status for record in sweep.trials] == ["queued"]
    trial = RunDir.open_claimed(path / TRIALS_DIR / sweep.trials[0].id)  # no trial process holds the run
    logged = max(int(record["step"]) for record in trial.metrics())
    assert load_checkpoint(trial.latest_path).step >= logged > 0
    trial.release()
    sweep.release()


def test_quitting_stops_a_sweep_the_sweep_screen_never_showed(tmp_path: Path, nietzsche_path: Path) -> None:
    app = make_app(tmp_path, tiny_config(nietzsche_path))
    path = endless_sweep(tmp_path / "models", nietzsche_path).path
    idle_at_exit: list[bool] = []

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            sweep = SweepDir.open(path)
            app.ensure_torch()
            app.sweeps.start(sweep, SweepPlan(sweep.definition, 1, "local"))
            await wait_for(pilot, lambda: bool(sweep.trials) and sweep.trials[0].step > 0, timeout=60)
            assert app.current_mode == "train" and app.sweeps.running
            await pilot.press("q")
            await pilot.pause(0.2)
            assert isinstance(app.screen, ConfirmScreen) and "A sweep is running" in app.screen.question
            await pilot.press("y")
            await wait_for(pilot, lambda: not app.is_running, timeout=60)
            idle_at_exit.append(app.sweeps.idle.is_set())

    asyncio.run(scenario())
    assert idle_at_exit == [True]  # the app exited once the sweep had stopped, not by cancelling its worker
    assert multiprocessing.active_children() == []
    assert_stopped_and_saved(path)


SWEEPING_APP = """
import sys
from pathlib import Path
from tuirnn.sweeps.start import SweepPlan
from tuirnn.sweeps.sweepdir import SweepDir
from tuirnn.tui.app import TuirnnApp

shown = TuirnnApp.on_mount

def on_mount(self):  # the app starts a sweep as soon as it is shown, without the Sweep screen
    shown(self)
    self.ensure_torch()
    sweep = SweepDir.open(Path(SWEEP))
    self.sweeps.start(sweep, SweepPlan(sweep.definition, 1, "local"))

TuirnnApp.on_mount = on_mount
from tuirnn.cli import main
sys.exit(main(["--config", CONFIG]))
"""


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_hangup_or_terminate_stops_and_saves_a_sweep_the_sweep_screen_never_showed(
        tmp_path: Path, nietzsche_path: Path, signum: int) -> None:
    config_file = tmp_path / "tiny.toml"
    save_toml(tiny_config(nietzsche_path), config_file)
    path = endless_sweep(tmp_path / "models", nietzsche_path).path
    code = SWEEPING_APP.replace("SWEEP", repr(str(path))).replace("CONFIG", repr(str(config_file)))
    pid, master, screen = _spawn_app(tmp_path, config_file, code=code)

    def trained() -> bool:
        metrics = path / TRIALS_DIR / "t000" / "metrics.jsonl"
        return metrics.exists() and metrics.stat().st_size > 200

    _wait(lambda: b"Start" in b"".join(screen), 60, "the first frame")
    _wait(trained, 90, "the sweep's first trial to log metrics")
    status = _signal_and_wait(pid, master, signum)
    assert os.WIFEXITED(status), f"the app died from signal {os.WTERMSIG(status) if os.WIFSIGNALED(status) else '?'}"
    assert_stopped_and_saved(path)


# ----- news messages -------------------------------------------------------------------------------------


def test_coalesced_news_gives_way_to_later_news_and_events_never_do() -> None:
    metrics, finished = TrainingChanged(None), TrainingChanged(Paused(10))
    assert metrics.can_replace(TrainingChanged(None)) and metrics.can_replace(finished)
    assert not finished.can_replace(TrainingChanged(None)) and not finished.can_replace(metrics)  # events stay
    assert not metrics.can_replace(SweepNews())
    assert SweepNews().can_replace(SweepNews()) and not SweepNews().can_replace(metrics)


def test_navigation_keys_never_type_into_a_field(tmp_path: Path) -> None:
    """Visit Model with a number field focused, leave with F2, come back and press 1 2 1 2: the screens
    change and the setting does not; on Generate, 4 opens the Runs screen instead of typing into the prompt."""
    app = make_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("2")
            model = app.screen
            model.query_one("#seed").focus()
            await pilot.pause()
            before = app.config.to_dict()
            await pilot.press("f2", "2", "1", "2", "1", "2")
            assert app.current_mode == "model" and app.config.to_dict() == before
            assert str(model.query_one("#seed", Input).value) == str(before["train"]["seed"])
            await pilot.press("3")
            assert app.current_mode == "generate"
            await pilot.press("4")
            assert app.current_mode == "runs"
            await pilot.press("3", "i", "4")
            assert app.current_mode == "generate"  # typing in the prompt, after asking for it, types
            assert app.screen.query_one("#gen-prompt-input", Input).value == "4"
            await pilot.press("escape", "5")
            assert app.current_mode == "sweep"

    asyncio.run(scenario())


def test_the_palettes_quit_asks_first_while_training(tmp_path: Path, nietzsche_path: Path) -> None:
    from tuirnn.tui.screens.confirm import QuitScreen

    app = make_app(tmp_path, tiny_config(nietzsche_path, max_steps=100_000))

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.feed.status == "training")
            await app.run_action("quit")  # what the palette's Quit runs
            await pilot.pause()
            assert isinstance(app.screen, QuitScreen) and app.is_running
            await pilot.press("n")
            assert app.feed.status == "training"
            await pilot.press("x")
            await wait_for(pilot, lambda: app.feed.status == "stopped")

    asyncio.run(scenario())

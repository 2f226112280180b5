"""The app's main flow, driven by keys: train, watch, pause, stop, generate reproducibly, quit safely."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tuirnn.checkpoint import load_checkpoint
from tuirnn.config import RunConfig
from tuirnn.runs import RunDir, list_runs
from tuirnn.tui.app import TuirnnApp
from tuirnn.tui.screens.generate import GenerateScreen
from tuirnn.tui.screens.train import TrainScreen
from tui_helpers import tiny_config

SIZE = (80, 24)


async def wait_for(pilot, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def make_app(tmp_path: Path, config: RunConfig) -> TuirnnApp:
    return TuirnnApp(tmp_path / "models", tmp_path / "data", config=config, preload_torch=False)


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
            await pilot.press(*"The ", "enter")
            await wait_for(pilot, lambda: len(generate.generated) == generate.settings.length)
            first, seed = generate.text(), generate.settings.seed
            assert f"seed {seed}" in str(generate.query_one("#gen-settings").render())
            await pilot.press("r")
            await wait_for(pilot, lambda: len(generate.generated) == generate.settings.length)
            assert generate.text() == first
            await pilot.press("n")
            await wait_for(pilot, lambda: generate.settings.seed != seed
                           and len(generate.generated) == generate.settings.length)
            assert generate.text() != first
            new_seed = generate.settings.seed
            await pilot.press("equals_sign")
            await wait_for(pilot, lambda: generate.settings.seed == new_seed + 1)
            temperature = generate.settings.temperature
            await pilot.press("T")
            assert generate.settings.temperature == pytest.approx(temperature + 0.1)
            assert f"temp {temperature + 0.1:.1f}" in str(generate.query_one("#gen-settings").render())
            await pilot.press("g")
            await wait_for(pilot, lambda: generate.settings.greedy and len(generate.generated) == generate.settings.length)
            greedy = generate.text()
            await pilot.press("g", "g")
            await wait_for(pilot, lambda: generate.settings.greedy and len(generate.generated) == generate.settings.length)
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

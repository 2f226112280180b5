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

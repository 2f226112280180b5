"""The app and runs trained by other processes: offered at start, attached from Runs, steered by the
Train screen's keys; `d` (and the quit dialog) hands the app's own run to a detached trainer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import main_in_process, write_text
from textual.pilot import Pilot
from textual.widgets import Button, Static
from tui_helpers import make_app, tiny_config, wait_for

from tuirnn.checkpoint import load_checkpoint
from tuirnn.config import RunConfig
from tuirnn.corpus import Vocabulary
from tuirnn.live import read_live
from tuirnn.locks import is_held
from tuirnn.runs import TRAINING_LOCK_FILE, RunDir
from tuirnn.tui.app import TuirnnApp
from tuirnn.tui.screens.confirm import ConfirmScreen, QuitScreen
from tuirnn.tui.screens.train import TrainScreen


def _wait(condition: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _trained_elsewhere(path: Path) -> bool:
    live = read_live(path)
    return live is not None and live.pid != os.getpid()


def _kill_trainer_of(path: Path) -> None:
    """However a test ends, no trainer it started trains on (the lock file names its holder)."""
    _wait(lambda: not any(p.name.endswith(".partial") for p in path.iterdir()), 10)  # not while it writes
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((path / TRAINING_LOCK_FILE).read_text().split()[0])
        if pid != os.getpid() and is_held(path / TRAINING_LOCK_FILE):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def words(tmp_path: Path) -> Path:
    return write_text(tmp_path / "words.txt", 3000)


@pytest.fixture
def headless_run(tmp_path: Path, words: Path) -> Iterator[Path]:
    """`tuirnn train` in another process, training a run named `live` for long enough."""
    models = tmp_path / "models"
    command = [sys.executable, "-m", "tuirnn", "--models-dir", str(models), "--data-dir", str(tmp_path / "data"),
               "train", "--corpus", str(words), "--preset", "tiny", "--max-steps", "200000", "--eval-every", "100",
               "--log-every", "10", "--device", "cpu", "--name", "live"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=env)
    path = models / "live"
    try:
        _wait(lambda: read_live(path) is not None and (path / "metrics.jsonl").exists())
        yield path
    finally:
        process.kill()
        process.wait(timeout=30)


def test_a_new_app_offers_a_live_run_and_its_keys_steer_it(tmp_path: Path, headless_run: Path) -> None:
    app = make_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert "live is training in another process" in app.screen.question
            await pilot.press("y")
            await wait_for(pilot, lambda: app.feed.steps and app.feed.message.startswith("attached to live"))
            assert isinstance(app.screen, TrainScreen) and app.feed.status == "training"
            assert app.feed.steps[:3] == [1, 2, 5]  # the whole history, from before the attach
            await pilot.press("p")
            await wait_for(pilot, lambda: app.feed.status == "paused", timeout=30)
            await pilot.press("p")
            await wait_for(pilot, lambda: app.feed.status == "training", timeout=30)
            await pilot.press("x")
            await wait_for(pilot, lambda: app.feed.status == "stopped", timeout=60)
            assert "stopped at step" in app.feed.message

    asyncio.run(scenario())
    run = RunDir.open(headless_run)
    assert run.info["status"] == "stopped" and not is_held(headless_run / TRAINING_LOCK_FILE)


def test_the_runs_screen_attaches_to_a_live_run_and_quitting_leaves_it_training(tmp_path: Path,
                                                                                  headless_run: Path) -> None:
    app = make_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("n", "4")
            await wait_for(pilot, lambda: app.current_mode == "runs")
            live_line = app.screen.query_one("#runs-live", Static)
            await wait_for(pilot, lambda: "live: pid " in str(live_line.render()))
            assert "chars/s" in str(live_line.render()) and "heartbeat" in str(live_line.render())
            await pilot.press("a")
            await wait_for(pilot, lambda: app.current_mode == "train" and app.feed.steps)
            await pilot.press("q")  # nothing trains here: quitting asks nothing and touches nothing
            await pilot.pause()

    asyncio.run(scenario())
    assert app.return_code == 0
    step = read_live(headless_run).step  # type: ignore[union-attr]
    _wait(lambda: read_live(headless_run).step > step)  # type: ignore[union-attr]


def test_the_cli_stops_a_run_another_process_trains(headless_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = main_in_process(capsys, "--models-dir", headless_run.parent, "stop", "live", "--timeout", "60")
    assert result.rc == 0 and result.stdout.startswith("live: stopped at step ")
    run = RunDir.open(headless_run)
    assert run.info["status"] == "stopped" and load_checkpoint(run.latest_path).step == run.info["step"]


def test_a_killed_trainer_leaves_an_interrupted_run_that_commands_do_not_reach(
        headless_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pid = int((headless_run / TRAINING_LOCK_FILE).read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    _wait(lambda: not is_held(headless_run / TRAINING_LOCK_FILE))
    listed = main_in_process(capsys, "--models-dir", headless_run.parent, "runs")
    assert " interrupted " in listed.stdout and "live:" not in listed.stdout
    result = main_in_process(capsys, "--models-dir", headless_run.parent, "pause", "live")
    assert result.rc == 1 and "live is not training (status: interrupted)" in result.error_line()


def long_run_app(tmp_path: Path, words: Path) -> TuirnnApp:
    return make_app(tmp_path, tiny_config(words, max_steps=100_000, eval_every=200, sample_every=0, log_every=10))


async def start_training(pilot: Pilot[int], app: TuirnnApp) -> Path:
    """Press s and wait for the first steps; the run's directory."""
    await pilot.press("s")
    await wait_for(pilot, lambda: app.feed.status == "training" and app.feed.steps)
    assert app.feed.run_dir is not None
    return app.feed.run_dir


def test_d_hands_the_run_to_a_detached_trainer_and_follows_it(tmp_path: Path, words: Path) -> None:
    app = long_run_app(tmp_path, words)
    run_path: list[Path] = []

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            run_path.append(await start_training(pilot, app))
            try:
                await pilot.press("d")
                await wait_for(pilot, lambda: app.attachment.following and _trained_elsewhere(run_path[0]), 120)
                assert app.trainer is None  # this process trains nothing now
                steps = len(app.feed.steps)
                await wait_for(pilot, lambda: len(app.feed.steps) > steps, 30)  # the dashboard follows
                await pilot.press("x")
                await wait_for(pilot, lambda: app.feed.status == "stopped", 60)
            finally:
                _kill_trainer_of(run_path[0])

    asyncio.run(scenario())
    run = RunDir.open(run_path[0])
    assert run.info["status"] == "stopped"
    assert "detached trainer: " in (run_path[0] / "train.log").read_text()


def test_the_quit_dialog_can_detach_and_the_run_trains_on_after_the_app(tmp_path: Path, words: Path) -> None:
    app = long_run_app(tmp_path, words)
    run_path: list[Path] = []

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            run_path.append(await start_training(pilot, app))
            await pilot.press("q")
            await wait_for(pilot, lambda: isinstance(app.screen, QuitScreen))
            assert app.screen.focused is app.screen.query_one("#cancel", Button)  # Enter would change nothing
            await pilot.press("d")
            await wait_for(pilot, lambda: app.return_code is not None, 120)

    try:
        asyncio.run(scenario())
        assert app.return_code == 0
        _wait(lambda: _trained_elsewhere(run_path[0]))
        step = read_live(run_path[0]).step  # type: ignore[union-attr]
        _wait(lambda: read_live(run_path[0]).step > step)  # type: ignore[union-attr]
    finally:
        _kill_trainer_of(run_path[0])


def finished_looking_run(models: Path) -> Path:
    """A run's files as a trainer leaves them, written here so the picture never changes."""
    vocab = Vocabulary(sorted(set("the quick brown fox jumps over a lazy dog.\n")))
    config = RunConfig()
    run = RunDir.create(models / "nietzsche-lstm2x384-20261130-010203", config, vocab,
                        {"corpus": "nietzsche", "device": "cpu (2 threads)"})
    for step in range(10, 410, 10):
        loss = 3.2 * 0.993 ** step + 1.3
        run.append_metrics({"step": step, "epoch": step / 130, "loss": loss, "last_loss": loss + 0.02, "lr": 4e-3,
                            "grad_norm": 0.8, "chars_per_s": 21000.0, "time": 0.0})
        if step % 100 == 0:
            run.append_metrics({"step": step, "val_loss": loss + 0.05, "val_bpc": (loss + 0.05) / 0.6931})
    for step in (100, 200, 300, 400):
        run.append_sample({"step": step, "prompt": "The ", "seed": 0, "text": "The quick brown fox jumps. " * 3})
    run.update_info(status="completed", step=400, best_val_loss=1.5, finished=0.0)
    (run.path / "run.json").write_text(json.dumps(run.info))
    return run.path


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_snapshot_attached_to_a_finished_run(tmp_path: Path, snap_compare, size: tuple[int, int]) -> None:
    path = finished_looking_run(tmp_path / "models")

    async def attach(pilot) -> None:  # type: ignore[no-untyped-def]
        pilot.app.attach_run(path)
        await wait_for(pilot, lambda: pilot.app.feed.status == "completed")
        await pilot.pause()

    assert snap_compare(make_app(tmp_path), terminal_size=size, run_before=attach)

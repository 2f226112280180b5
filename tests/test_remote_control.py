"""Steering a run from outside its process: commands through the run's control directory, the heartbeat,
and following a run from its files. The trainer runs on a thread here (the channel is files: a thread of
this process is, to it, just another writer); tests/test_detach.py does the same across real processes."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers import main_in_process, tiny_config, write_text

from tuirnn.catalog import open_corpus
from tuirnn.checkpoint import load_checkpoint
from tuirnn.corpus import Corpus
from tuirnn.events import Evaluated, Finished, Paused, Resumed, Sampled, Started, StepMetrics
from tuirnn.launch import create_run, plan_run
from tuirnn.live import LIVE_FILE, read_live
from tuirnn.remote_control import CONTROL_DIR, NotTraining, send_command
from tuirnn.run_follow import RunFollower
from tuirnn.runs import TRAINING_LOCK_FILE, RunDir
from tuirnn.training import Trainer


def wait(condition: Callable[[], object], timeout: float = 30.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def logged_steps(run: Path) -> int:
    return sum(1 for record in RunDir.open(run).metrics() if "loss" in record)


@pytest.fixture
def words(tmp_path: Path) -> Path:
    return write_text(tmp_path / "words.txt", 3000)


@pytest.fixture
def corpus(words: Path, tmp_path: Path) -> Corpus:
    return open_corpus(str(words), tmp_path / "data")


@pytest.fixture
def live_run(tmp_path: Path, words: Path) -> Iterator[Path]:
    """A run training on a thread of this process, with steps enough to outlast any test."""
    config = tiny_config(words, max_steps=1_000_000, eval_every=50, sample_every=0, log_every=5)
    launch = create_run(plan_run(config, tmp_path / "data"), tmp_path / "models" / "live")
    trainer = Trainer(launch.config, launch.corpus, launch.run)
    thread = threading.Thread(target=trainer.run, daemon=True)
    thread.start()
    wait(lambda: getattr(read_live(launch.run.path), "step", 0) > 0, what="the first steps in the heartbeat")
    yield launch.run.path
    trainer.control.stop()
    thread.join(timeout=30)


def test_pause_save_unpause_and_stop_are_answered_once_they_took_effect(live_run: Path) -> None:
    paused = send_command(live_run, "pause")
    assert paused.ok and paused.message.startswith("paused at step ")
    live = read_live(live_run)
    assert live is not None and live.status == "paused" and live.pid == os.getpid()
    steps = logged_steps(live_run)
    time.sleep(0.5)
    assert logged_steps(live_run) == steps  # paused means paused
    assert send_command(live_run, "pause").message.startswith("already paused")

    saved = send_command(live_run, "save")  # a save while paused wakes the wait, saves, stays paused
    step = int(saved.message.removeprefix("checkpoint saved at step ").replace(",", ""))
    assert saved.ok and load_checkpoint(live_run / "latest.safetensors").step == step
    assert read_live(live_run).status == "paused"  # type: ignore[union-attr]

    assert send_command(live_run, "unpause").message.startswith("training again from step ")
    wait(lambda: logged_steps(live_run) > steps, what="training to go on")

    stopped = send_command(live_run, "stop")
    assert stopped.ok and stopped.message.startswith("stopped at step ") and "status: stopped" in stopped.message
    run = RunDir.open(live_run)
    assert run.info["status"] == "stopped"
    assert load_checkpoint(run.latest_path).step == run.info["step"]
    assert not (live_run / LIVE_FILE).exists() and read_live(live_run) is None
    assert not (live_run / TRAINING_LOCK_FILE).exists()
    inbox = live_run / CONTROL_DIR  # removed at the end unless the last answer was still being read
    assert not inbox.exists() or list(inbox.iterdir()) == []  # no command or answer left behind


def test_the_cli_steers_a_live_run_by_name_and_lists_it_live(live_run: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    models = live_run.parent
    listed = main_in_process(capsys, "--models-dir", models, "runs")
    assert listed.rc == 0 and "running" in listed.stdout
    assert f"live: pid {os.getpid()} on " in listed.stdout and "chars/s" in listed.stdout
    result = main_in_process(capsys, "--models-dir", models, "pause", "live")
    assert result.rc == 0 and result.stdout.startswith("live: paused at step")
    result = main_in_process(capsys, "--models-dir", models, "stop", "live")
    assert result.rc == 0 and "stopped at step" in result.stdout
    again = main_in_process(capsys, "--models-dir", models, "stop", "live")
    assert again.rc == 1 and again.error_line() == "tuirnn: error: live is not training (status: stopped); " \
                                                   "nothing to control"


def test_a_command_to_a_run_nobody_trains_says_so_in_one_line(tmp_path: Path, words: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "models" / "done"
    assert main_in_process(capsys, "train", "--corpus", words, "--preset", "tiny", "--max-steps", "3",
                           "--device", "cpu", "--out", run).rc == 0
    with pytest.raises(NotTraining, match="done is not training \\(status: completed\\)"):
        send_command(run, "save")
    assert not (run / CONTROL_DIR).exists() or not list((run / CONTROL_DIR).iterdir())  # nothing left to act later
    info = json.loads((run / "run.json").read_text())
    info["status"] = "running"  # its trainer died without a word: the lock, not the status, is believed
    (run / "run.json").write_text(json.dumps(info))
    result = main_in_process(capsys, "pause", run)
    assert result.rc == 1 and "done is not training (status: interrupted)" in result.error_line()
    missing = main_in_process(capsys, "stop", tmp_path / "nowhere")
    assert missing.rc == 2 and "no run directory" in missing.error_line()


def test_unknown_or_damaged_commands_are_ignored_or_refused(live_run: Path) -> None:
    inbox = live_run / CONTROL_DIR
    (inbox / "junk.cmd").write_text("not json")  # a name that is not an id, and text that is not JSON
    (inbox / ("a" * 32 + ".cmd")).write_bytes(b"{" * 5000)  # too big to be a command
    wait(lambda: not list(inbox.glob("*.cmd")), what="the trainer to clear its inbox")
    assert not list(inbox.glob("*.ack"))  # nothing answered, nothing done
    assert read_live(live_run).status == "training"  # type: ignore[union-attr]
    with pytest.raises(Exception, match="unknown command"):
        send_command(live_run, "explode")


def test_a_planted_symlink_turns_remote_control_off_but_not_training(tmp_path: Path, words: Path) -> None:
    config = tiny_config(words, max_steps=30, eval_every=0, sample_every=0)
    launch = create_run(plan_run(config, tmp_path / "data"), tmp_path / "run")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (launch.run.path / CONTROL_DIR).symlink_to(elsewhere)
    result = Trainer(launch.config, launch.corpus, launch.run).run()
    assert isinstance(result, Finished) and result.reason == "completed"
    assert list(elsewhere.iterdir()) == []  # nothing was written through the link


def test_following_a_run_tells_its_history_as_the_trainer_told_it(tmp_path: Path, corpus: Corpus) -> None:
    config = tiny_config(corpus.source, max_steps=40, eval_every=10, sample_every=20, log_every=5)
    launch = create_run(plan_run(config, tmp_path / "data"), tmp_path / "run")
    told: list[object] = []
    trainer = Trainer(launch.config, launch.corpus, launch.run)
    trainer.subscribe(told.append)
    trainer.run()
    restarted, events = RunFollower(launch.run.path).poll()
    assert not restarted and isinstance(events[0], Started)
    for kind in (StepMetrics, Evaluated, Sampled):
        assert [e.step for e in events if isinstance(e, kind)] == [e.step for e in told if isinstance(e, kind)]
    trained = [e for e in told if isinstance(e, StepMetrics)]
    followed = [e for e in events if isinstance(e, StepMetrics)]
    assert [e.loss for e in followed] == pytest.approx([e.loss for e in trained])
    assert [e.best for e in events if isinstance(e, Evaluated)] == [e.best for e in told if isinstance(e, Evaluated)]
    assert isinstance(events[-1], Finished) and events[-1].reason == "completed" and events[-1].step == 40


def test_following_a_live_run_sees_its_pause_and_its_end(live_run: Path) -> None:
    follower = RunFollower(live_run)
    follower.poll()
    send_command(live_run, "pause")
    _, events = follower.poll()
    assert any(isinstance(e, Paused) for e in events)
    send_command(live_run, "unpause")
    _, events = follower.poll()
    assert any(isinstance(e, Resumed) for e in events)
    send_command(live_run, "stop")
    _, events = follower.poll()
    assert isinstance(events[-1], Finished) and events[-1].reason == "stopped" and follower.ended

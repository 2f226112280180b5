"""A run continues where it stopped: `r` on the Train screen after `x`, with the whole history shown; a run
that reached its end is offered as much training again, in the app and on the command line."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers import main_in_process, write_text
from tui_helpers import make_app, tiny_config, wait_for

from tuirnn.runs import RunDir
from tuirnn.tui.screens.confirm import ConfirmScreen


@pytest.fixture
def words(tmp_path: Path) -> Path:
    return write_text(tmp_path / "words.txt", 3000)


def test_r_resumes_the_stopped_run_with_its_whole_history(tmp_path: Path, words: Path) -> None:
    app = make_app(tmp_path, tiny_config(words, max_steps=100_000, eval_every=20, sample_every=0, log_every=2))

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.feed.status == "training" and len(app.feed.steps) > 20)
            await pilot.press("x")
            await wait_for(pilot, lambda: app.feed.status == "stopped")
            assert "r resumes it" in app.feed.message
            stopped_at = RunDir.open(app.feed.run_dir).info["step"]  # type: ignore[arg-type]
            await pilot.press("r")
            await wait_for(pilot, lambda: app.feed.status == "training" and app.feed.latest is not None
                           and app.feed.latest.step > stopped_at)
            assert app.feed.steps[:2] == [1, 2]  # the chart starts at the run's start, not at the resume
            assert app.feed.steps == sorted(set(app.feed.steps))  # and repeats no step
            assert app.feed.val_steps[0] == 20
            await pilot.press("x")
            await wait_for(pilot, lambda: app.feed.status == "stopped")

    asyncio.run(scenario())


def test_a_finished_run_is_offered_as_much_again(tmp_path: Path, words: Path) -> None:
    app = make_app(tmp_path, tiny_config(words, max_steps=30, eval_every=10, sample_every=0, log_every=5))

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.feed.status == "completed")
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            assert "nothing left to train" in app.screen.question and "30 steps more" in app.screen.question
            await pilot.press("y")
            await wait_for(pilot, lambda: app.feed.status == "completed" and app.feed.latest is not None
                           and app.feed.latest.step == 60)

    asyncio.run(scenario())


def test_the_cli_says_why_resuming_a_finished_run_trains_nothing(tmp_path: Path, words: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    flags = ["--corpus", str(words), "--preset", "tiny", "--device", "cpu", "--eval-every", "0"]
    assert main_in_process(capsys, "train", *flags, "--max-steps", "6", "--out", run).rc == 0
    result = main_in_process(capsys, "train", "--resume", run)
    assert result.rc == 0
    assert "run has completed at step 6: nothing left to train; give it more to extend it, e.g. --max-steps 12" \
        in result.stderr
    assert RunDir.open(run).info["step"] == 6
    assert main_in_process(capsys, "train", "--resume", run, "--max-steps", "12").rc == 0
    assert RunDir.open(run).info["step"] == 12


def test_save_now_says_when_the_checkpoint_is_written(tmp_path: Path, words: Path) -> None:
    app = make_app(tmp_path, tiny_config(words, max_steps=100_000, eval_every=0, sample_every=0))

    async def scenario() -> None:
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.feed.status == "training" and app.feed.steps)
            await pilot.press("ctrl+s")

            def toasts() -> str:
                return " ".join(" ".join(str(toast.render()).split()) for toast in app.screen.query("Toast"))

            await wait_for(pilot, lambda: "Checkpoint saved at step" in toasts(), 30)
            await pilot.press("x")
            await wait_for(pilot, lambda: app.feed.status == "stopped")

    asyncio.run(scenario())


def test_the_train_chart_draws_what_counting_alone_reaches(tmp_path: Path, words: Path) -> None:
    from tuirnn.catalog import open_corpus
    from tuirnn.inspection.baseline import ngram_baselines
    from tuirnn.tui.widgets.loss_chart import LossChart

    app = make_app(tmp_path, tiny_config(words, max_steps=100_000, eval_every=0, sample_every=0))
    expected = min(ngram_baselines(open_corpus(str(words), tmp_path / "data")).items(), key=lambda item: item[1])

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("s")
            await wait_for(pilot, lambda: app.feed.baseline is not None and len(app.feed.steps) > 2)
            assert app.feed.baseline == pytest.approx(expected)
            await pilot.pause(0.5)
            (line,) = [c for c in app.screen.query_one(LossChart)._curves if c.label.endswith("-gram")]
            assert line.label == f"{expected[0]}-gram" and list(line.values) == pytest.approx([expected[1]] * 2)
            await pilot.press("x")
            await wait_for(pilot, lambda: app.feed.status == "stopped")

    asyncio.run(scenario())

"""Edge cases: empty charts, long-running sample feeds, damaged run listings, non-finite settings."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tuirnn.config import RunConfig, set_field, validation_errors
from tuirnn.corpus import Vocabulary
from tuirnn.events import Sampled, TrainingControl
from tuirnn.runs import RunDir, list_runs
from tuirnn.tui.app import TuirnnApp
from tuirnn.tui.feed import MAX_SAMPLES, TrainingFeed
from tuirnn.tui.widgets.sample_pane import SamplePane


def test_log_scale_before_any_curve_keeps_the_app_running(tmp_path: Path) -> None:
    app = TuirnnApp(tmp_path / "models", tmp_path / "data", preload_torch=False)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("l")
            await pilot.pause(0.2)
            assert app.is_running and app.screen.query_one("#loss-chart").log_scale

    asyncio.run(scenario())


def test_sample_pane_shows_the_newest_sample_after_the_feed_is_full(tmp_path: Path) -> None:
    feed = TrainingFeed(lambda event: None)
    app = TuirnnApp(tmp_path / "models", tmp_path / "data", preload_torch=False)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            pane = app.screen.query_one(SamplePane)
            for step in range(MAX_SAMPLES + 5):
                feed(Sampled(step, "a", f"text {step}", 0))
                pane.show(feed.samples)
            await pilot.pause()
            shown = str(pane.query_one("#sample-text").render())
            assert f"step {MAX_SAMPLES + 4} " in shown

    asyncio.run(scenario())


def test_a_damaged_run_json_is_skipped_in_listings(tmp_path: Path) -> None:
    vocab = Vocabulary(tuple("ab "))
    RunDir.create(tmp_path / "good", RunConfig(), vocab, {"corpus": "x"})
    bad = RunDir.create(tmp_path / "bad", RunConfig(), vocab, {"corpus": "x"})
    (bad.path / "run.json").write_text("[]")
    worse = RunDir.create(tmp_path / "worse", RunConfig(), vocab, {"corpus": "x"})
    (worse.path / "run.json").write_text(json.dumps({"step": "x"}))
    assert [r.name for r in list_runs(tmp_path)] == ["good"]


def test_non_finite_settings_are_rejected() -> None:
    config = RunConfig()
    set_field(config, "weight_decay", "inf")
    set_field(config, "clip_norm", "nan")
    set_field(config, "dropout", "nan")
    assert {"weight_decay", "clip_norm", "dropout"} <= set(validation_errors(config))


def test_a_save_request_is_taken_exactly_once() -> None:
    control = TrainingControl()
    assert not control.take_save_request()
    control.request_save()
    assert control.take_save_request() and not control.take_save_request()

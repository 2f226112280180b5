"""Helpers shared by the app's tests."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuirnn.config import RunConfig, preset, with_overrides
from tuirnn.events import Evaluated, Sampled, Started, StepMetrics
from tuirnn.tui.app import TuirnnApp


def make_app(tmp_path: Path, config: RunConfig | None = None, models: Path | None = None) -> TuirnnApp:
    """The app as the tests drive it: runs in `models` (default tmp_path/models), corpora in tmp_path/data,
    torch imported when first needed rather than after the first frame."""
    return TuirnnApp(models or tmp_path / "models", tmp_path / "data", config=config, preload_torch=False)


async def wait_for(pilot: Any, condition: Callable[[], object], timeout: float = 60.0) -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def tiny_config(corpus: Path, **overrides: object) -> RunConfig:
    settings = {"corpus": str(corpus), "hidden_size": 16, "embedding_size": 8, "seq_len": 32, "batch_size": 16,
                "max_steps": 400, "eval_every": 20, "sample_every": 20, "sample_length": 40, "log_every": 2,
                "device": "cpu"}
    settings.update(overrides)
    return with_overrides(preset("tiny"), settings)


def feed_run(app: TuirnnApp, last_step: int = 600) -> None:
    """A deterministic history: a run 60% done, losses falling, validations and samples every 200 steps."""
    feed = app.feed
    feed.status = "training"
    feed(Started(Path("models/demo-lstm2x256"), "cpu", 842_324, "nietzsche (600,901 chars, 85 distinct)",
                 0, 1000, 210, 6400))
    for step in range(10, last_step + 1, 10):
        loss = 1.2 + 3.0 * math.exp(-step / 120)
        feed(StepMetrics(step, 1000, step / 210, loss, loss + 0.03, 2e-3, 0.8, 51_234.0, 12.0, 331.0, None))
        if step % 200 == 0:
            feed(Evaluated(step, loss + 0.1, (loss + 0.1) / math.log(2), True))
            feed(Sampled(step, "The ", f"sample text at step {step}: the free spirit and the philosopher.", 0))
    feed.message = "training on cpu"

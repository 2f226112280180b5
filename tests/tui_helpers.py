"""Helpers shared by the app's tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuirnn.config import RunConfig, preset, with_overrides
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

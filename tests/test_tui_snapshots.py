"""SVG snapshots of the train, generate and help screens at 80x24 and 120x40, from fixed data."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tuirnn.events import Evaluated, Sampled, Started, StepMetrics
from tuirnn.tui.app import TuirnnApp

SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def fixed_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The theme follows the terminal's colour support; pin it so snapshots do not depend on the host."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("COLORTERM", raising=False)


def app_for(tmp_path: Path) -> TuirnnApp:
    return TuirnnApp(tmp_path / "models", tmp_path / "data", preload_torch=False)


def feed_fixed_run(app: TuirnnApp) -> None:
    """A deterministic history: the curve of a run that is 60% done."""
    feed = app.feed
    feed.status = "training"
    feed(Started(Path("models/demo-lstm2x256"), "cpu", 842_324, "nietzsche (600,901 chars, 85 distinct)",
                 0, 1000, 210, 6400))
    for step in range(10, 610, 10):
        loss = 1.2 + 3.0 * math.exp(-step / 120)
        feed(StepMetrics(step, 1000, step / 210, loss, loss + 0.03, 2e-3, 0.8, 51_234.0, 12.0, 331.0, None))
        if step % 200 == 0:
            feed(Evaluated(step, loss + 0.1, (loss + 0.1) / math.log(2), True))
            feed(Sampled(step, "The ", f"sample text at step {step}: the free spirit and the philosopher.", 0))
    feed.message = "training on cpu"


@pytest.mark.parametrize("size", SIZES)
def test_train_screen_idle(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_train_screen_with_history(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = app_for(tmp_path)

    async def run_before(pilot) -> None:
        feed_fixed_run(app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_generate_screen_empty(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size, press=["3"])


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size, press=["f1"])

"""SVG snapshots of the train, generate and help screens at 80x24 and 120x40, from fixed data."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import feed_run

from tuirnn.tui.app import TuirnnApp

SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def fixed_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The theme follows the terminal's colour support; pin it so snapshots do not depend on the host."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("COLORTERM", raising=False)


def app_for(tmp_path: Path) -> TuirnnApp:
    return TuirnnApp(tmp_path / "models", tmp_path / "data", preload_torch=False)


@pytest.mark.parametrize("size", SIZES)
def test_train_screen_idle(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_train_screen_with_history(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    app = app_for(tmp_path)

    async def run_before(pilot) -> None:
        feed_run(app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_generate_screen_empty(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size, press=["3"])


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(tmp_path), terminal_size=size, press=["f1"])

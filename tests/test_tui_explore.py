"""The Explore screen driven by keys: it records a run over its corpus, moves between units, layers, quantities
and views, finds the planted quote unit, takes typed text only after /, and draws at 80x24 and 120x40.

Until the app wires the screen in (mode "explore", keys 6 and F7), `open_explore` pushes it; then it becomes a
key press."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from inspect_helpers import PLANTED_UNIT, planted_run
from tui_helpers import make_app, wait_for

from tuirnn.inspection.probes import SPAN
from tuirnn.tui.app import TuirnnApp
from tuirnn.tui.screens.explore.render import BLOCKS
from tuirnn.tui.screens.explore.screen import ExploreScreen
from tuirnn.tui.screens.help import HelpScreen

SIZES = [(80, 24), (120, 40)]


async def open_explore(pilot) -> ExploreScreen:
    """Show the Explore screen and wait for its first recording and ranking."""
    app = pilot.app
    if "explore" in app.MODES:
        await pilot.press("6")
    else:
        app.push_screen(ExploreScreen())
    await wait_for(pilot, lambda: isinstance(app.screen, ExploreScreen) and app.screen.result is not None)
    screen = app.screen
    await wait_for(pilot, lambda: screen.scores or screen.rank_note not in ("", "ranking..."))
    return screen


@pytest.fixture
def app(tmp_path: Path) -> TuirnnApp:
    planted_run(tmp_path, 3000)
    return make_app(tmp_path)


def test_keys_move_between_units_layers_quantities_and_views(app: TuirnnApp) -> None:
    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_explore(pilot)
            result = screen.result
            assert result is not None
            assert result.where == "words @2,700" and len(result.recording) == 300
            assert sorted(result.baselines or {}) == [1, 2, 3, 4, 5]
            assert (screen.layer_index, screen.quantity, screen.unit, screen.view) == (0, "h", 0, "activations")
            await pilot.press("u", "u", "U", "y", "v", "v")
            assert (screen.layer_index, screen.quantity, screen.unit) == (1, "input", 1)
            await pilot.press("Y", "V", "V")
            assert (screen.layer_index, screen.quantity) == (0, "h")
            await pilot.press("right", "right", "down", "end")
            assert screen.cursor == 299
            await pilot.press("home", "right")
            assert screen.cursor == 1
            await pilot.press("right_square_bracket")
            assert screen.view == "surprise"
            await pilot.press("right_square_bracket", "right_square_bracket")
            assert screen.view == "gates"
            await pilot.press("right_square_bracket")
            await wait_for(pilot, lambda: len(screen.samples) == 4)
            assert screen.query_one("#exp-text-box").border_title.startswith("temperatures (5/5")
            await pilot.press("right_square_bracket")
            assert screen.view == "activations"
            await pilot.press("left_square_bracket")
            assert screen.view == "temperatures"

    asyncio.run(scenario())


def test_the_unit_finder_ranks_the_planted_unit_and_jumps_to_it(app: TuirnnApp) -> None:
    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_explore(pilot)
            await pilot.press("right_square_bracket", "right_square_bracket")
            assert screen.view == "units" and screen.probe == "quotes"
            best = screen.scores[0]
            assert (best.layer, best.quantity, best.unit) == (0, "h", PLANTED_UNIT)
            panel = screen._units_panel(80)
            assert f"L1 h[{PLANTED_UNIT}]" in panel.plain and any(block in panel.plain for block in BLOCKS)
            await pilot.press("u", "U", "enter")
            shown = (screen.view, screen.layer_index, screen.quantity, screen.unit)
            assert shown == ("activations", 0, "h", PLANTED_UNIT)
            await pilot.press("f")
            await wait_for(pilot, lambda: screen.rank_note != "ranking...")
            assert screen.probe == "brackets" and screen.scores == [] and "never changes" in screen.rank_note
            await pilot.press("f")
            await wait_for(pilot, lambda: screen.scores)
            assert screen.probe == "line" and screen.scores[0].on_share is None

    asyncio.run(scenario())


def test_a_marked_span_becomes_the_probe(app: TuirnnApp) -> None:
    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_explore(pilot)
            await pilot.press("right", "right", "m", *["right"] * 10, "m")
            assert screen.span == (2, 13) and screen.probe == SPAN and screen.view == "units"
            await wait_for(pilot, lambda: screen.scores and screen.rank_key[1] == SPAN)
            assert screen.scores[0].on_share is not None

    asyncio.run(scenario())


def test_typed_text_only_after_i(app: TuirnnApp) -> None:
    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_explore(pilot)
            field = screen.query_one("#exp-typed")
            await pilot.press("u", "w", "tab", "tab", "x")
            assert field.value == "" and screen.focused is not field  # keys, not text: Tab does not reach it
            await pilot.press("i")
            assert screen.focused is field
            await pilot.press(*"the will", "enter")
            assert screen.focused is not field
            await wait_for(pilot, lambda: screen.result is not None and screen.result.recording.text == "the will")
            assert screen.source == "typed" and screen.result.where == "typed text"
            await pilot.press("i", "x", "escape")
            assert screen.focused is not field and field.value == "x"  # focusing selects the old text
            await pilot.press("e")  # typed -> corpus
            await wait_for(pilot, lambda: screen.result is not None and screen.result.where.startswith("words"))
            await pilot.press("pageup")
            await wait_for(pilot, lambda: screen.result is not None and screen.result.offset == 1700)
            await pilot.press("minus")
            await wait_for(pilot, lambda: screen.result is not None and len(screen.result.recording) == 500)

    asyncio.run(scenario())


def test_generated_text_comes_from_the_generate_screen(app: TuirnnApp) -> None:
    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("3")
            await pilot.press("i", *"The", "enter")
            generate = app.screen
            await wait_for(pilot, lambda: len(generate.generated) == generate.settings.length)
            wanted = generate.text()[-1000:]
            screen = await open_explore(pilot)
            await pilot.press("e")
            assert screen.source == "generated"
            await wait_for(pilot, lambda: screen.result is not None and screen.result.where == "generated text")
            assert screen.result.recording.text == wanted

    asyncio.run(scenario())


def test_no_run_says_what_to_do(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            app.push_screen(ExploreScreen())
            await pilot.pause()
            assert app.screen.run_path is None and app.screen.result is None

    asyncio.run(scenario())


def test_help_lists_every_explore_key(app: TuirnnApp) -> None:
    assert all(binding.description for binding in ExploreScreen.BINDINGS)
    async def scenario() -> None:
        async with app.run_test(size=(100, 40)) as pilot:
            await open_explore(pilot)
            await pilot.press("f1")
            assert isinstance(app.screen, HelpScreen)
            table = app.screen._table()
            actions = table.columns[1]._cells
            for description in ("Next view", "Previous view", "Next unit", "Mark span (probe)", "Type a text"):
                assert description in actions

    asyncio.run(scenario())


def test_ascii_and_sixteen_colours(tmp_path: Path) -> None:
    planted_run(tmp_path, 3000)
    app = TuirnnApp(tmp_path / "models", tmp_path / "data", preload_torch=False, ascii_output=True)
    app.theme = "ansi-dark"
    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_explore(pilot)
            await pilot.press("right_square_bracket", "right_square_bracket")
            panel = screen._units_panel(80).plain
            assert panel.isascii() or not any(block in panel for block in BLOCKS)
            await pilot.press("left_square_bracket", "left_square_bracket")
            styles = [span.style for span in screen._side().renderables[0].spans if span.style]
            assert {style.bgcolor.number for style in styles} == {4, 12, 9, 1}  # blue .. red, among the 16
            assert all(style.color.number in (0, 15) for style in styles)  # black or white text on them

    asyncio.run(scenario())


# ----- snapshots ---------------------------------------------------------------------------------------------
VIEW_KEYS = {"a": [], "s": ["right_square_bracket"], "u": ["right_square_bracket"] * 2}
@pytest.fixture
def fixed_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The theme follows the terminal's colour support; pin it so snapshots do not depend on the host."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("COLORTERM", raising=False)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("view", ["a", "u", "s"])  # activations, units, surprise: the keys in VIEW_KEYS
def test_explore_snapshot(snap_compare, fixed_terminal: None, tmp_path: Path, size: tuple[int, int],
                          view: str) -> None:
    planted_run(tmp_path, 3000)
    app = make_app(tmp_path)

    async def run_before(pilot) -> None:
        screen = await open_explore(pilot)
        await pilot.press(*VIEW_KEYS[view], *["right"] * 5)
        await pilot.pause()
        assert screen.result is not None

    assert snap_compare(app, terminal_size=size, run_before=run_before)

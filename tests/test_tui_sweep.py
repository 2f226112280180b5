"""The Sweep screen, driven by keys: a tiny grid run to the end, stop and resume, a sweep the app started
before the screen was first shown, results from a saved sweep and snapshots of its panels; the heatmap
widget and the sweep feed on their own. Trials are tiny (GRU 8-16 hidden, seq 16, batch 8, 10 steps) on a
generated text, so most of the time is the trial processes' start-up."""

from __future__ import annotations

import asyncio
import colorsys
import json
import math
import multiprocessing
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers import tiny_config
from rich.style import Style
from textual.widgets import TabbedContent, TextArea
from tui_helpers import make_app, wait_for

from tuirnn.sweeps.axes_text import value_label
from tuirnn.sweeps.definition import Axis, SweepDefinition, describe_point, load_sweep, sweep_preset
from tuirnn.sweeps.events import TrialEnded, TrialProgress
from tuirnn.sweeps.start import SweepPlan
from tuirnn.sweeps.sweepdir import SweepDir
from tuirnn.tui.app import TuirnnApp
from tuirnn.tui.feed import SweepFeed
from tuirnn.tui.screens.generate import GenerateScreen
from tuirnn.tui.screens.sweep.screen import SweepScreen
from tuirnn.tui.screens.sweep.trials import QUEUED, TrialTable
from tuirnn.tui.widgets.heatmap import (
    BEST,
    CELL_WIDTH,
    FAILED,
    MISSING,
    Heatmap,
    HeatmapData,
    cell_size,
    format_value,
    render_heatmap,
)


def lightness(color: Any) -> float:
    """HLS lightness, 0 to 1: the scale runs from light (best) to dark (worst)."""
    r, g, b = color.get_truecolor()
    return colorsys.rgb_to_hls(r / 255, g / 255, b / 255)[1]

SIZE = (80, 24)
SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def full_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app picks its theme from the terminal; pin the full-colour one."""
    monkeypatch.setenv("COLORTERM", "truecolor")


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    rng = random.Random(0)
    words = ["the", "model", "learns", "a", "sequence", "of", "characters", "and", "predicts", "next", "one"]
    path = tmp_path / "text.txt"
    path.write_text(" ".join(rng.choice(words) for _ in range(3000)) + "\n", encoding="utf-8")
    return path


async def focus(app: TuirnnApp, pilot: Any, widget_id: str) -> None:
    while app.focused is None or app.focused.id != widget_id:
        await pilot.press("tab")


async def set_up(app: TuirnnApp, pilot: Any, axes: list[str], **fields: str) -> None:
    """Type the axes (replacing the default ones) and the given number fields of the Setup panel."""
    await focus(app, pilot, "axes")
    # select every line (F7, the text area's own select-all, switches screens like every F-key), so that
    # typing replaces the default axes
    await pilot.press(*["up"] * 10, "home", *["shift+down"] * 10, "shift+end")
    for number, line in enumerate(axes):
        await pilot.press(*(["enter"] if number else []), *line)
    for field, value in fields.items():
        await focus(app, pilot, field)
        await pilot.press(*value)


def statuses(screen: SweepScreen) -> list[str]:
    """The started trials' statuses (a grid's trials not started yet are listed after them, as `queued`)."""
    table = screen.query_one(TrialTable)
    return [table.get_cell(key, "status").plain for key in table.rows if not str(key.value).startswith(QUEUED)]


def waiting(screen: SweepScreen) -> list[str]:
    """The axis values of a grid's trials listed as not started yet."""
    table = screen.query_one(TrialTable)
    return [str(table.get_row(key)[1]).strip() for key in table.rows if str(key.value).startswith(QUEUED)]


# ----- the screen, driven by keys ----------------------------------------------------------------------


def test_key_5_opens_the_sweep_screen_with_a_checked_default_setup(tmp_path: Path, text_file: Path) -> None:
    app = make_app(tmp_path, tiny_config(text_file))

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            screen = app.screen
            assert isinstance(screen, SweepScreen)
            await wait_for(pilot, lambda: screen.setup.checked is not None)
            checks = str(screen.query_one("#setup-checks").render())
            assert "✓ 4 trials, grid" in checks and "steps in all" in checks
            await set_up(app, pilot, ["lr=1..0"])
            await pilot.pause(0.1)
            assert "axes line 1: axis lr: a range needs" in str(screen.query_one("#setup-checks").render())
            await pilot.press("ctrl+t")
            assert not (tmp_path / "models" / "sweeps").exists()

    asyncio.run(scenario())


def test_the_setup_saves_as_a_sweep_file_and_f_keys_leave_the_axes_box(tmp_path: Path, text_file: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the path prompt offers NAME.toml here
    app = make_app(tmp_path, tiny_config(text_file))

    async def scenario() -> None:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.press("5")
            screen = app.screen
            assert isinstance(screen, SweepScreen)
            await set_up(app, pilot, ["lr=.01,.003"])
            await wait_for(pilot, lambda: screen.setup.plan is not None and screen.setup.checked is not None)
            planned = screen.setup.plan.definition
            await pilot.press("ctrl+s")
            await pilot.pause()
            await pilot.press("enter")  # the offered NAME.toml
            await wait_for(pilot, lambda: (tmp_path / f"{planned.name}.toml").exists())
            assert load_sweep(tmp_path / f"{planned.name}.toml").to_dict() == planned.to_dict()
            await focus(app, pilot, "axes")
            await pilot.press("f7")  # an F-key switches screens even from the text area
            assert app.current_mode == "explore"

    asyncio.run(scenario())


def test_tiny_grid_runs_to_the_end_and_shows_its_results(tmp_path: Path, text_file: Path) -> None:
    config = tiny_config(text_file, hidden_size=8, max_steps=100, eval_every=5, sample_every=5)
    app = make_app(tmp_path, config)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            screen = app.screen
            assert isinstance(screen, SweepScreen)
            await set_up(app, pilot, ["hidden_size=8,16", "lr=.01,.003"], max_steps="10", workers="2")
            await pilot.press("ctrl+t")
            assert screen.running and screen.query_one(TabbedContent).active == "panel-trials"
            await wait_for(pilot, lambda: not screen.running)
            assert statuses(screen) == ["done"] * 4
            assert all(record.step == 10 for record in screen.sweep.trials)

            await pilot.press("right_square_bracket")
            heatmap = screen.query_one(Heatmap)
            data = heatmap.data
            assert data is not None and data.best is not None
            assert (data.row_axis, data.col_axis) == ("hidden_size", "lr") and len(data.values) == 4
            shown = heatmap.render().plain
            assert shown.count(BEST) == 2  # the best cell and the legend's "★ best"
            best = screen.sweep.find(data.names[data.best].split(":")[0])
            assert f"{BEST}{format_value(best.val_loss)}" in shown

            await pilot.press("v")
            switched = heatmap.data
            assert switched.title.startswith("final training loss")
            assert set(switched.values.values()) == {r.last_loss for r in screen.sweep.trials}
            assert switched.values != data.values
            await pilot.press("w")
            assert (heatmap.data.row_axis, heatmap.data.col_axis) == ("lr", "hidden_size")

            await pilot.press("right_square_bracket", "right_square_bracket")
            await pilot.pause(0.2)
            assert "step 10" in screen.query_one("#best-sample-text").render().plain

            await pilot.press(*["right_square_bracket"] * 2)  # on through the setup panel, whose form
            assert screen.query_one(TabbedContent).active == "panel-trials"  # the panel keys never enter
            await pilot.press("enter")
            generate = app.screen
            assert isinstance(generate, GenerateScreen)
            await pilot.pause()
            trial = screen.sweep.trial_path(screen.sweep.trials[0])
            assert generate.run_path == trial and generate.query_one("#gen-run").value == str(trial)

    asyncio.run(scenario())


def test_stop_requeues_the_running_trial_resume_continues_it_and_quitting_stops_it(
        tmp_path: Path, text_file: Path) -> None:
    config = tiny_config(text_file, hidden_size=8, max_steps=1_000_000, log_every=5)
    app = make_app(tmp_path, config)
    sweeps: list[SweepDir] = []

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            screen = app.screen
            assert isinstance(screen, SweepScreen)
            await set_up(app, pilot, ["lr=.01,.003"], workers="1")
            await pilot.press("ctrl+t")
            await wait_for(pilot, lambda: screen.sweep.trials and screen.sweep.trials[0].step > 0)
            await wait_for(pilot, lambda: statuses(screen) == ["running"])
            started = value_label(screen.sweep.trials[0].params["lr"])
            assert waiting(screen) == [v for v in ("0.01", "0.003") if v != started]  # listed before it starts
            await pilot.press("x")
            await wait_for(pilot, lambda: not screen.running)
            assert statuses(screen) == ["queued"]  # the rest never started
            stopped_at = screen.sweep.trials[0].step
            assert stopped_at > 0 and screen.check_action("resume", ()) and "r resumes" in str(
                screen.query_one("#sweep-status").render())

            await pilot.press("r")
            assert screen.running
            await wait_for(pilot, lambda: screen.sweep.trials[0].attempts == 2
                           and screen.sweep.trials[0].step > stopped_at)
            sweeps.append(screen.sweep)
        # leaving the block quits the app with the sweep running

    asyncio.run(scenario())
    assert multiprocessing.active_children() == []
    saved = SweepDir.open(sweeps[0].path)
    assert [record.status for record in saved.trials] == ["queued"]
    assert saved.trials[0].step > 0


def test_the_screen_follows_and_stops_a_sweep_the_app_started_before_it_was_shown(
        tmp_path: Path, text_file: Path) -> None:
    config = tiny_config(text_file, hidden_size=8, max_steps=1_000_000, log_every=5)
    definition = SweepDefinition("early", config, (Axis("lr", (0.01, 0.003)),))
    app = make_app(tmp_path, config)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            sweep = SweepDir.create(tmp_path / "models" / "sweeps" / "early", definition, claim=True)
            app.ensure_torch()
            app.sweeps.start(sweep, SweepPlan(definition, 1, "local"))
            await pilot.press("5")
            screen = app.screen
            assert isinstance(screen, SweepScreen) and screen.sweep is sweep and screen.running
            assert screen.check_action("stop", ()) and not screen.check_action("start", ())
            await wait_for(pilot, lambda: statuses(screen) == ["running"] and sweep.trials[0].step > 0)
            assert "running" in str(screen.query_one("#sweep-status").render())
            await pilot.press("x")
            await wait_for(pilot, lambda: not screen.running)
            assert statuses(screen) == ["queued"]
            assert "r resumes" in str(screen.query_one("#sweep-status").render())

    asyncio.run(scenario())
    assert multiprocessing.active_children() == []


def write_fixed_sweep(models: Path) -> Path:
    """The study's 7x9 grid as a finished-but-stopped sweep, written by hand: no training, fixed numbers."""
    definition = sweep_preset("study-grid").with_base_overrides({"epochs": 2})
    sweep = SweepDir.create(models / "sweeps" / "study-grid-fixed", definition)
    for number, point in enumerate(definition.points()):
        if number >= 60:  # three trials never started
            continue
        record = sweep.add_trial(number, point)
        if number == 17:
            record.status, record.error = "failed", "out of memory"
            continue
        hidden, dropout = point["hidden_size"], point["dropout"]
        record.status, record.step, record.total_steps, record.seconds = "done", 1000, 1000, 100.0
        record.val_loss = 1.25 + 0.25 * (dropout - 0.35) ** 2 + 0.04 * abs(hidden - 640) / 384
        record.best_val_loss = record.val_loss
        record.last_loss = 1.05 + 0.1 * dropout + 0.05 * (1024 - hidden) / 768
    sweep.save()
    sweep.export()
    return sweep.path


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_snapshot_heatmap_of_a_saved_sweep(snap_compare: Callable[..., bool], tmp_path: Path,
                                           size: tuple[int, int]) -> None:
    write_fixed_sweep(tmp_path / "models")
    assert snap_compare(make_app(tmp_path), press=["5", "ctrl+o", "enter"], terminal_size=size)


def write_trial_logs(path: Path) -> None:
    """Logs for the fixed sweep's done trials: a loss curve falling to the trial's last loss, and one sample."""
    sweep = SweepDir.read(path)
    for record in sweep.trials:
        if record.status != "done":
            continue
        trial = sweep.trial_path(record)
        trial.mkdir(parents=True)
        metrics = [{"step": step, "loss": record.last_loss + 2.5 * math.exp(-step / (100 + record.number))}
                   for step in range(50, 1001, 50)]
        (trial / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in metrics))
        sample = {"step": 1000, "prompt": "The ", "seed": 0,
                  "text": f"free spirit of trial {record.id}, {describe_point(record.params)}, says no more."}
        (trial / "samples.jsonl").write_text(json.dumps(sample) + "\n")


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_snapshot_setup_checked(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int]) -> None:
    """The default axes over the app's configuration (the offline corpus, so the cost is the same anywhere)."""
    app = make_app(tmp_path, tiny_config("default"))

    async def run_before(pilot: Any) -> None:
        await pilot.press("5")
        screen = app.screen
        assert isinstance(screen, SweepScreen)
        await wait_for(pilot, lambda: screen.setup.checked is not None)

    assert snap_compare(app, run_before=run_before, terminal_size=size)


@pytest.mark.parametrize("panel", [["left_square_bracket"], ["right_square_bracket"], ["right_square_bracket"] * 2],
                         ids=["trials", "curves", "samples"])  # an opened sweep shows its heatmap
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_snapshot_results_of_a_saved_sweep(snap_compare: Callable[..., bool], tmp_path: Path, size: tuple[int, int],
                                           panel: list[str]) -> None:
    write_trial_logs(write_fixed_sweep(tmp_path / "models"))
    assert snap_compare(make_app(tmp_path), press=["5", "ctrl+o", "enter", *panel], terminal_size=size)


def test_a_saved_sweep_opens_from_the_list_and_one_run_by_another_process_is_not_resumed(tmp_path: Path) -> None:
    path = write_fixed_sweep(tmp_path / "models")
    sweep = SweepDir.open(path)  # holds the sweep's lock, as the process running it would
    sweep.trials[0].status = "running"
    sweep.save()
    app = make_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.press("5", "ctrl+o", "escape")  # the picker cancels and opens nothing
            assert isinstance(app.screen, SweepScreen) and app.screen.sweep is None
            await pilot.press("ctrl+o", "enter")
            screen = app.screen
            assert isinstance(screen, SweepScreen) and screen.sweep is not None
            assert screen.query_one(TabbedContent).active == "panel-heatmap"
            assert len(screen.query_one(Heatmap).data.values) == 58
            assert screen.query_one("#axes", TextArea).text == (
                "hidden_size = 256..1024 step 128\ndropout = 0.1..0.9 step 0.1")
            await pilot.press("r")
            await pilot.pause()
            assert app.screen is screen and not screen.running
            shown = " ".join(" ".join(str(toast.render()).split()) for toast in app.screen.query("Toast"))
            assert "is being run by another process" in shown
            assert json.loads((path / "sweep.json").read_text())["trials"][0]["status"] == "running"  # untouched

    asyncio.run(scenario())


# ----- the heatmap widget ------------------------------------------------------------------------------


def grid(values: dict[tuple[int, int], float], failed: frozenset[tuple[int, int]] = frozenset()) -> HeatmapData:
    return HeatmapData("val loss", "hidden", "dropout", ("256", "512"), ("0.1", "0.2", "0.3"), values, failed,
                       {cell: f"t{cell[0]}{cell[1]}" for cell in values})


def cell_styles(text: Any) -> dict[str, Style]:
    """The style of each coloured cell, by its text."""
    cells = {text.plain[span.start:span.end].strip(): span.style for span in text.spans
             if isinstance(span.style, Style) and span.style.bgcolor is not None}
    return {label: style for label, style in cells.items() if label}


def test_heatmap_stars_the_lowest_value_and_names_its_trial() -> None:
    data = grid({(0, 0): 1.5, (0, 1): 1.25, (1, 2): 1.25, (1, 0): 1.75})
    assert data.best == (0, 1)  # a tie goes to the first cell in reading order
    text = render_heatmap(data)
    assert f"{BEST}1.250" in text.plain and text.plain.count(BEST) == 2
    assert f"{BEST} best 1.2500 t01" in text.plain
    assert cell_styles(text)[f"{BEST}1.250"].bold


def test_heatmap_marks_missing_and_failed_cells_without_colour() -> None:
    text = render_heatmap(grid({(0, 0): 1.5, (1, 1): 1.4}, failed=frozenset({(0, 2)})))
    row_256, row_512 = [line for line in text.plain.splitlines() if line.strip().startswith(("256", "512"))]
    assert row_256.split() == ["256", "1.500", MISSING, FAILED]
    assert row_512.split() == ["512", MISSING, f"{BEST}1.400", MISSING]
    assert set(cell_styles(text)) == {"1.500", f"{BEST}1.400"}
    assert "no results yet" in render_heatmap(grid({})).plain


def test_heatmap_colours_run_from_light_for_good_to_dark_for_bad() -> None:
    styles = cell_styles(render_heatmap(grid({(0, 0): 1.3, (0, 1): 1.1, (0, 2): 1.2, (1, 0): 1.4})))
    by_value = [lightness(styles[label].bgcolor) for label in (f"{BEST}1.100", "1.200", "1.300", "1.400")]
    assert by_value == sorted(by_value, reverse=True) and len(set(by_value)) == 4


def test_study_grid_fits_80_columns_and_grows_on_a_larger_screen() -> None:
    rows = tuple(str(h) for h in range(256, 1025, 128))
    cols = tuple(f"{d / 10:g}" for d in range(1, 10))
    data = HeatmapData("validation loss", "hidden_size", "dropout", rows, cols,
                       {(r, c): 1.2 + r / 100 + c / 1000 for r in range(7) for c in range(9)})
    small = cell_size(data, 76, 17)  # the heatmap box at 80x24
    assert small[0] >= CELL_WIDTH and small[1] == 1
    assert max(map(len, render_heatmap(data, *small).plain.splitlines())) <= 76
    large_width, large_height = cell_size(data, 116, 33)  # at 120x40
    assert large_width > CELL_WIDTH and large_height >= 2
    assert max(map(len, render_heatmap(data, large_width, large_height).plain.splitlines())) <= 116
    assert [format_value(v) for v in (1.23456, 12.3456, 123.456, 12345.6)] == ["1.235", "12.35", "123.5", "12346"]


# ----- the event feed ---------------------------------------------------------------


def test_feed_coalesces_progress_and_announces_trial_ends_at_once() -> None:
    announced: list[int] = []
    feed = SweepFeed(lambda: announced.append(1))
    for step in range(1, 51):
        feed(TrialProgress("t000", step, 50, 2.0, 2.0, 1000.0, 1.0))
    assert len(announced) == 1  # the first, then nothing within the interval
    feed(TrialEnded("t000", "done", 50, 1.9, 2.1, ""))
    assert len(announced) == 2
    progress, events = feed.take()
    assert progress["t000"].step == 50 and events == [TrialEnded("t000", "done", 50, 1.9, 2.1, "")]
    assert feed.take() == ({}, [])

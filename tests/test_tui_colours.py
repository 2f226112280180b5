"""Charts and Generate's read-outs in any terminal (issue #13, items 5 and 6), driven by keys as a user meets
them: in the 256-colour theme, in the 16-colour one (TERM=xterm: the app picks "ansi-dark") and in ASCII.

The screens are read as the terminal gets them (what `App.export_screenshot` prints), segment by segment, so
a test sees the colours a person would. Generation is a fixed fake stream (no torch, no weights); sweeps and
runs are written by hand.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from inspect_helpers import planted_run
from rich.color import Color
from rich.console import Console
from rich.segment import Segment, Segments
from rich.style import Style
from rich.terminal_theme import TerminalTheme
from test_tui_explore import open_explore
from test_tui_runs import make_run
from test_tui_sweep import write_fixed_sweep, write_trial_logs
from textual.app import App
from textual.geometry import Region
from textual.widgets import Checkbox, RadioButton, Sparkline
from tui_helpers import feed_run, make_app, wait_for

from tuirnn.sampling_settings import GeneratedChar, SamplingSettings
from tuirnn.sweeps.definition import sweep_preset
from tuirnn.sweeps.sweepdir import SweepDir
from tuirnn.tui.app import TuirnnApp
from tuirnn.tui.ascii_output import to_ascii
from tuirnn.tui.screens.generate import GenerateScreen
from tuirnn.tui.widgets.chart import ThemedPlot, log_ticks, nice_ticks
from tuirnn.tui.widgets.generated import CONTINUES, ShadedText, ShadeLegend, TopChoices
from tuirnn.tui.widgets.heatmap import ANSI_SCALE, VIRIDIS, Heatmap, rank_shades
from tuirnn.tui.widgets.loss_chart import LossChart
from tuirnn.tui.widgets.trend import Trend

SIZES = [(80, 24), (120, 40)]
TERMINALS = {"256": "xterm-256color", "16": "xterm"}
MIN_CONTRAST = 1.5
"""WCAG contrast ratio below which text reads as drawn in its background's colour (equal colours give 1)."""


@pytest.fixture(params=list(TERMINALS))
def colours(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The terminal's colours, as the app reads them when it starts: 256 colours, or 16 (the ANSI theme)."""
    monkeypatch.setenv("TERM", TERMINALS[request.param])
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    return str(request.param)


# ----- reading the screen --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    x: int
    y: int
    text: str
    style: Style


def screen_cells(app: App[Any]) -> list[Cell]:
    """Every segment on the screen with its position, as `App.export_screenshot` prints them."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      legacy_windows=False)
    update = app.screen._compositor.render_update(full=True)
    cells = []
    for y, line in enumerate(Segment.split_lines(s for s in console.render(update) if not s.control)):
        x = 0
        for segment in line:
            cells.append(Cell(x, y, segment.text, segment.style or Style.null()))
            x += segment.cell_length
    return cells


def text_in(app: App[Any], region: Region) -> list[str]:
    """The screen's text inside `region`, one string a line (a segment counts where it starts)."""
    lines = [""] * region.height
    for cell in screen_cells(app):
        if region.y <= cell.y < region.bottom and region.x <= cell.x < region.right:
            lines[cell.y - region.y] += cell.text
    return lines


def luminance(rgb: tuple[int, int, int]) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = map(linear, rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(style: Style, theme: TerminalTheme) -> float:
    """WCAG contrast of a style's text on its background, ANSI and default colours as `theme` shows them."""
    ink = (style.color or Color.default()).get_truecolor(theme, foreground=True)
    paper = (style.bgcolor or Color.default()).get_truecolor(theme, foreground=False)
    if style.reverse:
        ink, paper = paper, ink
    high, low = sorted((luminance(ink), luminance(paper)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def is_decoration(text: str) -> bool:
    """Lines, borders and tracks (box drawing and block elements), which Textual draws faint on purpose: an
    unfocused field's border, a progress bar's track, the line under inactive tabs."""
    return all("\u2500" <= char <= "\u259f" or char.isspace() for char in text)


def unreadable(app: App[Any]) -> list[str]:
    """Text drawn in (as good as) its background's colour, 'line y, column x: text'; inside charts and
    sparklines every mark counts, their lines and bars being the data. An unchecked box's X is hidden on
    purpose."""
    theme = app.ansi_theme
    data = [widget.content_region for widget in app.screen.query("Chart, Sparkline")]
    unchecked = [box.content_region for box in app.screen.query("Checkbox, RadioButton")
                 if isinstance(box, (Checkbox, RadioButton)) and not box.value]
    return [f"line {c.y}, column {c.x}: {c.text.strip()!r}" for c in screen_cells(app)
            if c.text.strip() and contrast(c.style, theme) < MIN_CONTRAST
            and (not is_decoration(c.text) or any(region.contains(c.x, c.y) for region in data))
            and not (c.text == "X" and any(region.contains(c.x, c.y) for region in unchecked))]


# ----- the screens, with data ------------------------------------------------------------------------------


TEXT = "the free spirit and the philosopher: who knows what he wills? "
PROBABILITIES = (0.93, 0.61, 0.04, 0.45, 0.22, 0.99, 0.81, 0.35, 0.08, 0.72, 0.27, 0.55)
"""A half-trained model's: most characters between unsure and sure, a few unlikely ones."""
TOP = (("e", 0.97), (" ", 0.02), ("\n", 0.006), ("a", 0.003), ("o", 0.001))


class FakeGenerator:
    """Stands in for a run's weights: the same characters and probabilities for every draw."""

    origin = None
    device = SimpleNamespace(type="cpu")

    def stream(self, prompt: str, settings: SamplingSettings) -> Iterator[GeneratedChar]:
        for i in range(settings.length):
            yield GeneratedChar(TEXT[i % len(TEXT)], PROBABILITIES[i % len(PROBABILITIES)], TOP)


@pytest.fixture
def fake_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GenerateScreen, "_generator", lambda self, source: FakeGenerator())
    monkeypatch.setattr(TuirnnApp, "ensure_torch", staticmethod(lambda: None))


def sweep_app(tmp_path: Path) -> TuirnnApp:
    write_trial_logs(write_fixed_sweep(tmp_path / "models"))
    return make_app(tmp_path)


def explore_app(tmp_path: Path) -> TuirnnApp:
    planted_run(tmp_path)
    return make_app(tmp_path)


def runs_app(tmp_path: Path) -> TuirnnApp:
    make_run(tmp_path / "models", "shakespeare-lstm2x256", steps=600)
    return make_app(tmp_path)


async def generated(pilot: Any, prompt: str = "The ") -> GenerateScreen:
    """On Generate, type a prompt and wait for the whole draw."""
    await pilot.press("3", "i", *("space" if char == " " else char for char in prompt), "enter")
    screen = pilot.app.screen
    assert isinstance(screen, GenerateScreen)
    await wait_for(pilot, lambda: len(screen.generated) == screen.settings.length)
    await pilot.pause()
    return screen


async def train_with_data(pilot: Any) -> None:
    feed_run(pilot.app)
    await pilot.pause()


# ----- no text in its background's colour, on any main screen, in either theme --------------------------------


Scene = Callable[[Path], tuple[TuirnnApp, Callable[[Any], Awaitable[object]]]]


async def _press(pilot: Any, *keys: str) -> None:
    await pilot.press(*keys)
    await pilot.pause()


async def _explore_view(pilot: Any, step: int) -> None:
    await open_explore(pilot)
    await _press(pilot, *["right_square_bracket"] * step, "right", "right")


SCENES: dict[str, Scene] = {
    "train": lambda tmp: (make_app(tmp), train_with_data),
    "train-empty": lambda tmp: (make_app(tmp), lambda pilot: _press(pilot)),
    "model": lambda tmp: (make_app(tmp), lambda pilot: _press(pilot, "2")),
    "generate": lambda tmp: (runs_app(tmp), generated),
    "runs": lambda tmp: (runs_app(tmp), lambda pilot: _press(pilot, "4")),
    "sweep-heatmap": lambda tmp: (sweep_app(tmp), lambda pilot: _press(pilot, "5", "ctrl+o", "enter")),
    "explore": lambda tmp: (explore_app(tmp), open_explore),
    "explore-surprise": lambda tmp: (explore_app(tmp), lambda pilot: _explore_view(pilot, 1)),
    "sweep-curves": lambda tmp: (sweep_app(tmp),
                                 lambda pilot: _press(pilot, "5", "ctrl+o", "enter", "right_square_bracket")),
}


@pytest.mark.parametrize("scene", list(SCENES))
def test_no_text_is_drawn_in_its_background_colour(scene: str, colours: str, tmp_path: Path,
                                                   fake_generation: None) -> None:
    app, arrive = SCENES[scene](tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await arrive(pilot)
            assert app.theme == ("ansi-dark" if colours == "16" else "textual-dark")
            assert unreadable(app) == []

    asyncio.run(scenario())


# ----- charts ----------------------------------------------------------------------------------------------


def chart_text(app: TuirnnApp) -> tuple[str, list[str]]:
    """The Train chart's header line and its plot's lines."""
    chart = app.screen.query_one(LossChart)
    header = text_in(app, chart.query_one(".chart-header").region)[0]
    return header, text_in(app, chart.query_one(ThemedPlot).region)


def test_chart_title_axes_and_legend_are_visible_in_16_colours(colours: str, tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await train_with_data(pilot)
            chart = app.screen.query_one(LossChart)
            region = chart.content_region
            shown = [c for c in screen_cells(app) if c.text.strip() and region.contains(c.x, c.y)]
            words = " ".join(c.text for c in shown)
            assert "loss" in words and "train" in words and "val" in words and "200" in words
            assert [c.text for c in shown if contrast(c.style, app.ansi_theme) < MIN_CONTRAST] == []

    asyncio.run(scenario())


def test_an_empty_chart_says_no_data_yet_instead_of_fake_axes(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            chart = app.screen.query_one(LossChart)
            shown = "\n".join(text_in(app, chart.content_region))
            assert "no data yet" in shown
            assert not re.search(r"\d", shown), shown  # no ticks at all, not -1..1
            await train_with_data(pilot)
            shown = "\n".join(text_in(app, chart.content_region))
            assert "no data yet" not in shown and "600" in shown

    asyncio.run(scenario())


def test_sparklines_draw_no_trend_from_one_value_or_none() -> None:
    class Sparks(App[None]):
        def compose(self) -> Any:
            yield Trend([], id="none")
            yield Trend([2.5], id="one")
            yield Trend([3.0, 2.0, 1.5], id="three")

    async def scenario() -> None:
        app = Sparks()
        async with app.run_test(size=(40, 5)) as pilot:
            await pilot.pause()
            lines = text_in(app, Region(0, 0, 40, 3))
            assert lines[0].strip() == "no data yet"
            assert lines[1].strip() == "2.5000 (one value)" and "█" not in lines[1]
            assert "█" in lines[2] and "▁" in lines[2]  # a real trend is still a sparkline
            assert isinstance(app.query_one("#three"), Sparkline)

    asyncio.run(scenario())


def test_ticks_are_round_numbers_and_steps_whole(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await train_with_data(pilot)
            _, plot = chart_text(app)
            y_labels = [float(m.group(1)) for line in plot if (m := re.match(r"\s*([\d.]+)\s*[┤│]", line))]
            steps = [round(b - a, 6) for a, b in zip(y_labels[1:], y_labels, strict=False)]
            assert len(y_labels) >= 3 and len(set(steps)) == 1 and steps[0] in (0.2, 0.5, 1.0, 2.0), y_labels
            x_line = next(line for line in reversed(plot) if re.search(r"\d", line))
            x_labels = x_line.split()
            assert len(x_labels) >= 3 and all(re.fullmatch(r"\d+", label) for label in x_labels), x_line
            assert [int(label) % 100 for label in x_labels] == [0] * len(x_labels)

    asyncio.run(scenario())


def test_the_legend_sits_above_the_curves(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await train_with_data(pilot)
            header, plot = chart_text(app)
            assert "train" in header and "val" in header
            assert not any("train" in line or "val" in line for line in plot)

    asyncio.run(scenario())


def test_the_chart_grows_with_the_terminal(tmp_path: Path) -> None:
    heights = []
    for size in [(80, 24), (200, 50)]:
        app = make_app(tmp_path)

        async def scenario(size: tuple[int, int] = size, app: TuirnnApp = app) -> None:
            async with app.run_test(size=size) as pilot:
                await train_with_data(pilot)
                heights.append(app.screen.query_one(ThemedPlot).size.height)

        asyncio.run(scenario())
    small, large = heights
    assert small >= 8 and large >= 25


def test_z_toggles_all_steps_and_recent_steps(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await train_with_data(pilot)
            chart = app.screen.query_one(LossChart)
            while not chart.has_focus:
                await pilot.press("tab")
            assert "all steps" in chart_text(app)[0]
            await pilot.press("z")
            await pilot.pause()
            header, plot = chart_text(app)
            assert "steps 452-600" in header  # the last quarter of steps 10-600
            x_line = next(line for line in reversed(plot) if re.search(r"\d", line))
            assert [int(label) for label in x_line.split()] == [500, 550, 600]
            await pilot.press("z")
            await pilot.pause()
            assert "all steps" in chart_text(app)[0]

    asyncio.run(scenario())


def test_ticks_helpers() -> None:
    assert nice_ticks(1.23, 4.56, 5) == [2, 3, 4]
    assert nice_ticks(1.23, 4.56, 8) == [1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5]
    assert nice_ticks(0, 600, 7, integer=True) == [0, 100, 200, 300, 400, 500, 600]
    assert nice_ticks(10, 600, 6, integer=True) == [100, 200, 300, 400, 500, 600]
    assert nice_ticks(10, 13, 6, integer=True) == [10, 11, 12, 13]  # steps never split
    assert log_ticks(1.2, 4.5, 5) == [2, 3, 4]  # every digit where 1, 2 and 5 leave one tick
    assert log_ticks(0.9, 45, 5) == [1, 2, 5, 10, 20]


def write_layers_sweep(models: Path, done: int) -> None:
    """The study's one-axis sweep (layers), its first `done` trials finished."""
    definition = sweep_preset("study-layers").with_base_overrides({"epochs": 2})
    sweep = SweepDir.create(models / "sweeps" / "layers", definition)
    for number, point in enumerate(definition.points()):
        record = sweep.add_trial(number, point)
        if number < done:
            record.status, record.step, record.total_steps, record.seconds = "done", 1000, 1000, 100.0
            record.val_loss = record.best_val_loss = 1.31 + 0.047 * number
            record.last_loss = 1.2
    sweep.save()
    sweep.export()


@pytest.mark.parametrize("done", [0, 3])
def test_a_one_axis_sweep_line_says_no_data_yet_or_has_round_ticks(tmp_path: Path, done: int) -> None:
    write_layers_sweep(tmp_path / "models", done)
    app = make_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(80, 30)) as pilot:
            await _press(pilot, "5", "ctrl+o", "enter")
            shown = text_in(app, app.screen.query_one("#metric-line").content_region)
            if not done:
                assert "no data yet" in "".join(shown) and not re.search(r"\d", "".join(shown[1:]))
                return
            assert "by layers" in shown[0]
            labels = [m.group(1) for line in shown[1:] if (m := re.match(r"\s*([\d.]+)┤", line))]
            assert len(labels) >= 2 and all(round(float(label) * 100) % 5 == 0 for label in labels), labels

    asyncio.run(scenario())


# ----- the heatmap -----------------------------------------------------------------------------------------


def test_heatmap_ranks_cells_so_near_best_ones_differ() -> None:
    values = {(0, c): 1.20 + c / 1000 for c in range(8)} | {(1, 0): 9.0}  # one trial far off
    shades = rank_shades(values, len(VIRIDIS))
    assert shades[(0, 0)] == 0 and all(shades[cell] > 0 for cell in values if cell != (0, 0))
    assert [shades[(0, c)] for c in range(8)] == sorted(shades[(0, c)] for c in range(8))
    assert len({shades[(0, c)] for c in range(8)}) >= 7 and shades[(1, 0)] == len(VIRIDIS) - 1


def test_heatmap_palette_is_ordered_by_lightness() -> None:
    lightness = [luminance(Color.parse(background).get_truecolor()) for background, _ in VIRIDIS]
    assert lightness == sorted(lightness, reverse=True)
    theme = App[None]().ansi_theme
    for background, ink in [*VIRIDIS, *ANSI_SCALE]:
        assert contrast(Style(color=ink, bgcolor=background), theme) >= 3, background


def test_heatmap_grows_with_the_screen(tmp_path: Path) -> None:
    sizes = []
    for size in [(80, 24), (200, 50)]:
        app = sweep_app(tmp_path / f"{size[0]}")

        async def scenario(size: tuple[int, int] = size, app: TuirnnApp = app) -> None:
            async with app.run_test(size=size) as pilot:
                await _press(pilot, "5", "ctrl+o", "enter")
                sizes.append(app.screen.query_one(Heatmap).size)

        asyncio.run(scenario())
    small, large = sizes
    assert large.height >= 2 * small.height and large.width > small.width


# ----- Generate's read-outs --------------------------------------------------------------------------------


def test_top_choices_always_show_the_character_and_zero_draws_no_bar(colours: str, tmp_path: Path,
                                                                     fake_generation: None) -> None:
    app = runs_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await generated(pilot)
            lines = [line.rstrip() for line in text_in(app, app.screen.query_one(TopChoices).content_region)]
            assert lines[0] == "next char"
            assert lines[1].startswith("e  0.97 ████")  # the confident choice keeps its character
            assert lines[2].startswith("␠  0.02") and lines[3].startswith("⏎  0.01")
            assert lines[4] == "a  0.00" and lines[5] == "o  0.00"  # no bar for what shows as zero

    asyncio.run(scenario())


def look(style: Style) -> tuple[object, ...]:
    """What a person sees of a style (not the links and offsets Textual keeps in it)."""
    return style.color, style.bgcolor, style.bold, style.underline, style.reverse


def looks_in(app: TuirnnApp, widget: Any) -> dict[str, tuple[object, ...]]:
    """Each distinct text inside a widget, with how it is drawn."""
    region = widget.content_region
    return {c.text: look(c.style) for c in screen_cells(app) if region.contains(c.x, c.y) and c.text.strip()}


def test_generated_text_is_marked_sparingly_and_the_legend_matches(colours: str, tmp_path: Path,
                                                                  fake_generation: None) -> None:
    app = runs_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await generated(pilot)
            text = screen.query_one(ShadedText)
            cells = [c for c in screen_cells(app) if text.content_region.contains(c.x, c.y) and c.text.strip()]
            assert not any(c.style.bold for c in cells)
            styles = {look(c.style) for c in cells}
            assert len(styles) <= 4  # plain, prompt, unsure, unlikely: not a rainbow
            prompt = next(c for c in cells if c.text.startswith("The"))
            plain = next(c for c in cells if c.text == "th")  # p=0.93, 0.61: unmarked
            assert look(prompt.style) != look(plain.style)
            legend = looks_in(app, screen.query_one(ShadeLegend))
            unlikely = next(c for c in cells if c.text == "e")  # the third character drawn, p=0.04
            unsure = next(c for c in cells if c.text == "f")  # the fifth, p=0.22
            assert legend["p<0.1"] == look(unlikely.style) != look(plain.style)
            assert legend["p<0.3"] == look(unsure.style) != look(plain.style)
            assert legend["prompt"] == look(prompt.style)
            if colours == "16":  # marks in the 16 ANSI colours, not RGB that a 16-colour terminal approximates
                assert unlikely.style.color is not None and unlikely.style.color.number is not None
                assert unlikely.style.color.number < 16
            assert unreadable(app) == []

    asyncio.run(scenario())


def test_continue_keeps_the_earlier_marks_and_shows_where_it_starts(tmp_path: Path, fake_generation: None) -> None:
    app = runs_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await generated(pilot)
            first = screen.text()
            before = screen.query_one(ShadedText).render()
            await pilot.press("c")
            await wait_for(pilot, lambda: screen.prompt_used == first
                           and len(screen.generated) == screen.settings.length)
            after = screen.query_one(ShadedText).render()
            assert after.plain == first + CONTINUES + screen.text()[len(first):]
            assert after.plain.count(CONTINUES) == 1
            earlier = [(s.start, s.end, str(s.style)) for s in before.spans]
            assert [(s.start, s.end, str(s.style)) for s in after.spans][:len(earlier)] == earlier
            await pilot.press("t")  # another temperature draws the continuation again and keeps the rest
            await wait_for(pilot, lambda: screen.settings.temperature == pytest.approx(0.7)
                           and len(screen.generated) == screen.settings.length)
            assert screen.query_one(ShadedText).render().plain.startswith(first + CONTINUES)

    asyncio.run(scenario())


# ----- snapshots: 256 colours, 16 colours, ASCII ----------------------------------------------------------


def export_ascii_screenshot(app: TuirnnApp, *, title: str | None = None, simplify: bool = False) -> str:
    """`App.export_screenshot` as a terminal without UTF-8 shows the screen: every character passes through
    the ASCII output's translation, as everything its driver writes does."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      record=True, legacy_windows=False, safe_box=False)
    update = app.screen._compositor.render_update(full=True, simplify=simplify)
    console.print(Segments([segment if segment.control else Segment(to_ascii(segment.text), segment.style)
                            for segment in console.render(update)]))
    return console.export_svg(title=title or app.title)


def _write_sweep(models: Path) -> None:
    write_trial_logs(write_fixed_sweep(models))


def _write_run(models: Path) -> None:
    make_run(models, "shakespeare-lstm2x256", steps=600)


def _write_runs(models: Path) -> None:
    make_run(models, "shakespeare-lstm2x256", steps=600)
    make_run(models, "nietzsche-gru2x128", corpus="nietzsche", cell="gru", hidden=128, steps=400, status="stopped",
             age_s=3600, scale=1.1)


async def _model_form(pilot: Any) -> None:
    await _press(pilot, "2")
    await wait_for(pilot, lambda: pilot.app.screen.vocab_size is not None)


SNAPSHOT_SCENES: dict[str, tuple[Callable[[Path], None], Callable[[Any], Awaitable[object]]]] = {
    "train": (lambda models: None, train_with_data),
    "sweep": (_write_sweep, lambda pilot: _press(pilot, "5", "ctrl+o", "enter")),
    "generate": (_write_run, generated),
    "runs": (_write_runs, lambda pilot: _press(pilot, "4", "down")),
    "model": (lambda models: None, _model_form),
    "explore": (lambda models: planted_run(models.parent), lambda pilot: _explore_view(pilot, 0)),
}


@pytest.mark.parametrize("output", ["256", "16", "ascii"])
@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
@pytest.mark.parametrize("scene", list(SNAPSHOT_SCENES))
def test_snapshot(snap_compare: Callable[..., bool], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                  fake_generation: None, scene: str, size: tuple[int, int], output: str) -> None:
    monkeypatch.setenv("TERM", TERMINALS.get(output, "xterm"))  # ASCII: a bare SSH login has 16 colours too
    monkeypatch.delenv("COLORTERM", raising=False)
    monkeypatch.setenv("TZ", "UTC")
    write, arrive = SNAPSHOT_SCENES[scene]
    write(tmp_path / "models")
    app = make_app(tmp_path)
    if output == "ascii":
        app.export_screenshot = partial(export_ascii_screenshot, app)  # type: ignore[method-assign]
    assert snap_compare(app, terminal_size=size, run_before=arrive)

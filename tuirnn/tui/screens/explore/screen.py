"""Explore: what a run's units compute over a text, on single keys.

Pick a run; the text is an excerpt of its corpus (from where validation starts), the text last generated on the
Generate screen, or text typed after `i`. Five views over one recording: activations (one unit's value behind
each character), surprise (the model's surprisal, the top-5 it expected under the cursor, loss and baselines),
units (the units that track a probe, as sparklines under the text), gates (saturation scatters) and
temperatures (one prompt and seed at four temperatures). Recording, ranking and drawing samples run on worker
threads; the screen only draws what they post.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from rich.console import Group, RenderableType
from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Input, Label, Select, Static

from tuirnn.inspection.palette import DIVERGING, SURPRISAL, Band
from tuirnn.inspection.probes import PROBES, SPAN
from tuirnn.inspection.recording import QUANTITIES, scale_labels
from tuirnn.inspection.texts import DEFAULT_LENGTH
from tuirnn.runs import list_runs
from tuirnn.tui.focus import leave_text_fields
from tuirnn.tui.screens.base import AppScreen
from tuirnn.tui.screens.explore import keys
from tuirnn.tui.screens.explore.panels import ranking, status_line, surprise_facts, text_values, unit_fact, unit_traces
from tuirnn.tui.screens.explore.parts import (
    Explored,
    ExploreDone,
    Painted,
    RankDone,
    Request,
    StripDone,
    TextView,
)
from tuirnn.tui.screens.explore.recorder import Recorder, ranked, strip
from tuirnn.tui.screens.explore.render import (
    Marks,
    gate_scatters,
    legend,
    painted,
    row_of,
    row_step,
    rows,
    temperature_columns,
)

if TYPE_CHECKING:
    from tuirnn.inspection.recording import Recording
    from tuirnn.inspection.subject import Subject
    from tuirnn.inspection.temperature import TemperatureSample
    from tuirnn.inspection.units import UnitScore
    from tuirnn.tui.app import TuirnnApp

SOURCES = ("corpus", "generated", "typed")
VIEWS = ("activations", "surprise", "units", "gates", "temperatures")
LENGTHS = (250, 500, 1000, 2000, 5000)
PROMPT_CHARS = 40


class ExploreScreen(AppScreen):
    CSS_PATH = "explore.tcss"
    BINDINGS: ClassVar[list[BindingType]] = keys.BINDINGS

    def __init__(self) -> None:
        super().__init__()
        self.run_path: Path | None = None
        self.view = "activations"
        self.source = "corpus"
        self.text_offset: int | None = None
        self.length = 1000
        self.typed = ""
        self.layer_index = 0
        self.quantity = "h"
        self.unit = 0
        self.cursor = 0
        self.probe = "quotes"
        self.span: tuple[int, int] | None = None
        self.mark_start: int | None = None
        self.seed = 1
        self.request: Request | None = None
        self.result: Explored | None = None
        self.scores: list[UnitScore] = []
        self.rank_note = ""
        self.rank_key: tuple[object, ...] = ()
        self.selected = 0
        self.samples: list[TemperatureSample] = []
        self.strip_key: tuple[object, ...] = ()
        self.strip_prompt = ""
        self.strip_note = ""
        self._layout: list[tuple[int, int]] = []
        self._recorder = Recorder()

    @property
    def tuirnn(self) -> TuirnnApp:
        return cast("TuirnnApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="exp-bar"):
            yield Select([], prompt="choose a run", id="exp-run", allow_blank=True)
            yield Input(placeholder="i types a text, Enter explores it", id="exp-typed")
        yield Label("", id="exp-status")
        with Horizontal(id="exp-main"):
            with Vertical(id="exp-left"):
                with TextView(id="exp-text-box"):
                    yield Painted("", id="exp-text")
                yield Static("", id="exp-units-panel")
            yield Static("", id="exp-side")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Explore"
        self.query_one("#exp-units-panel").display = False
        self.query_one("#exp-typed", Input).can_focus = False  # only i gives it the keys (see action_type_text)
        self._refresh_runs()
        self.query_one("#exp-text-box").focus()
        self._explore()

    def on_screen_resume(self) -> None:
        leave_text_fields(self, "#exp-text-box")
        self._refresh_runs()
        if self.request is None and self.result is None:
            self._explore()

    def on_resize(self, event: events.Resize) -> None:
        self._show()

    # ----- runs ------------------------------------------------------------------------------------
    def _refresh_runs(self) -> None:
        options = [(summary.name, str(summary.path)) for summary in list_runs(self.tuirnn.models_dir)
                   if summary.steps > 0 or (summary.path / "best.safetensors").exists()]
        select = self.query_one("#exp-run", Select)
        values = [value for _, value in options]
        with self.prevent(Select.Changed):  # a choice made here is explored by the caller, not twice
            select.set_options(options)
            if self.run_path is not None and str(self.run_path) in values:
                select.value = str(self.run_path)
            elif values:
                select.value = values[0]
                self.run_path = Path(values[0])

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.value is Select.BLANK:
            return
        self.run_path = Path(str(event.value))
        self.text_offset = None
        self._explore()

    # ----- recording -------------------------------------------------------------------------------
    def _explore(self) -> None:
        if self.run_path is None:
            self._show()
            return
        text = self.typed if self.source == "typed" else _generated_text(self.app) if self.source == "generated" else ""
        if self.source != "corpus" and not text:
            what = "type one with /" if self.source == "typed" else "generate one on the Generate screen (3)"
            self.notify(f"No {self.source} text yet: {what}.", severity="warning")
            self.source = "corpus"
        self.tuirnn.ensure_torch()
        self.request = Request(self.run_path, self.source, self.text_offset, self.length, text)
        self._show()
        self._record(self.request)

    @work(thread=True, exclusive=True, group="explore", exit_on_error=False)
    def _record(self, request: Request) -> None:
        self.post_message(self._recorder.explored(request, self.tuirnn.data_dir))

    def on_explore_done(self, message: ExploreDone) -> None:
        if message.request is not self.request:
            return  # a newer request replaced it
        if message.error is not None or message.result is None:
            self.notify(message.error or "nothing recorded", title="Cannot explore", severity="error", timeout=8)
            self.request = None
            self._show()
            return
        self.result = message.result
        if message.result.offset is not None:
            self.text_offset = message.result.offset
        if message.result.dropped:
            self.notify("Left out characters the model does not know: " + ", ".join(map(repr, message.result.dropped)),
                        severity="warning")
        recording = message.result.recording
        self.layer_index = min(self.layer_index, recording.layers - 1)
        self.unit = min(self.unit, recording.hidden_size - 1)
        if self.quantity not in recording.quantities:
            self.quantity = "h"
        self.cursor = min(self.cursor, len(recording) - 1)
        self.span = self.span if self.span is not None and self.span[1] <= len(recording) else None
        self.scores, self.samples = [], []
        self._rank()
        if self.view == "temperatures":
            self._draw_strip()
        self._show()

    # ----- ranking and the temperature strip -------------------------------------------------------
    def _rank(self) -> None:
        if self.result is None:
            return
        if self.probe == SPAN and self.span is None:
            self.probe = next(iter(PROBES))
        self.rank_key = (id(self.result), self.probe, self.span, self.quantity)
        self.rank_note = "ranking..."
        self._rank_units(self.rank_key, self.result.recording, self.probe, self.span, self.quantity)

    @work(thread=True, exclusive=True, group="explore-rank", exit_on_error=False)
    def _rank_units(self, key: tuple[object, ...], recording: Recording, probe: str, span: tuple[int, int] | None,
                    quantity: str) -> None:
        self.post_message(ranked(key, recording, probe, span, quantity))

    def on_rank_done(self, message: RankDone) -> None:
        if message.key != self.rank_key:
            return
        self.scores, self.rank_note = message.scores, message.error or ""
        self.selected = 0
        self._show()

    def _prompt(self) -> str:
        assert self.result is not None
        text = self.result.recording.text
        return text[max(0, self.cursor + 1 - PROMPT_CHARS) : self.cursor + 1]

    def _draw_strip(self) -> None:
        if self.result is None:
            return
        self.strip_prompt = self._prompt()
        self.strip_key = (id(self.result), self.strip_prompt, self.seed)
        self.strip_note = "drawing..."
        self._strip(self.strip_key, self.result.subject, self.strip_prompt, self.seed)

    @work(thread=True, exclusive=True, group="explore-strip", exit_on_error=False)
    def _strip(self, key: tuple[object, ...], subject: Subject, prompt: str, seed: int) -> None:
        self.post_message(strip(key, subject, prompt, seed))

    def on_strip_done(self, message: StripDone) -> None:
        if message.key != self.strip_key:
            return
        self.samples, self.strip_note = message.samples, message.error or ""
        self._show()

    # ----- display ---------------------------------------------------------------------------------
    def _marks(self, scale: tuple[Band, ...]) -> Marks:
        return self.query_one("#exp-text", Painted).marks(scale)

    @property
    def _ascii(self) -> bool:
        return self.tuirnn.ascii_output

    def _colouring(self) -> tuple[UnitScore | None, str, int, int]:
        """The quantity, layer and unit that colour the text: the selected ranked unit in the units view."""
        if self.view == "units" and self.scores:
            score = self.scores[self.selected]
            return score, score.quantity, score.layer, score.unit
        return None, self.quantity, self.layer_index, self.unit

    def _show(self) -> None:
        status = self.query_one("#exp-status", Label)
        text_widget = self.query_one("#exp-text", Painted)
        side = self.query_one("#exp-side", Static)
        panel = self.query_one("#exp-units-panel", Static)
        panel.display = self.view == "units" and self.result is not None
        box = self.query_one("#exp-text-box", TextView)
        box.border_title = f"{self.view} ({VIEWS.index(self.view) + 1}/{len(VIEWS)}; [ ] other views)"
        if self.run_path is None:
            status.update("")
            text_widget.update(Text("No saved run to explore: train one first (1, then s).", style="dim"))
            side.update("")
            return
        if self.result is None:
            status.update("recording..." if self.request is not None else "")
            text_widget.update(Text("Recording the model over the text..." if self.request else
                                    "Nothing recorded: choose a run, or e for another text.", style="dim"))
            side.update("")
            return
        result = self.result
        recording = result.recording
        _, quantity, layer, unit = self._colouring()
        status.update(status_line(result, quantity, layer, unit, self.probe if self.view == "units" else None))
        width = box.scrollable_content_region.width or 60
        if self.view == "gates":
            text_widget.update(gate_scatters([g for g in result.gates if g.layer == self.layer_index], width))
        elif self.view == "temperatures":
            text_widget.update(temperature_columns(self.strip_prompt, self.samples, self._ascii) if self.samples
                               else Text(self.strip_note or "drawing the samples...", style="dim"))
        else:
            self._layout = rows(recording.text, width)
            values, scale = text_values(result, self.view == "surprise", quantity, layer, unit)
            span = self.span if self.view == "units" else None
            text_widget.update(painted(recording.text, values, scale, self._marks(scale), self._layout, self.cursor,
                                       self._ascii, span))
            row = row_of(self._layout, self.cursor)
            if not box.scroll_y <= row < box.scroll_y + box.size.height:  # the cursor stays in view
                self.call_after_refresh(box.scroll_to, y=max(0, row - box.size.height // 2), animate=False)
        if self.view == "units":
            panel.update(self._units_panel(width))
        side.update(self._side())

    def _units_panel(self, width: int) -> RenderableType:
        assert self.result is not None
        return unit_traces(self.result, self.scores, self.rank_note, self.selected, self.cursor, width,
                           self.size.height, self._ascii)

    def _side(self) -> RenderableType:
        assert self.result is not None
        recording = self.result.recording
        parts: list[RenderableType] = []
        if self.view == "surprise":
            parts.append(legend(SURPRISAL, self._marks(SURPRISAL), per_line=2))
            parts.append(surprise_facts(self.result, self.cursor, self._ascii))
        elif self.view == "units":
            parts.append(Text(f"probe: {PROBES[self.probe].description if self.probe in PROBES else 'marked span'}",
                              style="bold"))
            parts.append(ranking(self.scores, self.rank_note, self.selected))
        elif self.view == "activations":
            _, quantity, layer, unit = self._colouring()
            parts.append(legend(DIVERGING, self._marks(DIVERGING), scale_labels(quantity)))
            parts.append(unit_fact(recording, quantity, layer, unit, self.cursor, self._ascii))
        elif self.view == "gates":
            parts.append(Text(f"layer {self.layer_index + 1} of {recording.layers}; y/Y another layer"))
        else:
            parts.append(Text(f"prompt: the {PROMPT_CHARS} characters up to the cursor; seed {self.seed} (n: new)"))
        return Group(*parts)

    # ----- actions ---------------------------------------------------------------------------------
    def action_view(self, step: int) -> None:
        view = self.view = VIEWS[(VIEWS.index(self.view) + step) % len(VIEWS)]
        if view == "temperatures" and self.result is not None and (not self.samples or
                                                                   self._prompt() != self.strip_prompt):
            self._draw_strip()
        self._show()

    def action_unit(self, step: int) -> None:
        if self.result is None:
            return
        if self.view == "units" and self.scores:
            self.selected = (self.selected + step) % len(self.scores)
        else:
            self.unit = (self.unit + step) % self.result.recording.hidden_size
        self._show()

    def action_layer(self, step: int) -> None:
        if self.result is not None:
            self.layer_index = (self.layer_index + step) % self.result.recording.layers
            self._show()

    def action_value(self, step: int) -> None:
        if self.result is None:
            return
        names = QUANTITIES[self.result.recording.cell]
        self.quantity = names[(names.index(self.quantity) + step) % len(names)]
        self._rank()
        self._show()

    def action_probe(self, step: int) -> None:
        names = [*PROBES, *([SPAN] if self.span is not None else [])]
        self.probe = names[(names.index(self.probe) + step) % len(names)] if self.probe in names else names[0]
        self.view = "units"
        self._rank()
        self._show()

    def action_mark(self) -> None:
        if self.result is None:
            return
        if self.mark_start is None:
            self.mark_start = self.cursor
            self.notify(f"Span starts at {self.cursor:,}: move the cursor and press m again.")
            return
        start, end = sorted((self.mark_start, self.cursor))
        self.mark_start, self.span, self.probe, self.view = None, (start, end + 1), SPAN, "units"
        self._rank()
        self._show()

    def action_jump(self) -> None:
        if self.view == "units" and self.scores:
            score = self.scores[self.selected]
            self.layer_index, self.quantity, self.unit = score.layer, score.quantity, score.unit
            self.view = "activations"
            self._show()

    def action_source(self) -> None:
        self.source = SOURCES[(SOURCES.index(self.source) + 1) % len(SOURCES)]
        self._explore()

    def action_move_text(self, direction: int) -> None:
        if self.source != "corpus" or self.result is None or self.result.corpus_length is None:
            self.notify("PgUp and PgDn move through the corpus: e switches the text to it.", severity="warning")
            return
        last = max(0, self.result.corpus_length - self.length)
        self.text_offset = max(0, min(last, (self.text_offset or 0) + direction * self.length))
        self._explore()

    def action_length(self, direction: int) -> None:
        index = LENGTHS.index(self.length) if self.length in LENGTHS else LENGTHS.index(DEFAULT_LENGTH)
        self.length = LENGTHS[max(0, min(len(LENGTHS) - 1, index + direction))]
        self._explore()

    def action_new_seed(self) -> None:
        self.seed += 1
        self.view = "temperatures"
        self._draw_strip()
        self._show()

    def action_type_text(self) -> None:
        field = self.query_one("#exp-typed", Input)
        field.can_focus = True
        field.focus()

    def action_leave_text(self) -> None:
        self.query_one("#exp-text-box").focus()
        self.query_one("#exp-typed", Input).can_focus = False

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_leave_text()
        if event.value:
            self.typed, self.source = event.value, "typed"
            self._explore()

    def _move_cursor(self, position: int) -> None:
        if self.result is not None:
            self.cursor = max(0, min(len(self.result.recording) - 1, position))
            self._show()

    def action_cursor(self, step: int) -> None:
        self._move_cursor(self.cursor + step)

    def action_cursor_to(self, position: int) -> None:
        self._move_cursor(position if position >= 0 else len(self.result.recording) - 1 if self.result else 0)

    def action_cursor_row(self, step: int) -> None:
        if self.result is None or not self._layout:
            return
        self._move_cursor(row_step(self._layout, self.cursor, step))


def _generated_text(app: App[object]) -> str:
    """The text the Generate screen shows last, or "" where it has not been opened."""
    from tuirnn.tui.screens.generate import GenerateScreen

    try:
        stack = app.get_screen_stack("generate")
    except KeyError:
        return ""
    return next((screen.text() for screen in stack if isinstance(screen, GenerateScreen)), "")

"""Interactive, seeded generation from a saved run or from the run being trained.

The prompt box takes the text; everything else is on single keys while the output has focus. Every
change of a setting regenerates with the same seed, so its effect is seen on the same draw of chance.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Input, Label, Select
from textual.worker import get_current_worker

from tuirnn.errors import TuirnnError
from tuirnn.generation_record import (
    GenerationRecord,
    Segment,
    WeightsOrigin,
    save_generation,
)
from tuirnn.paths import safe_child
from tuirnn.runs import RunError, generation_default, list_runs, run_label
from tuirnn.sampling_settings import GeneratedChar, SamplingSettings, new_seed
from tuirnn.tui.focus import leave_text_fields
from tuirnn.tui.screens.base import AppScreen
from tuirnn.tui.widgets.generated import ShadedText, ShadeLegend, TopChoices

if TYPE_CHECKING:
    from tuirnn.sampling import Generator
    from tuirnn.tui.app import TuirnnApp

CURRENT_RUN = "__training__"
TEMPERATURE = Binding.Group("Temp", compact=True)
TOP_K = Binding.Group("Top-k", compact=True)
LENGTH = Binding.Group("Len", compact=True)
SEED = Binding.Group("Seed", compact=True)
POST_INTERVAL_S = 0.03
TOP_K_STEPS = (0, 1, 2, 3, 5, 10, 20, 40)
HINT = "Press i to type a prompt, then Enter; g, n, c, t/T, k/K, -/=, ,/., b change the draw."


@dataclass(frozen=True)
class Request:
    prompt: str
    settings: SamplingSettings


class GenerationUpdate(Message):
    def __init__(self, request: Request, chars: list[GeneratedChar], done: bool, error: str | None = None,
                 origin: WeightsOrigin | None = None, device: str = ""):
        super().__init__()
        self.request = request
        """The request these characters answer: updates of a superseded request are dropped."""
        self.chars = chars
        self.done = done
        self.error = error
        self.origin = origin
        """Which weights drew them (run, checkpoint, step) and on which device, for the saved record."""
        self.device = device


class GenerateScreen(AppScreen):
    CSS_PATH = "generate.tcss"
    BINDINGS = [
        Binding("g", "generate", "Generate again", id="gen-generate"),
        Binding("n", "new_seed", "New seed", id="gen-new-seed"),
        Binding("c", "continue_text", "Continue", id="gen-continue"),
        Binding("t", "temperature(-0.1)", "Temperature down", group=TEMPERATURE, id="gen-temp-down"),
        Binding("T", "temperature(0.1)", "Temperature up", group=TEMPERATURE, id="gen-temp-up"),
        Binding("k", "top_k(-1)", "Top-k down", group=TOP_K, id="gen-topk-down"),
        Binding("K", "top_k(1)", "Top-k up", group=TOP_K, id="gen-topk-up"),
        Binding("minus", "length(-50)", "Shorter", group=LENGTH, id="gen-len-down"),
        Binding("equals_sign", "length(50)", "Longer", group=LENGTH, id="gen-len-up"),
        Binding("comma", "seed(-1)", "Previous seed", group=SEED, id="gen-seed-down"),
        Binding("full_stop", "seed(1)", "Next seed", group=SEED, id="gen-seed-up"),
        Binding("b", "greedy", "Greedy", id="gen-greedy"),
        Binding("ctrl+s", "save", "Save", id="gen-save"),
        Binding("i", "type_text", "Prompt", id="gen-prompt"),
        Binding("escape", "leave_prompt", "Done typing", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.settings = SamplingSettings(length=300, temperature=0.8, seed=1)
        self.request: Request | None = None
        self.generated: list[GeneratedChar] = []
        self.prompt_used = ""
        self.earlier: list[Segment] = []
        """The generations the shown text continues (c), oldest first: saved with it."""
        self.earlier_chars: list[list[GeneratedChar]] = []
        """Their characters with their probabilities, so the text keeps its marks when continued."""
        self.origin: WeightsOrigin | None = None
        self.device = "cpu"
        self.run_path: Path | None = None
        self._generators: dict[str, tuple[float, Generator]] = {}

    @property
    def tuirnn(self) -> TuirnnApp:
        return cast("TuirnnApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="gen-source"):
            yield Select([], prompt="choose a run", id="gen-run", allow_blank=True)
            yield Input(placeholder="prompt, then Enter", id="gen-prompt-input")
        yield Label("", id="gen-settings")
        with Horizontal(id="gen-main"):
            with VerticalScroll(id="gen-output-box"):
                yield ShadedText(HINT, id="gen-output")
            with Vertical(id="gen-side"):
                yield TopChoices(id="gen-top")
                yield ShadeLegend(id="gen-legend")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Generate"
        self.query_one("#gen-output-box").can_focus = True
        self._refresh_runs()
        self._show_settings()
        self._show_output()
        self.query_one("#gen-output-box").focus()  # keys, not text: / or i goes to the prompt

    def on_screen_resume(self) -> None:
        leave_text_fields(self, "#gen-output-box")
        self._refresh_runs()

    def choose_run(self, run_path: Path) -> None:
        """Generate from `run_path` next (the Runs and Sweep screens open runs here): chosen when the screen
        is next shown, at once if it is mounted."""
        self.run_path = run_path
        if self.is_mounted:
            self._refresh_runs()

    # ----- run selection ---------------------------------------------------------------------------
    def _refresh_runs(self) -> None:
        options: list[tuple[str, str]] = []
        feed = self.tuirnn.feed
        if feed.active and feed.run_dir is not None:
            options.append((f"● training now: {feed.run_dir.name}", CURRENT_RUN))
        runs = [summary for summary in list_runs(self.tuirnn.models_dir) if summary.steps > 0]
        options += [(run_label(summary), str(summary.path)) for summary in runs]
        outside = self.run_path  # a run outside models/, such as a trial of a sweep kept elsewhere
        if outside is not None and outside.is_dir() and str(outside) not in (value for _, value in options):
            options.append((outside.name, str(outside)))
        select = self.query_one("#gen-run", Select)
        with self.prevent(Select.Changed):
            select.set_options(options)
        values = [value for _, value in options]
        wanted = str(self.run_path) if self.run_path else None
        if wanted in values:
            select.value = wanted
            self.run_path = Path(wanted)
        elif values and self.run_path is None:  # the run training now, else a finished one, not a short trial
            chosen = generation_default(runs)
            first = values[0] if values[0] == CURRENT_RUN or chosen is None else str(chosen.path)
            select.value = first
            self.run_path = None if first == CURRENT_RUN else Path(first)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.value is Select.BLANK:
            return
        self.run_path = None if event.value == CURRENT_RUN else Path(str(event.value))
        if self.request is not None:
            self._start(self.request)

    def _selected(self) -> str | None:
        value = self.query_one("#gen-run", Select).value
        return None if value is Select.BLANK else str(value)

    # ----- generation ------------------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._start(Request(event.value, self.settings))
        self.query_one("#gen-output-box").focus()

    def _start(self, request: Request, continuing: bool = False, redraw: bool = False) -> None:
        """Draw for `request`: a new text, a continuation of the shown one (c), or the shown generation
        drawn again with other settings (`redraw`: what it continues stays)."""
        source = self._selected()
        if source is None:
            self.notify("No run to generate from: train one first (1, then s).", severity="warning")
            return
        self.tuirnn.ensure_torch()
        if continuing and self.request is not None:
            self.earlier.append(self._segment())
            self.earlier_chars.append(self.generated)
        elif not continuing and not redraw:
            self.earlier, self.earlier_chars = [], []
        self.request = request
        self.prompt_used = request.prompt
        self.generated = []
        self._show_output()
        self._generate(source, request)

    @work(thread=True, exclusive=True, group="generate", exit_on_error=False)
    def _generate(self, source: str, request: Request) -> None:
        worker = get_current_worker()
        try:
            generator = self._generator(source)
            self.post_message(GenerationUpdate(request, [], False, origin=generator.origin,
                                               device=generator.device.type))
            batch: list[GeneratedChar] = []
            last_post = time.monotonic()
            for char in generator.stream(request.prompt, request.settings):
                if worker.is_cancelled:
                    return
                batch.append(char)
                if time.monotonic() - last_post >= POST_INTERVAL_S:
                    self.post_message(GenerationUpdate(request, batch, False))
                    batch, last_post = [], time.monotonic()
            self.post_message(GenerationUpdate(request, batch, True))
        except Exception as exc:  # noqa: BLE001  (any failure becomes a visible message)
            self.post_message(GenerationUpdate(request, [], True, _describe(exc)))

    def _generator(self, source: str) -> Generator:
        """Load (or reuse) the weights: a saved run's best checkpoint, or a copy of the training model."""
        from tuirnn.runs import RunDir
        from tuirnn.sampling import generator_for_run

        if source == CURRENT_RUN:
            trainer = self.tuirnn.trainer
            live = trainer.live_generator() if trainer is not None else None
            if live is None:
                raise RunError("the training run has no model yet")
            return live
        run = RunDir.open(Path(source))
        checkpoint = run.checkpoint_for("best")
        stamp = checkpoint.stat().st_mtime
        cached = self._generators.get(source)
        if cached is None or cached[0] != stamp:
            cached = (stamp, generator_for_run(run, "best"))
            self._generators = {source: cached}  # one model in memory at a time
        return cached[1]

    def on_generation_update(self, message: GenerationUpdate) -> None:
        if message.request is not self.request:
            return  # posted by a generation that a newer request replaced
        if message.origin is not None:
            self.origin, self.device = message.origin, message.device
            self._show_settings()  # which weights drew it: best or latest, at which step
        if message.error:
            self.notify(message.error, title="Cannot generate", severity="error", timeout=8)
        self.generated.extend(message.chars)
        self._show_output()

    # ----- display ---------------------------------------------------------------------------------
    def _show_settings(self) -> None:
        s = self.settings
        mode = "greedy" if s.greedy else f"temp {s.temperature:.1f}  top-k {s.top_k or 'off'}"
        seed = "-" if s.greedy else str(s.seed)
        origin = self.origin
        weights = "" if origin is None else (
            f"  from {origin.checkpoint.removesuffix('.safetensors')} at step {origin.step:,}")
        self.query_one("#gen-settings", Label).update(f"seed {seed}  {mode}  length {s.length}{weights}")

    def _show_output(self) -> None:
        """The first prompt, then every generation drawn from it, the continuations (c) marked apart."""
        prompt = self.earlier[0].prompt if self.earlier else self.prompt_used
        self.query_one(ShadedText).show(prompt, [*self.earlier_chars, self.generated])
        self.query_one(TopChoices).show(self.generated[-1].top if self.generated else ())

    def text(self) -> str:
        return self.prompt_used + "".join(c.char for c in self.generated)

    # ----- actions ---------------------------------------------------------------------------------
    def _update(self, **changes: Any) -> None:
        candidate = replace(self.settings, **changes)
        try:
            candidate.check()
        except ValueError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.settings = candidate
        self._show_settings()
        if self.request is not None:
            self._start(Request(self.request.prompt, self.settings), redraw=True)

    def action_generate(self) -> None:
        if self.request is not None:
            self._start(Request(self.request.prompt, self.settings), redraw=True)
        else:
            self._start(Request(self.query_one("#gen-prompt-input", Input).value, self.settings))

    def action_new_seed(self) -> None:
        self._update(seed=new_seed(), greedy=False)

    def action_continue_text(self) -> None:
        if not self.generated:
            self.action_generate()
            return
        self.settings = replace(self.settings, seed=new_seed())
        self._show_settings()
        self._start(Request(self.text(), self.settings), continuing=True)

    def action_temperature(self, delta: float) -> None:
        self._update(temperature=round(max(0.1, min(3.0, self.settings.temperature + delta)), 1))

    def action_top_k(self, direction: int) -> None:
        index = TOP_K_STEPS.index(self.settings.top_k) if self.settings.top_k in TOP_K_STEPS else 0
        self._update(top_k=TOP_K_STEPS[max(0, min(len(TOP_K_STEPS) - 1, index + direction))])

    def action_length(self, delta: int) -> None:
        self._update(length=max(50, min(5000, self.settings.length + delta)))

    def action_seed(self, delta: int) -> None:
        self._update(seed=max(0, (self.settings.seed or 0) + delta), greedy=False)

    def action_greedy(self) -> None:
        self._update(greedy=not self.settings.greedy)

    def action_type_text(self) -> None:
        self.query_one("#gen-prompt-input", Input).focus()

    def action_leave_prompt(self) -> None:
        self.query_one("#gen-output-box").focus()

    def action_save(self) -> None:
        """The text, and beside it a record of how to draw it again (weights, prompts, settings, seeds)."""
        if not self.generated or self.origin is None:
            self.notify("Nothing generated yet.", severity="warning")
            return
        base = self.run_path or self.tuirnn.feed.run_dir or self.tuirnn.models_dir
        seed = "greedy" if self.settings.greedy else f"seed{self.settings.seed}"
        record = GenerationRecord(self.origin, [*self.earlier, self._segment()], self.device)
        try:
            path = safe_child(Path(base), "generated") / f"{time.strftime('%Y%m%d-%H%M%S')}-{seed}.txt"
            save_generation(path, record)
        except (OSError, TuirnnError) as exc:
            self.notify(f"Cannot save: {getattr(exc, 'strerror', None) or exc}", severity="error")
            return
        self.notify(f"Saved to {path} (how to draw it again: {path.name}.json)")

    def _segment(self) -> Segment:
        """The shown generation as a record's segment: what it was primed with, asked and drew."""
        assert self.request is not None
        drawn = "".join(c.char for c in self.generated)
        return Segment(self.prompt_used, replace(self.request.settings, length=len(drawn)), drawn)


def _describe(exc: Exception) -> str:
    from tuirnn.checkpoint import CheckpointError
    from tuirnn.corpus import CorpusError

    if isinstance(exc, (CorpusError, CheckpointError, RunError, ValueError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"

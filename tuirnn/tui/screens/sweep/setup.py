"""The Setup panel: a sweep built from a preset, a TOML file or axes typed as text over a base configuration.

It checks the setup (and estimates its steps) in a thread worker as it is edited, after a pause in typing;
timing a few real steps is on a key, since it costs seconds. The screen asks it for the plan to start.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, TabPane, TextArea
from textual.worker import Worker, WorkerState

from tuirnn.config import PRESETS, ConfigError, RunConfig, preset, run_length
from tuirnn.corpus import Corpus
from tuirnn.formatting import format_duration, model_label
from tuirnn.sweeps.axes_text import axis_text, parse_axes_text
from tuirnn.sweeps.cost import CostEstimate, Timing, calibrate, corpus_loader, estimate_cost
from tuirnn.sweeps.definition import (
    METRICS,
    PRUNING,
    STRATEGIES,
    SWEEP_PRESETS,
    SweepDefinition,
    load_sweep,
    sweep_preset,
)
from tuirnn.sweeps.start import SweepPlan
from tuirnn.sweeps.validation import SweepCheck, check_sweep
from tuirnn.tui.widgets.form_field import FormField

CHECK_DELAY_S = 0.3
"""Checking waits for a pause in typing: a large space takes a second to check."""
FILE = "<file>"
APP_BASE = "<app>"
LOADED_BASE = "<loaded>"
DEFAULT_AXES = "hidden_size = 128, 256\ndropout = 0.1, 0.3"


class Checked(Message, bubble=False):
    def __init__(self, key: str, check: SweepCheck, cost: CostEstimate | None, problem: str) -> None:
        super().__init__()
        self.key = key
        self.check = check
        self.cost = cost
        self.problem = problem
        """Why the cost could not be estimated (a corpus that cannot be read): starting would fail too."""


class Calibrated(Message, bubble=False):
    def __init__(self, key: str, timing: Timing | None, problem: str) -> None:
        super().__init__()
        self.key = key
        self.timing = timing
        self.problem = problem


def notify_error(widget: Widget, message: str, title: str = "") -> None:
    """Errors stay up long enough to read; no markup, as they quote paths and settings."""
    widget.notify(message, title=title, severity="error", timeout=10, markup=False)


class SetupPanel(TabPane):
    def __init__(self, app_config: Callable[[], RunConfig], data_dir: Path, ensure_torch: Callable[[], None],
                 *, id: str) -> None:
        super().__init__("Setup", id=id)
        self._app_config = app_config
        """The app's configuration (the Model screen's), the default base."""
        self._ensure_torch = ensure_torch
        self._loader: Callable[[RunConfig], Corpus] = corpus_loader(data_dir)
        """Opens each corpus once for all the checks and timings of this panel."""
        self._sweep_name = "custom"
        self._loaded: SweepDefinition | None = None
        """The definition last loaded (preset, file or saved sweep): its base is a base choice."""
        self.plan: SweepPlan | None = None
        """What the form asks for, or None while it has errors."""
        self._plan_errors: list[str] = []
        self.checked: Checked | None = None
        """The check of the current plan, once it has come back."""
        self._check_timer: Timer | None = None
        self._timings: dict[str, Timing] = {}
        self._calibrating = False

    # ----- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="setup-body"):
            with VerticalScroll(id="setup-form"):
                yield from self._form()
            with VerticalScroll(id="setup-side"):
                yield Static(id="setup-checks")

    def _form(self) -> ComposeResult:
        def choices(values: Sequence[str]) -> list[tuple[str, str]]:
            return [(value, value) for value in values]

        def number(id: str, placeholder: str = "") -> Input:
            return Input(type="integer", compact=True, validate_on=[], placeholder=placeholder, id=id)

        sources = [*choices(list(SWEEP_PRESETS)), ("TOML file…", FILE)]
        yield FormField("sweep", Select(sources, prompt="(custom)", compact=True, id="source"), id="field-source")
        yield FormField("file", Input(placeholder="path/to/sweep.toml, Enter loads", compact=True, id="file"),
                        id="field-file")
        yield FormField("base", Select(self._base_options(), allow_blank=False, compact=True, value=APP_BASE,
                                       id="base"), id="field-base")
        yield FormField("axes", TextArea(DEFAULT_AXES, compact=True, id="axes"), id="field-axes")
        yield Label("one a line: layers = 1, 2, 4\nor: lr = 1e-3..3e-3 step 1e-3", classes="form-hint")
        yield FormField("max steps", number("max_steps"), id="field-max_steps")
        yield FormField("epochs", number("epochs"), id="field-epochs")
        yield FormField("workers K", number("workers", "auto"), id="field-workers")
        yield FormField("engine", Select([("local processes", "local"), ("Ray", "ray")], allow_blank=False,
                                         compact=True, value="local", id="engine"), id="field-engine")
        yield FormField("strategy", Select(choices(STRATEGIES), allow_blank=False, compact=True, value="grid",
                                           id="strategy"), id="field-strategy")
        yield FormField("trials", number("trials", "random/tpe: how many"), id="field-trials")
        yield FormField("metric", Select(choices(METRICS), allow_blank=False, compact=True, value="val_loss",
                                         id="metric"), id="field-metric")
        yield FormField("pruning", Select(choices(PRUNING), allow_blank=False, compact=True, value="none",
                                          id="pruning"), id="field-pruning")

    def on_mount(self) -> None:
        self.query_one("#field-file").display = False
        self.query_one("#setup-side").border_title = "Check & cost"
        self._form_changed()

    # ----- what the screen asks --------------------------------------------------------------------
    def focus_form(self) -> None:
        self.query_one("#source").focus()

    @property
    def editing(self) -> bool:
        """Whether the focus is in the form (Escape leaves it)."""
        focused = self.screen.focused
        return focused is not None and self.query_one("#setup-form") in focused.ancestors

    def follow_app_config(self) -> None:
        """Check again when the base is the app's configuration: the Model screen may have changed it."""
        if self.query_one("#base", Select).value == APP_BASE:
            self._form_changed()

    def plan_for(self, definition: SweepDefinition) -> SweepPlan:
        """`definition` (a saved sweep's, to resume) on the form's engine, with its workers when it has them."""
        return SweepPlan(definition, self.plan.workers if self.plan is not None else None,
                         str(self.query_one("#engine", Select).value))

    def startable(self) -> SweepPlan | None:
        """The form's plan if it can start now, else None after saying why."""
        plan = self.plan
        if plan is None:
            notify_error(self, "; ".join(self._plan_errors), "Fix the setup first")
            return None
        checked = self.checked
        check = checked.check if checked is not None else check_sweep(plan.definition)
        problems = check.errors + ([checked.problem] if checked is not None and checked.problem else [])
        if problems:
            notify_error(self, "; ".join(problems[:3]), "Cannot start the sweep")
            return None
        return plan

    def fill(self, definition: SweepDefinition, name: str) -> None:
        """Show a loaded definition in the form; its base becomes the base choice `<name>'s base`."""
        self._loaded, self._sweep_name = definition, name
        with self.prevent(Select.Changed, Input.Changed, TextArea.Changed):
            base = self.query_one("#base", Select)
            base.set_options(self._base_options())
            base.value = LOADED_BASE
            self.query_one("#axes", TextArea).text = "\n".join(map(axis_text, definition.axes))
            for field in ("strategy", "metric", "pruning"):
                self.query_one(f"#{field}", Select).value = getattr(definition, field)
            self.query_one("#trials", Input).value = str(definition.trials) if definition.trials else ""
            self.query_one("#max_steps", Input).value = ""
            self.query_one("#epochs", Input).value = ""
        self._form_changed()

    def say_errors(self) -> None:
        """Why the setup is not a sweep yet."""
        notify_error(self, "; ".join(self._plan_errors), "Fix the setup first")

    def calibrate(self) -> bool:
        """Time a few real steps of the base config in a worker; False (after saying why) when the form has
        errors."""
        if self.plan is None:
            self.say_errors()
            return False
        self._calibrating = True
        self._ensure_torch()
        self._calibrate(self.plan, self._loader)
        self._show_checks()
        return True

    # ----- the form --------------------------------------------------------------------------------
    def _base_options(self) -> list[tuple[str, str]]:
        options = [("app config (Model screen)", APP_BASE)]
        options += [(f"preset {name}", name) for name in PRESETS]
        if self._loaded is not None:
            options.append((f"{self._sweep_name}'s base", LOADED_BASE))
        return options

    def _base(self) -> RunConfig:
        """The chosen base; a config preset keeps the app's corpus, as on the Model screen."""
        choice = self.query_one("#base", Select).value
        if choice == LOADED_BASE and self._loaded is not None:
            return RunConfig.from_dict(self._loaded.base.to_dict())
        config = RunConfig.from_dict(self._app_config().to_dict())
        if choice in PRESETS:
            corpus = config.data.corpus
            config = preset(str(choice))
            config.data.corpus = corpus
        return config

    def _read_plan(self) -> tuple[SweepPlan | None, list[str]]:
        axes, errors = parse_axes_text(self.query_one("#axes", TextArea).text)
        numbers: dict[str, int] = {}
        for name in ("trials", "workers", "max_steps", "epochs"):
            text = self.query_one(f"#{name}", Input).value.strip()
            if text:
                try:
                    numbers[name] = int(text)
                except ValueError:
                    errors.append(f"{name}: {text!r} is not a whole number")
        if numbers.get("workers", 1) < 1:
            errors.append("workers must be at least 1 (or empty for automatic)")
        if errors:
            return None, errors
        loaded = self._loaded
        try:
            definition = SweepDefinition(
                self._sweep_name, self._base(), tuple(axes), str(self.query_one("#strategy", Select).value),
                numbers.get("trials", 0), str(self.query_one("#metric", Select).value),
                str(self.query_one("#pruning", Select).value), loaded.seed if loaded else 0,
                loaded.description if loaded else "",
            ).with_base_overrides({k: v for k, v in numbers.items() if k in ("max_steps", "epochs")})
        except ConfigError as exc:
            return None, [str(exc)]
        return SweepPlan(definition, numbers.get("workers"), str(self.query_one("#engine", Select).value)), []

    def _form_changed(self) -> None:
        """Re-read the form: syntax errors show at once, the full check follows a pause in typing."""
        base = self._base()
        length = run_length(base.train)
        self.query_one("#max_steps", Input).placeholder = (f"base: {base.train.max_steps}" if length == "steps"
                                                           else f"base: none ({length})")
        self.query_one("#epochs", Input).placeholder = (f"base: {base.train.epochs}" if length == "epochs"
                                                        else f"base: none ({length})")
        self.plan, self._plan_errors = self._read_plan()
        self.checked = None
        if self._check_timer is not None:
            self._check_timer.stop()
        if self.plan is not None:
            self._check_timer = self.set_timer(CHECK_DELAY_S, self._start_check)
        self._show_checks()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "source":
            self.query_one("#field-file").display = event.value == FILE
            if event.value == FILE:
                self.query_one("#file").focus()
            elif event.value in SWEEP_PRESETS:
                chosen = sweep_preset(str(event.value)).with_base_overrides({"corpus": self._app_config().data.corpus})
                self.fill(chosen, str(event.value))
                return
        self._form_changed()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "file":
            self._form_changed()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._form_changed()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "file" or not event.value.strip():
            return
        path = Path(event.value.strip()).expanduser()
        try:
            definition = load_sweep(path)
        except ConfigError as exc:
            notify_error(self, str(exc), "Cannot load the sweep")
            return
        self.fill(definition, definition.name)
        self.notify(f"Loaded {path}", markup=False)

    # ----- checking and pricing --------------------------------------------------------------------
    def _start_check(self) -> None:
        if self.plan is not None:
            self._check(self.plan, self._timings.get(self.plan.timing_key), self._loader)

    @work(thread=True, exclusive=True, group="sweep-check", exit_on_error=False)
    def _check(self, plan: SweepPlan, timing: Timing | None, load: Callable[[RunConfig], Corpus]) -> None:
        check = check_sweep(plan.definition)
        cost, problem = None, ""
        if not check.errors:
            try:
                cost = estimate_cost(plan.definition, load, plan.slots().trials, timing)
            except (ConfigError, ValueError, OSError) as exc:  # CorpusError is a ValueError
                problem = str(exc)
        self.post_message(Checked(plan.key, check, cost, problem))

    def on_checked(self, message: Checked) -> None:
        if self.plan is not None and message.key == self.plan.key:
            self.checked = message
            self._show_checks()

    @work(thread=True, exclusive=True, group="sweep-calibrate", exit_on_error=False)
    def _calibrate(self, plan: SweepPlan, load: Callable[[RunConfig], Corpus]) -> None:
        try:
            timing = calibrate(plan.definition, load, threads=plan.slots().threads)
        except (ConfigError, ValueError, OSError, subprocess.TimeoutExpired) as exc:
            self.post_message(Calibrated(plan.timing_key, None, str(exc)))
            return
        self.post_message(Calibrated(plan.timing_key, timing, ""))

    def on_calibrated(self, message: Calibrated) -> None:
        self._calibrating = False
        if message.timing is None:
            notify_error(self, message.problem, "Timing failed")
        else:
            self._timings[message.key] = message.timing
            self.notify(f"{message.timing.seconds_per_step * 1000:.1f} ms per step for the dearest trial, "
                        f"{message.timing.start_s:.1f} s to start one")
        self._start_check()
        self._show_checks()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            notify_error(self, f"{type(error).__name__}: {error}", f"{event.worker.group} failed")
            if event.worker.group == "sweep-calibrate":
                self._calibrating = False
                self._show_checks()

    def _show_checks(self) -> None:
        text = Text()
        plan, checked = self.plan, self.checked
        if plan is None:
            text.append("✗ fix the setup\n", "bold red")
            for error in self._plan_errors:
                text.append(f"• {error}\n", "red")
        elif checked is None:
            text.append("checking…\n", "dim")
        else:
            check, d = checked.check, plan.definition
            if check.errors:
                text.append(f"✗ {len(check.errors)} error(s): cannot start\n", "bold red")
            else:
                text.append(f"✓ {d.trial_count} trials, {d.strategy}", "bold green")
                text.append(f" · {d.metric}\n" if d.pruning == "none" else f" · {d.metric} · ASHA\n")
            for error in check.errors:
                text.append(f"• {error}\n", "red")
            for warning in check.warnings:
                text.append(f"! {warning}\n", "yellow")
        if plan is not None:
            m, data, train = plan.definition.base.model, plan.definition.base.data, plan.definition.base.train
            text.append("\nbase ", "dim").append(f"{model_label(m)}, batch {train.batch_size}, seq {data.seq_len}\n")
            text.append("corpus ", "dim").append(f"{data.corpus}\n")
            length = {"steps": f"{train.max_steps} steps", "epochs": f"{train.epochs} epochs",
                      "budget": f"{format_duration(train.time_budget)} time budget"}[run_length(train)]
            text.append("length ", "dim").append(f"{length}\n")
        if checked is not None and checked.problem:
            text.append(f"✗ {checked.problem}\n", "red")
        elif checked is not None and checked.cost is not None:
            cost = checked.cost
            parts = [f"{cost.total_steps:,} steps" if cost.total_steps else "",
                     f"{format_duration(cost.budget_s)} of budgets" if cost.budget_s else ""]
            text.append("\ncost ", "dim").append(f"{' and '.join(part for part in parts if part)} in all\n")
            if self._calibrating:
                text.append("time ", "dim").append("measuring a few steps…\n")
            elif cost.seconds is None:
                text.append("time ", "dim").append("ctrl+b times a few steps\n")
            else:
                measured = (f" ({cost.seconds_per_step * 1000:.1f} ms/step for the dearest, measured)"
                            if cost.seconds_per_step is not None and cost.total_steps else "")
                text.append("time ", "dim").append(
                    f"~{format_duration(cost.seconds)} with {cost.workers} at once{measured}\n")
        text.rstrip()
        self.query_one("#setup-checks", Static).update(text)

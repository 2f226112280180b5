"""Hyperparameter sweeps: set one up, check and price it, run it, and read its results.

The Setup panel builds a sweep definition from a preset, a TOML file or axes typed as text over a base
configuration, and checks it (and estimates its steps) in a thread worker as it is edited; timing a few
real steps is on a key, since it costs seconds. The engine runs in a thread worker: it publishes events
on that thread, which a `SweepFeed` collects and announces to the screen a few times a second, so the
engine never waits for the display. Results show as a table of trials, a heatmap over two axes (a line
for a one-axis sweep), every trial's loss curve, and samples of the best and the worst trial. A saved
sweep can be opened from disk, followed while another process runs it, and resumed.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from itertools import permutations
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import (
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    OptionList,
    Select,
    Static,
    TabbedContent,
    TabPane,
    Tabs,
    TextArea,
)
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState, get_current_worker
from textual_plotext import PlotextPlot

from tuirnn.config import PRESETS, ConfigError, RunConfig, preset
from tuirnn.console import format_duration
from tuirnn.corpus import Corpus
from tuirnn.runs import (
    LATEST_FILE,
    METRICS_FILE,
    SAMPLES_FILE,
    SWEEPS_DIR,
    RunError,
)
from tuirnn.sweeps.axes_text import axis_text, parse_axes_text, value_label
from tuirnn.sweeps.cost import CostEstimate, calibrate, corpus_loader, estimate_cost
from tuirnn.sweeps.definition import (
    METRICS,
    PRUNING,
    STRATEGIES,
    SWEEP_PRESETS,
    Axis,
    SweepDefinition,
    describe_point,
    load_sweep,
    sweep_preset,
)
from tuirnn.sweeps.events import SweepEnded, SweepEvent, TrialEnded, TrialProgress
from tuirnn.sweeps.listing import list_sweeps, new_sweep_path, resumable, sweep_counts
from tuirnn.sweeps.results import METRIC_LABELS, average_speed, heatmap_data, speed_text
from tuirnn.sweeps.start import SweepPlan as Plan
from tuirnn.sweeps.sweepdir import SWEEP_FILE, SweepDir, TrialRecord
from tuirnn.sweeps.validation import SweepCheck, check_sweep
from tuirnn.tui.widgets.form_field import FormField
from tuirnn.tui.widgets.form_path_prompt import PathPrompt
from tuirnn.tui.widgets.heatmap import Heatmap
from tuirnn.tui.widgets.loss_chart import Curve, LossChart
from tuirnn.tui.widgets.run_tail import JsonlTail, MetricsTail

if TYPE_CHECKING:
    from tuirnn.sweeps.engine import SweepEngine
    from tuirnn.tui.app import TuirnnApp

NEWS_INTERVAL_S = 0.25
"""Progress reaches the screen at most this often; starts, evaluations and ends at once."""
TICK_S = 1.0
CHECK_DELAY_S = 0.3
"""Checking waits for a pause in typing: a large space takes a second to check."""
WATCH_S = 0.2
FILE = "<file>"
APP_BASE = "<app>"
LOADED_BASE = "<loaded>"
PANEL = Binding.Group("Panel", compact=True)
DEFAULT_AXES = "hidden_size = 128, 256\ndropout = 0.1, 0.3"
STATUS_STYLES = {"queued": "dim", "running": "bold cyan", "done": "green", "pruned": "yellow",
                 "failed": "bold red", "diverged": "magenta"}
BACKGROUND_POINTS = 150
HIGHLIGHT_POINTS = 600
"""Curves are thinned before plotting: plotext slows down with tens of thousands of points."""


def _loss(value: float | None, digits: int = 3) -> Text:
    return Text("–" if value is None else f"{value:.{digits}f}", justify="right")


def _speed(value: float | None) -> Text:
    return Text(speed_text(value), justify="right")


def _thin(values: Sequence[Any], points: int) -> list[Any]:
    return list(values[::max(1, len(values) // points)])


# ----- messages from the workers -----------------------------------------------------------------------
class SweepNews(Message):
    """The feed holds engine events the screen has not shown yet."""


class Checked(Message):
    def __init__(self, key: str, check: SweepCheck, cost: CostEstimate | None, problem: str) -> None:
        super().__init__()
        self.key = key
        self.check = check
        self.cost = cost
        self.problem = problem
        """Why the cost could not be estimated (a corpus that cannot be read): starting would fail too."""


class Calibrated(Message):
    def __init__(self, key: str, seconds_per_step: float | None, problem: str) -> None:
        super().__init__()
        self.key = key
        self.seconds_per_step = seconds_per_step
        self.problem = problem


class SweepFeed:
    """The engine's events, collected on the engine's thread for the screen to take.

    Progress is kept as the latest event per trial and announced at most every NEWS_INTERVAL_S; the
    other events are rare and announced at once. Taking happens under a lock held for a swap only.
    """

    def __init__(self, announce: Callable[[], object]) -> None:
        self._announce = announce
        self._lock = threading.Lock()
        self._progress: dict[str, TrialProgress] = {}
        self._events: list[SweepEvent] = []
        self._last = 0.0

    def __call__(self, event: SweepEvent) -> None:
        with self._lock:
            if isinstance(event, TrialProgress):
                self._progress[event.trial] = event
            else:
                self._events.append(event)
        now = time.monotonic()
        if not isinstance(event, TrialProgress) or now - self._last >= NEWS_INTERVAL_S:
            self._last = now
            self._announce()

    def take(self) -> tuple[dict[str, TrialProgress], list[SweepEvent]]:
        with self._lock:
            progress, events = self._progress, self._events
            self._progress, self._events = {}, []
        return progress, events


def _forward_stop(worker: Worker[None], engine: SweepEngine, stop: threading.Event, finished: threading.Event) -> None:
    """Stop the engine when asked to, or when Textual cancels its worker (the app is quitting), so no
    trial process outlives the app: the trials save a checkpoint and the engine returns."""
    while not finished.wait(WATCH_S):
        if stop.is_set() or worker.is_cancelled:
            engine.stop()
            return


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with the real stderr.

    The tracker is started on first need and handed `sys.stderr.fileno()`; inside the app that is
    Textual's print capture, whose fileno is -1, and the start fails ("bad value(s) in fds_to_keep").
    """
    from multiprocessing import resource_tracker

    previous, sys.stderr = sys.stderr, sys.__stderr__
    try:
        resource_tracker.ensure_running()
    finally:
        sys.stderr = previous


# ----- widgets -----------------------------------------------------------------------------------------
class TrialTable(DataTable[Any]):
    """The trials; Enter (or g) opens the highlighted one on the Generate screen."""

    BINDINGS = [Binding("enter,g", "select_cursor", "Generate", id="sweep-generate")]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.row_count > 0 if action == "select_cursor" else True


class MetricLine(PlotextPlot):
    """The measure against the axis value of a one-axis sweep (the study's layers sweep), best in green."""

    def show(self, axis: Axis, values: dict[int, float], title: str) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        plt.xlabel(axis.name)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in axis.values)
        positions = [float(v) if numeric else float(i) for i, v in enumerate(axis.values)]
        plt.xticks(positions, [value_label(v) for v in axis.values])
        plt.xlim(min(positions), max(positions))
        done = sorted(values)
        if done:
            plt.plot([positions[i] for i in done], [values[i] for i in done], color="cyan", marker="braille")
            plt.scatter([positions[i] for i in done], [values[i] for i in done], color="cyan", marker="●")
            best = min(done, key=values.__getitem__)
            plt.scatter([positions[best]], [values[best]], color="green", marker="★")
        else:
            plt.plot([positions[0]], [0], color="gray", marker=" ")
        self.refresh()


class SweepPicker(PathPrompt):
    """Saved sweeps under models/sweeps, most recent first, or any sweep directory typed in (Enter opens
    it, Escape cancels: the path prompt's own keys)."""

    DEFAULT_CSS = """
    SweepPicker {
        align: center middle;
        & > #picker {
            width: 76;
            max-width: 100%;
            height: auto;
            max-height: 90%;
            border: round $accent;
            background: $surface;
            padding: 0 1;
        }
        & #picker-list { height: auto; max-height: 14; }
        & .picker-hint { color: $text-muted; }
    }
    """
    def __init__(self, sweeps_dir: Path) -> None:
        super().__init__(f"Open a sweep in {sweeps_dir}", "")
        self.sweeps_dir = sweeps_dir

    def compose(self) -> ComposeResult:
        sweeps = list_sweeps(self.sweeps_dir)
        with Vertical(id="picker"):
            yield Label(self.title_text if sweeps else f"No sweeps in {self.sweeps_dir} yet.",
                        markup=False)
            if sweeps:
                yield OptionList(*(Option(self._prompt(s), id=str(s.path)) for s in sweeps), id="picker-list")
            yield Input(placeholder="or a sweep directory, then Enter", id="picker-path")
            yield Label("Enter opens, Escape cancels", classes="picker-hint")
        yield Footer()

    @staticmethod
    def _prompt(sweep: SweepDir) -> Text:
        stamp = time.strftime("%m-%d %H:%M", time.localtime((sweep.path / SWEEP_FILE).stat().st_mtime))
        text = Text().append(sweep.path.name, style="bold")
        return text.append(f"  {sweep.definition.strategy}, {sweep_counts(sweep)}  {stamp}", style="dim")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(str(event.option.id)))


# ----- the screen --------------------------------------------------------------------------------------
class SweepScreen(Screen[None]):
    CSS_PATH = "sweep.tcss"
    BINDINGS = [
        Binding("m", "metric", "Metric", id="sweep-metric"),
        Binding("a", "axes", "Axes", id="sweep-axes"),
        Binding("l", "log_scale", "Log scale", id="sweep-log"),
        Binding("ctrl+r", "run", "Run", id="sweep-run"),
        Binding("ctrl+g", "resume", "Resume", id="sweep-resume"),
        Binding("ctrl+s", "stop", "Stop & save", id="sweep-stop"),
        Binding("ctrl+t", "calibrate", "Time it", id="sweep-calibrate"),
        Binding("ctrl+o", "open", "Open", id="sweep-open"),
        Binding("escape", "leave_form", "Done editing", id="sweep-leave-form"),
        Binding("e", "panel('setup')", "Setup", group=PANEL, id="sweep-panel-setup"),
        Binding("t", "panel('trials')", "Trials", group=PANEL, id="sweep-panel-trials"),
        Binding("h", "panel('heatmap')", "Heatmap", group=PANEL, id="sweep-panel-heatmap"),
        Binding("c", "panel('curves')", "Curves", group=PANEL, id="sweep-panel-curves"),
        Binding("s", "panel('samples')", "Samples", group=PANEL, id="sweep-panel-samples"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.engine_idle = threading.Event()
        """Set while no engine runs; read off the UI thread when the app must exit without its terminal."""
        self.engine_idle.set()
        self.sweep: SweepDir | None = None
        """The sweep the results panels show: run here, or opened from disk."""
        self.metric = "val_loss"
        self.axis_pair = 0
        """Which ordered pair of axes the heatmap shows (rows, columns), cycled by `a`."""
        self._sweep_name = "custom"
        self._loaded: SweepDefinition | None = None
        """The definition last loaded (preset, file or saved sweep): its base is a base choice."""
        self._plan: Plan | None = None
        self._plan_errors: list[str] = []
        self._checked: Checked | None = None
        self._check_timer: Timer | None = None
        self._seconds_per_step: dict[str, float] = {}
        self._calibrating = False
        self._feed: SweepFeed | None = None
        """Set while an engine runs from this screen."""
        self._stop = threading.Event()
        self._speeds: dict[str, float] = {}
        self._metrics: dict[str, MetricsTail] = {}
        self._samples: dict[str, tuple[JsonlTail, list[dict[str, Any]]]] = {}
        self._disk_version: int | None = None

    @property
    def tuirnn(self) -> TuirnnApp:
        return cast("TuirnnApp", self.app)

    @property
    def running(self) -> bool:
        return self._feed is not None

    @cached_property
    def _loader(self) -> Callable[[RunConfig], Corpus]:
        """Opens each corpus once for all the checks and timings of this screen."""
        return corpus_loader(self.tuirnn.data_dir)

    # ----- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(id="sweep-tabs", initial="panel-setup"):
            with TabPane("Setup", id="panel-setup"):
                with Horizontal(id="setup-body"):
                    with VerticalScroll(id="setup-form"):
                        yield from self._form()
                    with VerticalScroll(id="setup-side"):
                        yield Static(id="setup-checks")
            with TabPane("Trials", id="panel-trials"):
                yield TrialTable(id="trial-table", cursor_type="row", zebra_stripes=True)
            with TabPane("Heatmap", id="panel-heatmap"):
                yield MetricLine(id="metric-line")
                with ScrollableContainer(id="heatmap-box"):
                    yield Heatmap(id="heatmap-grid")
            with TabPane("Curves", id="panel-curves"):
                yield LossChart(title="training loss of each trial", id="curves-chart")
            with TabPane("Samples", id="panel-samples"):
                with Horizontal(id="samples-body"):
                    with VerticalScroll(id="best-sample"):
                        yield Static(id="best-sample-text")
                    with VerticalScroll(id="worst-sample"):
                        yield Static(id="worst-sample-text")
        yield Static(id="sweep-status")
        yield Footer()

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

    def stop_from_signal(self) -> None:
        """Safe from a signal handler: ask the engine to stop; its trials save their checkpoints."""
        self._stop.set()

    def on_mount(self) -> None:
        self.tuirnn.sweep_screen = self
        self.sub_title = "Sweep"
        self.query_one("#field-file").display = False
        self.query_one("#setup-side").border_title = "Check & cost"
        self.query_one("#best-sample").border_title = "best trial"
        self.query_one("#worst-sample").border_title = "worst trial"
        self._timer = self.set_interval(TICK_S, self._tick, pause=True)
        self._form_changed()
        self._show_results()
        self.query_one("#source").focus()

    def on_resize(self) -> None:
        self.query_one(Heatmap).refresh(layout=True)  # its cells follow the room it has

    def on_screen_resume(self) -> None:
        self._timer.resume()
        if self.query_one("#base", Select).value == APP_BASE:
            self._form_changed()  # the Model screen may have changed the app's configuration

    def on_screen_suspend(self) -> None:
        self._timer.pause()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Footer entries follow the state: Run or Stop, Resume for a stopped sweep, panel keys per panel."""
        panel = self._panel()
        if action == "run":
            return not self.running
        if action == "stop":
            return self.running
        if action == "resume":
            return not self.running and self.sweep is not None and resumable(self.sweep)
        if action == "open":
            return not self.running
        if action == "leave_form":
            return self.focused is not None and self.query_one("#setup-form") in self.focused.ancestors
        if action == "metric":
            return panel in ("trials", "heatmap", "curves", "samples")
        if action == "axes":
            return panel == "heatmap" and self.sweep is not None and len(self.sweep.definition.axes) > 1
        if action == "log_scale":
            return panel == "curves"
        return True

    def _panel(self) -> str:
        return self.query_one(TabbedContent).active.removeprefix("panel-")

    # ----- the setup form --------------------------------------------------------------------------
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
        config = RunConfig.from_dict(self.tuirnn.config.to_dict())
        if choice in PRESETS:
            corpus = config.data.corpus
            config = preset(str(choice))
            config.data.corpus = corpus
        return config

    def _read_plan(self) -> tuple[Plan | None, list[str]]:
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
        return Plan(definition, numbers.get("workers"), str(self.query_one("#engine", Select).value)), []

    def _form_changed(self) -> None:
        """Re-read the form: syntax errors show at once, the full check follows a pause in typing."""
        base = self._base()
        self.query_one("#max_steps", Input).placeholder = f"base: {base.train.max_steps or 'none (epochs)'}"
        self.query_one("#epochs", Input).placeholder = f"base: {base.train.epochs}"
        self._plan, self._plan_errors = self._read_plan()
        self._checked = None
        if self._check_timer is not None:
            self._check_timer.stop()
        if self._plan is not None:
            self._check_timer = self.set_timer(CHECK_DELAY_S, self._start_check)
        self._show_checks()

    def _start_check(self) -> None:
        if self._plan is not None:
            self._check(self._plan, self._seconds_per_step.get(self._plan.timing_key), self._loader)

    def _fill(self, definition: SweepDefinition, name: str) -> None:
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

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "source":
            self.query_one("#field-file").display = event.value == FILE
            if event.value == FILE:
                self.query_one("#file").focus()
            elif event.value in SWEEP_PRESETS:
                chosen = sweep_preset(str(event.value)).with_base_overrides({"corpus": self.tuirnn.config.data.corpus})
                self._fill(chosen, str(event.value))
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
            self._error(str(exc), "Cannot load the sweep")
            return
        self._fill(definition, definition.name)
        self.notify(f"Loaded {path}", markup=False)

    def _error(self, message: str, title: str = "") -> None:
        """Errors stay up long enough to read; no markup, as they quote paths and settings."""
        self.notify(message, title=title, severity="error", timeout=10, markup=False)

    # ----- checking and pricing --------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="sweep-check", exit_on_error=False)
    def _check(self, plan: Plan, seconds_per_step: float | None, load: Callable[[RunConfig], Corpus]) -> None:
        check = check_sweep(plan.definition)
        cost, problem = None, ""
        if not check.errors:
            try:
                cost = estimate_cost(plan.definition, load, plan.slots().trials, seconds_per_step)
            except (ConfigError, ValueError, OSError) as exc:  # CorpusError is a ValueError
                problem = str(exc)
        self.post_message(Checked(plan.key, check, cost, problem))

    def on_checked(self, message: Checked) -> None:
        if self._plan is not None and message.key == self._plan.key:
            self._checked = message
            self._show_checks()

    @work(thread=True, exclusive=True, group="sweep-calibrate", exit_on_error=False)
    def _calibrate(self, plan: Plan, load: Callable[[RunConfig], Corpus]) -> None:
        base = plan.definition.base
        try:
            seconds = calibrate(base, load(base), threads=plan.slots().threads)
        except (ConfigError, ValueError, OSError) as exc:
            self.post_message(Calibrated(plan.timing_key, None, str(exc)))
            return
        self.post_message(Calibrated(plan.timing_key, seconds, ""))

    def on_calibrated(self, message: Calibrated) -> None:
        self._calibrating = False
        if message.seconds_per_step is None:
            self._error(message.problem, "Timing failed")
        else:
            self._seconds_per_step[message.key] = message.seconds_per_step
            self.notify(f"{message.seconds_per_step * 1000:.1f} ms per step for the base config")
        self._start_check()
        self._show_checks()

    def _show_checks(self) -> None:
        text = Text()
        plan, checked = self._plan, self._checked
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
            text.append("\nbase ", "dim").append(f"{m.cell} {m.layers}x{m.hidden_size}, batch {train.batch_size}, "
                                                 f"seq {data.seq_len}\n")
            text.append("corpus ", "dim").append(f"{data.corpus}\n")
            text.append("length ", "dim").append(f"{train.max_steps} steps\n" if train.max_steps
                                                 else f"{train.epochs} epochs\n")
        if checked is not None and checked.problem:
            text.append(f"✗ {checked.problem}\n", "red")
        elif checked is not None and checked.cost is not None:
            cost = checked.cost
            text.append("\ncost ", "dim").append(f"{cost.total_steps:,} steps in all\n")
            if self._calibrating:
                text.append("time ", "dim").append("measuring a few steps…\n")
            elif cost.seconds is None or cost.seconds_per_step is None:
                text.append("time ", "dim").append("ctrl+t times a few steps\n")
            else:
                text.append("time ", "dim").append(
                    f"~{format_duration(cost.seconds)} with {cost.workers} at once "
                    f"({cost.seconds_per_step * 1000:.1f} ms/step measured)\n")
        text.rstrip()
        self.query_one("#setup-checks", Static).update(text)

    # ----- starting, resuming, stopping ------------------------------------------------------------
    def _startable(self) -> Plan | None:
        """The form's plan if it can start now, else None after saying why."""
        plan = self._plan
        if plan is None:
            self._error("; ".join(self._plan_errors), "Fix the setup first")
            return None
        checked = self._checked
        check = checked.check if checked is not None else check_sweep(plan.definition)
        problems = check.errors + ([checked.problem] if checked is not None and checked.problem else [])
        if problems:
            self._error("; ".join(problems[:3]), "Cannot start the sweep")
            return None
        return plan

    def action_run(self) -> None:
        plan = self._startable()
        if plan is None or not self._engine_available(plan.engine):
            return
        try:
            sweep = SweepDir.create(new_sweep_path(self.tuirnn.models_dir, plan.definition.name), plan.definition,
                                    claim=True)
        except (RunError, OSError) as exc:
            self._error(str(exc), "Cannot create the sweep")
            return
        self._show_sweep(sweep)
        self._start(sweep, plan)

    def action_resume(self) -> None:
        """Continue the shown sweep as it was defined, with the setup's engine and workers; a sweep that
        another live process runs is refused (its lock says so), one whose driver died is resumed."""
        shown = self.sweep
        engine = str(self.query_one("#engine", Select).value)
        if shown is None or not self._engine_available(engine):
            return
        plan = Plan(shown.definition, self._plan.workers if self._plan is not None else None, engine)
        try:
            sweep = SweepDir.open(shown.path)  # takes the lock, then clears the temp files a killed driver left
        except RunError as exc:
            self._error(str(exc), "Cannot resume the sweep")
            return
        self.sweep = sweep
        self._start(sweep, plan)

    def _engine_available(self, engine: str) -> bool:
        if engine == "ray":
            from tuirnn.sweeps.ray_engine import require_ray

            try:
                require_ray()
            except ConfigError as exc:
                self._error(str(exc), "No Ray")
                return False
        return True

    def _start(self, sweep: SweepDir, plan: Plan) -> None:
        self._feed = SweepFeed(lambda: self.post_message(SweepNews()))
        self._stop = threading.Event()
        self.tuirnn.ensure_torch()
        self._run_engine(sweep, plan, self.tuirnn.data_dir, self._feed, self._stop)
        self._show_status()
        self.refresh_bindings()
        self.action_panel("trials")

    @work(thread=True, exclusive=True, group="sweep-run", exit_on_error=False)
    def _run_engine(self, sweep: SweepDir, plan: Plan, data_dir: Path, feed: SweepFeed, stop: threading.Event) -> None:
        """Engines are imported here: the local one loads Optuna, and its trials torch, in their own time."""
        engine: SweepEngine
        if plan.engine == "ray":
            from tuirnn.sweeps.ray_engine import RayEngine

            engine = RayEngine(sweep, plan.workers, data_dir=data_dir)
        else:
            from tuirnn.sweeps.local import LocalEngine

            _start_resource_tracker()
            engine = LocalEngine(sweep, plan.workers, data_dir)
        engine.subscribe(feed)
        self.engine_idle.clear()
        finished = threading.Event()
        threading.Thread(target=_forward_stop, args=(get_current_worker(), engine, stop, finished),
                         name="sweep-stop", daemon=True).start()
        try:
            engine.run()
        finally:
            sweep.release()
            finished.set()
            self.engine_idle.set()

    def action_stop(self) -> None:
        self._stop.set()
        self._show_status()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        group, state = event.worker.group, event.state
        if state == WorkerState.ERROR:
            error = event.worker.error
            self._error(f"{type(error).__name__}: {error}", f"{group} failed")
            if group == "sweep-calibrate":
                self._calibrating = False
                self._show_checks()
        if group == "sweep-run" and state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._take_news()
            self._feed = None
            self._follow_disk()
            self._show_results()
            self.refresh_bindings()

    # ----- following the engine --------------------------------------------------------------------
    def on_sweep_news(self, message: SweepNews) -> None:
        self._take_news()

    def _take_news(self) -> None:
        if self._feed is None or self.sweep is None:
            return
        progress, events = self._feed.take()
        self._speeds.update((trial, event.chars_per_s) for trial, event in progress.items())
        if any(isinstance(event, (TrialEnded, SweepEnded)) for event in events):
            self._show_results()
        elif progress or events:
            self._update_rows()
            self._show_status()
        for event in events:
            if isinstance(event, SweepEnded):
                outcome = "stopped: ctrl+g resumes it" if event.stopped else "finished"
                counts = ", ".join(f"{n} {status}" for status, n in event.counts.items())
                self.notify(f"{counts}", title=f"Sweep {outcome}")

    def _follow_disk(self) -> None:
        """Re-read sweep.json when it changed: another process (a `tuirnn sweep`) may be running it."""
        sweep = self.sweep
        if sweep is None:
            return
        try:
            version = (sweep.path / SWEEP_FILE).stat().st_mtime_ns
        except OSError:
            return
        if version == self._disk_version:
            return
        self._disk_version = version
        try:
            self.sweep = SweepDir.read(sweep.path)
        except RunError:
            return
        self._show_results()

    def _tick(self) -> None:
        if self.running:
            self._take_news()
        else:
            self._follow_disk()
        if self._panel() in ("curves", "samples"):
            self._show_trial_logs()

    # ----- showing a sweep -------------------------------------------------------------------------
    def _show_sweep(self, sweep: SweepDir) -> None:
        """Make `sweep` the one the results panels show."""
        self.sweep = sweep
        self.axis_pair = 0
        self._speeds.clear()
        self._metrics.clear()
        self._samples.clear()
        self._disk_version = None
        table = self.query_one(TrialTable)
        table.clear(columns=True)
        table.add_column("trial", key="trial")
        for axis in sweep.definition.axes:
            table.add_column(axis.name, key=f"axis:{axis.name}")
        for label, key in (("status", "status"), ("step", "step"), ("train", "train"), ("val", "val"),
                           ("bpc", "bpc"), ("chars/s", "speed")):
            table.add_column(label, key=key)
        self._show_results()

    def _show_results(self) -> None:
        self._update_rows()
        self._show_heatmap()
        self._show_status()
        if self._panel() in ("curves", "samples"):
            self._show_trial_logs(redraw=True)

    def _row(self, sweep: SweepDir, record: TrialRecord, best: str | None) -> list[Any]:
        speed = self._speeds.get(record.id) if record.status == "running" else average_speed(record)
        return [
            Text(("★" if record.id == best else " ") + record.id, style="bold green" if record.id == best else ""),
            *(Text(value_label(record.params.get(axis.name)), justify="right") for axis in sweep.definition.axes),
            Text(record.status, style=STATUS_STYLES.get(record.status, "")),
            Text(str(record.step), justify="right"),
            _loss(record.last_loss),
            _loss(record.val_loss),
            _loss(record.val_bpc),
            _speed(speed),
        ]

    def _update_rows(self) -> None:
        """Bring every row up to date (adding new trials); only cells that changed are redrawn."""
        sweep = self.sweep
        if sweep is None:
            return
        table = self.query_one(TrialTable)
        best = next(iter(sweep.ranked(self.metric)), None)
        keys = [str(column.key.value) for column in table.ordered_columns]
        for record in list(sweep.trials):
            cells = self._row(sweep, record, best.id if best else None)
            if record.id not in table.rows:
                table.add_row(*cells, key=record.id)
                continue
            for key, cell in zip(keys, cells):
                if table.get_cell(record.id, key) != cell:
                    table.update_cell(record.id, key, cell, update_width=True)

    def _axes(self) -> tuple[Axis | None, Axis]:
        axes = self.sweep.definition.axes if self.sweep else ()
        if len(axes) == 1:
            return None, axes[0]
        pairs = list(permutations(axes, 2))
        return pairs[self.axis_pair % len(pairs)]

    def _show_heatmap(self) -> None:
        heatmap = self.query_one(Heatmap)
        line = self.query_one(MetricLine)
        sweep = self.sweep
        if sweep is None:
            line.display = False
            heatmap.show(None, "No sweep shown yet.\n\nSet one up on the Setup panel (e) and press ctrl+r,\n"
                               "or open a saved one with ctrl+o.")
            return
        rows, cols = self._axes()
        data = heatmap_data(sweep, self.metric, rows, cols)
        heatmap.show(data)
        line.display = rows is None
        self.query_one("#panel-heatmap").set_class(rows is None, "-one-axis")
        if rows is None:
            line.show(cols, {c: value for (_, c), value in data.values.items()}, METRIC_LABELS[self.metric])

    def _show_status(self) -> None:
        status = self.query_one("#sweep-status", Static)
        sweep = self.sweep
        if sweep is None:
            status.update(Text("No sweep shown: ctrl+r runs the setup, ctrl+o opens a saved sweep.", "dim"))
            return
        text = Text(sweep.path.name, "bold").append(f"  {sweep_counts(sweep)}  ")
        if self.running:
            text.append("stopping, the trials save a checkpoint…" if self._stop.is_set() else "running",
                        "bold yellow" if self._stop.is_set() else "bold cyan")
        elif any(record.status == "running" for record in sweep.trials):
            text.append("running elsewhere, or killed: followed live", "cyan")
        elif resumable(sweep):
            text.append("stopped: ctrl+g resumes", "yellow")
        else:
            text.append("finished", "green")
        status.update(text)

    def _show_trial_logs(self, redraw: bool = False) -> None:
        """Read what the trials' logs gained; redraw the curves and samples when anything did."""
        sweep = self.sweep
        if sweep is None:
            return
        for record in list(sweep.trials):
            metrics = self._metrics.setdefault(record.id, MetricsTail(sweep.trial_path(record) / METRICS_FILE))
            redraw = metrics.poll() or redraw
        order = sweep.ranked(self.metric)
        ends = [(order[0], "best"), (order[-1], "worst")] if order else []
        for record, _ in ends:
            tail, samples = self._samples.setdefault(
                record.id, (JsonlTail(sweep.trial_path(record) / SAMPLES_FILE), []))
            restarted, new = tail.read()
            if restarted:
                samples.clear()
            samples.extend(new)
            redraw = redraw or restarted or bool(new)
        if redraw:
            self._draw_curves(order)
            self._draw_samples(ends)

    def _draw_curves(self, order: list[TrialRecord]) -> None:
        """Every trial in grey, the highlighted one in cyan, the worst in red and the best in green on top."""
        chart = self.query_one("#curves-chart", LossChart)
        table = self.query_one(TrialTable)
        selected = table.ordered_rows[table.cursor_row].key.value if table.row_count else None
        best, worst = (order[0].id, order[-1].id) if order else (None, None)
        marked = {selected: "cyan", worst: "red", best: "green"}
        curves = []
        for trial, metrics in self._metrics.items():
            if trial not in marked:
                curves.append(Curve("", _thin(metrics.steps, BACKGROUND_POINTS),
                                    _thin(metrics.losses, BACKGROUND_POINTS), "gray"))
        for key, color in marked.items():
            if key is not None and key in self._metrics:
                metrics = self._metrics[key]
                label = {"green": f"best {key}", "red": f"worst {key}"}.get(color, key)
                curves.append(Curve(label, _thin(metrics.steps, HIGHLIGHT_POINTS),
                                    _thin(metrics.losses, HIGHLIGHT_POINTS), color))
        chart.border_subtitle = f"best and worst by {self.metric}; the highlighted trial in cyan"
        chart.show(curves)

    def _draw_samples(self, ends: list[tuple[TrialRecord, str]]) -> None:
        for which in ("best", "worst"):
            self.query_one(f"#{which}-sample").border_title = f"{which} trial"
            self.query_one(f"#{which}-sample-text", Static).update(Text("No finished trial yet.", "dim"))
        for record, which in ends:
            self.query_one(f"#{which}-sample").border_title = (
                f"{which}: {record.id}, {self.metric} {record.metric(self.metric):.4f}")
            text = Text().append(describe_point(record.params) + "\n\n", "bold")
            samples = self._samples[record.id][1]
            if samples:
                latest = samples[-1]
                text.append(f"step {latest.get('step', '?')}\n", "cyan")
                text.append(str(latest.get("prompt", "")), "bold").append(str(latest.get("text", "")))
            elif not record.config["train"]["sample_every"]:
                text.append("no samples: this trial ran with sample_every = 0", "dim")
            else:
                text.append("no sample written yet", "dim")
            self.query_one(f"#{which}-sample-text", Static).update(text)

    # ----- keys ------------------------------------------------------------------------------------
    def action_panel(self, panel: str) -> None:
        self.query_one(TabbedContent).active = f"panel-{panel}"
        self._panel_shown(panel)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._panel_shown(str(event.pane.id).removeprefix("panel-"))

    def _panel_shown(self, panel: str) -> None:
        """Focus the panel's main widget, so its keys work at once, and read the logs it shows."""
        if panel in ("curves", "samples"):
            self._show_trial_logs(redraw=True)
        focus = {"setup": "#source", "trials": "#trial-table", "heatmap": "#heatmap-box", "samples": "#best-sample"}
        if panel in focus:
            self.query_one(focus[panel]).focus()
        else:
            self.query_one(Tabs).focus()
        self.refresh_bindings()

    def action_leave_form(self) -> None:
        self.query_one(Tabs).focus()

    def action_metric(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self.notify(f"Ranking by {METRIC_LABELS[self.metric]}", timeout=2)
        self._show_results()
        self._show_trial_logs(redraw=True)

    def action_axes(self) -> None:
        self.axis_pair += 1
        self._show_heatmap()

    def action_log_scale(self) -> None:
        self.query_one("#curves-chart", LossChart).toggle_log_scale()

    def action_calibrate(self) -> None:
        if self._plan is None:
            self._error("; ".join(self._plan_errors), "Fix the setup first")
            return
        self._calibrating = True
        self.tuirnn.ensure_torch()
        self._calibrate(self._plan, self._loader)
        if self._panel() != "setup":
            self.action_panel("setup")
        self._show_checks()

    def action_open(self) -> None:
        self.app.push_screen(SweepPicker(self.tuirnn.models_dir / SWEEPS_DIR), self._open)

    def _open(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            sweep = SweepDir.read(path)
        except RunError as exc:
            self._error(str(exc), "Cannot open the sweep")
            return
        self._fill(sweep.definition, sweep.definition.name)
        self._show_sweep(sweep)
        self.refresh_bindings()
        self.action_panel("heatmap" if sweep.trials else "trials")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self._panel() == "curves":
            self._show_trial_logs(redraw=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open the trial on the Generate screen, once it has a checkpoint to generate from."""
        sweep = self.sweep
        record = sweep.find(str(event.row_key.value)) if sweep else None
        if sweep is None or record is None:
            return
        path = sweep.trial_path(record)
        if not (path / LATEST_FILE).exists():
            self.notify(f"{record.id} has no checkpoint yet.", severity="warning")
            return
        self.tuirnn.open_in_generate(path)

"""The Sweep screen: coordinates its panels (setup, trials, heatmap, curves, samples) and its keys.

It decides which sweep the results panels show (one run here, or opened from disk) and by which measure
they rank trials, starts, resumes and stops sweeps on the app's runner, and redraws what the runner's
updates change. A saved sweep that another process runs is followed live by re-reading its sweep.json.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, TabbedContent, Tabs

from tuirnn.atomic import atomic_write_bytes
from tuirnn.errors import TuirnnError
from tuirnn.runs import LATEST_FILE, SWEEP_FILE, SWEEPS_DIR, RunError
from tuirnn.sweeps.definition import METRICS
from tuirnn.sweeps.events import SweepEnded, TrialEnded
from tuirnn.sweeps.listing import new_sweep_path, resumable
from tuirnn.sweeps.results import METRIC_LABELS
from tuirnn.sweeps.start import SweepPlan, engine_problem
from tuirnn.sweeps.sweepdir import SweepDir
from tuirnn.tui.focus import leave_text_fields
from tuirnn.tui.screens.base import AppScreen
from tuirnn.tui.screens.sweep.curves import CurvesPanel
from tuirnn.tui.screens.sweep.heatmap import HeatmapPanel
from tuirnn.tui.screens.sweep.picker import SweepPicker
from tuirnn.tui.screens.sweep.samples import SamplesPanel
from tuirnn.tui.screens.sweep.setup import SetupPanel, notify_error
from tuirnn.tui.screens.sweep.status import SweepStatus
from tuirnn.tui.screens.sweep.trials import TrialsPanel
from tuirnn.tui.sweep_runner import SweepUpdate
from tuirnn.tui.widgets.form_path_prompt import PathPrompt

if TYPE_CHECKING:
    from tuirnn.tui.app import TuirnnApp

TICK_S = 1.0
"""How often the shown logs, and a sweep run elsewhere, are read again."""
PANEL = Binding.Group("Panel", compact=True)
PANELS = ("setup", "trials", "heatmap", "curves", "samples")
FOCUS = {"trials": "#trial-table", "heatmap": "#heatmap-box", "samples": "#best-sample"}
"""The widget each panel focuses when shown, so its keys work at once; the others focus the tabs (the setup's
form too: `[` and `]` pass through it without typing, Tab enters it)."""


class SweepScreen(AppScreen):
    CSS_PATH = "sweep.tcss"
    BINDINGS = [
        Binding("left_square_bracket", "view(-1)", "Previous panel", group=PANEL, id="sweep-panel-previous"),
        Binding("right_square_bracket", "view(1)", "Next panel", group=PANEL, id="sweep-panel-next"),
        Binding("ctrl+t", "start", "Run", id="sweep-run"),
        Binding("r", "resume", "Resume", id="sweep-resume"),
        Binding("x", "stop", "Stop & save", id="sweep-stop"),
        Binding("v", "value", "Metric", id="sweep-metric"),
        Binding("w", "axes", "Swap axes", id="sweep-axes"),
        Binding("l", "log_scale", "Log scale", id="sweep-log"),
        Binding("ctrl+b", "calibrate", "Time it", id="sweep-calibrate"),
        Binding("ctrl+o", "open", "Open", id="sweep-open"),
        Binding("ctrl+s", "save", "Save setup", id="sweep-save"),
        Binding("escape", "leave_form", "Done editing", id="sweep-leave-form"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sweep: SweepDir | None = None
        """The sweep the results panels show: run here, or opened from disk."""
        self.metric = "val_loss"
        """The measure trials are ranked by (the best starred, the heatmap's values), cycled by `v`."""
        self._disk_version: int | None = None

    @property
    def tuirnn(self) -> TuirnnApp:
        return cast("TuirnnApp", self.app)

    @property
    def running(self) -> bool:
        """Whether the app runs a sweep (the shown one: opening another waits until it ends)."""
        return self.tuirnn.sweeps.running

    @property
    def setup(self) -> SetupPanel:
        return self.query_one(SetupPanel)

    # ----- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        app = self.tuirnn
        yield Header()
        with TabbedContent(id="sweep-tabs", initial="panel-setup"):
            yield SetupPanel(lambda: app.config, app.data_dir, app.ensure_torch, id="panel-setup")
            yield TrialsPanel(id="panel-trials")
            yield HeatmapPanel(id="panel-heatmap")
            yield CurvesPanel(id="panel-curves")
            yield SamplesPanel(id="panel-samples")
        yield SweepStatus(id="sweep-status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Sweep"
        runner = self.tuirnn.sweeps
        runner.changed.subscribe(self, self._on_sweep_update)
        self._timer = self.set_interval(TICK_S, self._tick, pause=True)
        if runner.sweep is not None:
            self._show_sweep(runner.sweep)
        else:
            self._show_results()
        if runner.running:
            self.action_panel("trials")  # where its keys (x stops it) work, not in a form that takes them as text
        else:
            self.setup.focus_form()

    def on_screen_resume(self) -> None:
        leave_text_fields(self, "Tabs")
        self._timer.resume()
        self.setup.follow_app_config()

    def on_screen_suspend(self) -> None:
        self._timer.pause()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Footer entries follow the state: Run or Stop, Resume for a stopped sweep, panel keys per panel."""
        panel = self._panel()
        if action == "start":
            return not self.running
        if action == "stop":
            return self.running
        if action == "resume":
            return not self.running and self.sweep is not None and resumable(self.sweep)
        if action == "open":
            return not self.running
        if action == "leave_form":
            return self.setup.editing
        if action == "value":
            return panel in ("trials", "heatmap", "curves", "samples")
        if action == "axes":
            return panel == "heatmap" and HeatmapPanel.can_turn(self.sweep)
        if action == "log_scale":
            return panel == "curves"
        return True

    def _panel(self) -> str:
        return self.query_one(TabbedContent).active.removeprefix("panel-")

    # ----- starting, resuming, stopping ------------------------------------------------------------
    def action_start(self) -> None:
        plan = self.setup.startable()
        if plan is None or not self._engine_available(plan.engine):
            return
        try:
            sweep = SweepDir.create(new_sweep_path(self.tuirnn.models_dir, plan.definition.name), plan.definition,
                                    claim=True)
        except (RunError, OSError) as exc:
            notify_error(self, str(exc), "Cannot create the sweep")
            return
        self._show_sweep(sweep)
        self._start(sweep, plan)

    def action_resume(self) -> None:
        """Continue the shown sweep as it was defined, with the setup's engine and workers; a sweep that
        another live process runs is refused (its lock says so), one whose driver died is resumed."""
        shown = self.sweep
        if shown is None:
            return
        plan = self.setup.plan_for(shown.definition)
        if not self._engine_available(plan.engine):
            return
        try:
            sweep = SweepDir.open(shown.path)  # takes the lock, then clears the temp files a killed driver left
        except TuirnnError as exc:
            notify_error(self, str(exc), "Cannot resume the sweep")
            return
        self.sweep = sweep
        self._start(sweep, plan)

    def _engine_available(self, engine: str) -> bool:
        problem = engine_problem(engine)
        if problem is not None:
            notify_error(self, problem, "No Ray")
        return problem is None

    def _start(self, sweep: SweepDir, plan: SweepPlan) -> None:
        self.tuirnn.ensure_torch()
        self.tuirnn.sweeps.start(sweep, plan)
        self._show_status()
        self.refresh_bindings()
        self.action_panel("trials")

    def action_stop(self) -> None:
        self.tuirnn.sweeps.stop()
        self._show_status()

    # ----- following the sweep ---------------------------------------------------------------------
    def _on_sweep_update(self, update: SweepUpdate) -> None:
        if update.ended:
            self._follow_disk()
            self._show_results()
            self.refresh_bindings()
        elif any(isinstance(event, (TrialEnded, SweepEnded)) for event in update.events):
            self._show_results()
        else:
            self._update_rows()
            self._show_status()

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
            self.tuirnn.sweeps.take_news()  # progress that came within the feed's interval of the last news
        else:
            self._follow_disk()
        self._show_logs()

    # ----- showing a sweep -------------------------------------------------------------------------
    def _show_sweep(self, sweep: SweepDir) -> None:
        """Make `sweep` the one the results panels show."""
        self.sweep = sweep
        self._disk_version = None
        self.query_one(TrialsPanel).reset(sweep)
        self.query_one(HeatmapPanel).reset()
        self.query_one(CurvesPanel).reset()
        self.query_one(SamplesPanel).reset()
        self._show_results()

    def _show_results(self) -> None:
        self._update_rows()
        self.query_one(HeatmapPanel).show(self.sweep, self.metric)
        self._show_status()
        self._show_logs(redraw=True)

    def _update_rows(self) -> None:
        if self.sweep is not None:
            runner = self.tuirnn.sweeps
            self.query_one(TrialsPanel).show(self.sweep, self.metric, runner.speeds if runner.running else {})

    def _show_status(self) -> None:
        self.query_one(SweepStatus).show(self.sweep, self.running, self.tuirnn.sweeps.stopping,
                                         self.tuirnn.sweeps.workers)

    def _show_logs(self, redraw: bool = False) -> None:
        """Read the trials' logs that the shown panel draws, if it draws any."""
        sweep, panel = self.sweep, self._panel()
        if sweep is None:
            return
        if panel == "curves":
            self.query_one(CurvesPanel).poll(sweep, self.metric, self.query_one(TrialsPanel).selected, redraw)
        elif panel == "samples":
            self.query_one(SamplesPanel).poll(sweep, self.metric, redraw)

    # ----- keys ------------------------------------------------------------------------------------
    def action_view(self, step: int) -> None:
        self.action_panel(PANELS[(PANELS.index(self._panel()) + step) % len(PANELS)])

    def action_panel(self, panel: str) -> None:
        self.query_one(TabbedContent).active = f"panel-{panel}"
        self._panel_shown(panel)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._panel_shown(str(event.pane.id).removeprefix("panel-"))

    def _panel_shown(self, panel: str) -> None:
        """Focus the panel's main widget, so its keys work at once, and read the logs it shows."""
        self._show_logs(redraw=True)
        if panel in FOCUS:
            self.query_one(FOCUS[panel]).focus()
        else:
            self.query_one(Tabs).focus()
        self.refresh_bindings()

    def action_leave_form(self) -> None:
        self.query_one(Tabs).focus()

    def action_value(self) -> None:
        self.metric = METRICS[(METRICS.index(self.metric) + 1) % len(METRICS)]
        self.notify(f"Ranking by {METRIC_LABELS[self.metric]}", timeout=2)
        self._show_results()

    def action_axes(self) -> None:
        heatmap = self.query_one(HeatmapPanel)
        heatmap.turn()
        heatmap.show(self.sweep, self.metric)

    def action_log_scale(self) -> None:
        self.query_one(CurvesPanel).toggle_log_scale()

    def action_calibrate(self) -> None:
        if self.setup.calibrate() and self._panel() != "setup":
            self.action_panel("setup")

    def action_save(self) -> None:
        """Write the setup as a sweep TOML file, for `tuirnn sweep FILE` or to open here again."""
        plan = self.setup.plan
        if plan is None:
            self.setup.say_errors()
            return
        self.app.push_screen(PathPrompt("Save the sweep setup as TOML to:", f"{plan.definition.name}.toml"),
                             partial(self._save_setup, plan.definition.to_toml()))

    def _save_setup(self, text: str, path: Path | None) -> None:
        if path is None:
            return
        try:
            atomic_write_bytes(path, text.encode("utf-8"))
        except OSError as exc:
            notify_error(self, f"Cannot save {path}: {exc.strerror or exc}")
            return
        self.notify(f"Saved {path}; tuirnn sweep {path} runs it", markup=False)

    def action_open(self) -> None:
        self.app.push_screen(SweepPicker(self.tuirnn.models_dir / SWEEPS_DIR), self._open)

    def _open(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            sweep = SweepDir.read(path)
        except RunError as exc:
            notify_error(self, str(exc), "Cannot open the sweep")
            return
        self.setup.fill(sweep.definition, sweep.definition.name)
        self._show_sweep(sweep)
        self.refresh_bindings()
        self.action_panel("heatmap" if sweep.trials else "trials")

    def on_trials_panel_highlighted(self, message: TrialsPanel.Highlighted) -> None:
        if self._panel() == "curves":
            self._show_logs(redraw=True)

    def on_trials_panel_chosen(self, message: TrialsPanel.Chosen) -> None:
        """Open the trial on the Generate screen, once it has a checkpoint to generate from."""
        sweep = self.sweep
        record = sweep.find(message.trial) if sweep else None
        if sweep is None or record is None:
            return
        try:
            path = sweep.trial_path(record)
        except TuirnnError as exc:
            notify_error(self, str(exc), "Cannot open the trial")
            return
        if not (path / LATEST_FILE).exists():
            self.notify(f"{record.id} has no checkpoint yet.", severity="warning")
            return
        self.tuirnn.open_in_generate(path)

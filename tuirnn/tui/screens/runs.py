"""Saved runs: browse them, watch one that another process is training, compare two, resume, generate, delete.

Every row shows the run's name. A sweep's trials are grouped under one row of their sweep, collapsed until
Enter opens it; they are resumed and deleted with their sweep, not alone. `o` changes the order (newest,
best validation loss, name), `/` filters by name, corpus or model.

The highlighted run's loss curves and samples show below the table. While the screen is active a timer
reads what the shown runs' logs gained (see `RunTail`), so a headless `tuirnn train` is watched live.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Input, Static

from tuirnn.live import read_live
from tuirnn.runs import (
    LIVE_STATUSES,
    RunError,
    RunSummary,
    delete_run,
    list_runs,
    listing_stamp,
)
from tuirnn.tui.screens.base import AppScreen
from tuirnn.tui.screens.confirm import ConfirmScreen
from tuirnn.tui.widgets.loss_chart import Curve, LossChart
from tuirnn.tui.widgets.run_tail import RunTail

if TYPE_CHECKING:
    from tuirnn.tui.app import TuirnnApp

POLL_S = 1.0
MAX_SAMPLES = 100
CORPUS_WIDTH = 15
MARK = "◆"
SHOWN_COLORS = ("cyan", "orange")
MARKED_COLORS = ("magenta", "green")
STATUS_STYLES = {"running": "bold green", "failed": "red", "stopped": "yellow", "interrupted": "yellow"}
COLUMNS = (("", "mark"), ("run", "name"), ("model", "model"), ("steps", "steps"), ("val", "loss"),
           ("status", "status"), ("modified", "date"), ("corpus", "corpus"), ("bpc", "bpc"))
"""The name first and what tells runs apart next: at 80 columns the last ones scroll into view."""
NAME_WIDTH = 28
SWEEP_KEY = "sweep:"
"""Row keys of sweeps (their trials' rows are keyed by their paths, as runs are)."""
ORDERS = ("newest", "best val", "name")


def _order_key(order: str, summary: RunSummary) -> tuple[Any, ...]:
    if order == "best val":
        loss = summary.best_val_loss
        return (loss is None, loss if loss is not None else 0.0, -summary.modified)
    if order == "name":
        return (summary.name.lower(),)
    return (-summary.modified,)


def _number(value: float | None) -> Text:
    return Text("–" if value is None else f"{value:.3f}", justify="right")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _cells(summary: RunSummary, marked: bool) -> list[Any]:
    name = f"  {summary.path.name}" if summary.sweep_name else summary.name
    return [
        Text(MARK if marked else "", style="bold magenta"),
        _clip(name, NAME_WIDTH),
        summary.architecture,
        Text(str(summary.steps), justify="right"),
        _number(summary.best_val_loss),
        Text(summary.status, style=STATUS_STYLES.get(summary.status, "")),
        _date(summary.modified),
        _clip(summary.corpus, CORPUS_WIDTH),
        _number(summary.best_val_bpc),
    ]


def _sweep_cells(name: str, trials: list[RunSummary], open_: bool) -> list[Any]:
    """One row for a sweep: its trials' count, the best of them, how many train now, the newest change."""
    losses = [t.best_val_loss for t in trials if t.best_val_loss is not None]
    live = sum(t.status in LIVE_STATUSES for t in trials)
    status = f"{live} running" if live else f"{len(trials)} trials"
    bpcs = [t.best_val_bpc for t in trials if t.best_val_bpc is not None]
    return [
        "",
        Text(_clip(f"{'▾' if open_ else '▸'} {name}", NAME_WIDTH), style="bold"),
        "sweep",
        Text(str(sum(t.steps for t in trials)), justify="right"),
        _number(min(losses) if losses else None),
        Text(status, style="bold green" if live else ""),
        _date(max(t.modified for t in trials)),
        _clip(trials[0].corpus, CORPUS_WIDTH),
        _number(min(bpcs) if bpcs else None),
    ]


def _date(timestamp: float) -> str:
    """Like `ls -l`: the time for this year's runs, the year for older ones; short enough for 80 columns."""
    when = time.localtime(timestamp)
    return time.strftime("%m-%d %H:%M" if when.tm_year == time.localtime().tm_year else "%Y-%m-%d", when)


def _samples_text(samples: Sequence[dict[str, Any]]) -> Text:
    if not samples:
        return Text("No samples yet: a run writes one every sample_every steps.", style="dim")
    text = Text()
    for sample in reversed(samples[-MAX_SAMPLES:]):
        text.append(f"step {sample.get('step', '?')}", style="bold cyan")
        text.append(f"  seed {sample.get('seed', '?')}\n", style="dim")
        text.append(str(sample.get("prompt", "")), style="bold")
        text.append(str(sample.get("text", "")).replace("\n", " ⏎ ") + "\n\n")
    return text


class RunTable(DataTable[Any]):
    """The runs list; Enter is shown in the Footer because it opens the run's samples."""

    BINDINGS = [Binding("enter", "select_cursor", "Open", id="runs-open")]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.row_count > 0 if action == "select_cursor" else True


class RunsScreen(AppScreen):
    CSS_PATH = "runs.tcss"
    BINDINGS = [
        Binding("escape", "back_to_list", "Runs list", id="runs-back"),
        Binding("m,space", "mark", "Compare", id="runs-mark"),
        Binding("g", "generate", "Generate", id="runs-generate"),
        Binding("r", "resume", "Resume", id="runs-resume"),
        Binding("a", "attach", "Attach", id="runs-attach"),
        Binding("delete,backspace", "delete", "Delete", id="runs-delete"),
        Binding("l", "log_scale", "Log scale", id="runs-log"),
        Binding("z", "recent_steps", "Recent steps", id="runs-recent"),
        Binding("o", "order", "Order", id="runs-order"),
        Binding("slash", "filter", "Filter", id="runs-filter"),
    ]
    RUN_ACTIONS = frozenset({"mark", "generate", "resume", "attach", "delete", "log_scale", "recent_steps", "order"})

    def __init__(self) -> None:
        super().__init__()
        self._runs: dict[str, RunSummary] = {}
        self._tails: dict[str, RunTail] = {}
        self._shown: str | None = None
        self._marked: str | None = None
        self._listed_stamp: tuple[int, ...] | None = None
        self._open_sweeps: set[str] = set()
        self._order = ORDERS[0]
        self._filter = ""

    @property
    def tuirnn(self) -> TuirnnApp:
        return cast("TuirnnApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        yield RunTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Input(placeholder="filter by name, corpus or model (Enter keeps it, Escape clears it)",
                    id="runs-filter")
        yield Static(id="runs-empty")
        yield Static(id="runs-live")
        with Horizontal(id="runs-detail"):
            yield LossChart(title="", id="runs-chart")
            with VerticalScroll(id="runs-samples"):
                yield Static(id="runs-samples-text")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Runs"
        table = self.query_one(RunTable)
        for label, key in COLUMNS:
            table.add_column(label, key=key, width=len(MARK) if key == "mark" else None)
        self._show_order()
        self.query_one("#runs-samples").border_title = "samples, newest first"
        self.query_one("#runs-empty", Static).update(
            f"No runs in {self.tuirnn.models_dir} yet.\n\nPress 1 to train one here, or run `tuirnn train` in a "
            "shell: runs appear here as they are saved, and one being trained is followed live."
        )
        self._timer = self.set_interval(POLL_S, self._tick, pause=True)

    def on_screen_resume(self) -> None:
        self._load()
        self._timer.resume()

    def on_screen_suspend(self) -> None:
        self._timer.pause()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Run actions leave the Footer while there is no run; Escape only shows away from the list."""
        if action in self.RUN_ACTIONS:
            return bool(self._runs)
        if action == "back_to_list":
            return self.focused is not self.query_one(RunTable)
        return True

    # ----- order and filter ------------------------------------------------------------------------
    def _show_order(self) -> None:
        shown = f" matching {self._filter!r}" if self._filter else ""
        self.query_one(RunTable).border_title = f"runs{shown}, {self._order} first (o orders, / filters)"

    def action_order(self) -> None:
        self._order = ORDERS[(ORDERS.index(self._order) + 1) % len(ORDERS)]
        self._show_order()
        self._load()

    def action_filter(self) -> None:
        self.add_class("-filtering")
        self.query_one("#runs-filter", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._filter = event.value.strip()
        self._show_order()
        self._load()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(RunTable).focus()

    def _matches(self, summary: RunSummary) -> bool:
        wanted = self._filter.lower()
        return not wanted or any(wanted in text.lower() for text in (summary.name, summary.corpus,
                                                                       summary.architecture))

    # ----- the list --------------------------------------------------------------------------------
    def _load(self) -> None:
        """Re-read models/, keeping the cursor on the same run."""
        self._listed_stamp = listing_stamp(self.tuirnn.models_dir)  # first: a change while listing lists again
        runs = list_runs(self.tuirnn.models_dir)
        self._runs = {str(summary.path): summary for summary in runs}
        if self._marked not in self._runs:
            self._marked = None
        table = self.query_one(RunTable)
        selected = self._selected()
        table.clear()
        for key, cells in self._rows([run for run in runs if self._matches(run)]):
            table.add_row(*cells, key=key)
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected))
        self.set_class(not runs, "-empty")
        self.refresh_bindings()
        selected = self._selected()
        self._shown = None if selected is None or selected.startswith(SWEEP_KEY) else selected
        self._poll(redraw=True)

    def _rows(self, runs: list[RunSummary]) -> list[tuple[str, list[Any]]]:
        """Runs, and one row per sweep (its trials below it when open), in the chosen order."""
        sweeps: dict[str, list[RunSummary]] = {}
        entries: list[tuple[tuple[Any, ...], str, RunSummary | None]] = []
        for summary in sorted(runs, key=lambda run: _order_key(self._order, run)):
            if summary.sweep_name is None:
                entries.append((_order_key(self._order, summary), str(summary.path), summary))
            else:
                sweep_key = SWEEP_KEY + str(summary.path.parent.parent)
                if sweep_key not in sweeps:  # placed where its first trial in this order goes
                    entries.append((_order_key(self._order, summary), sweep_key, None))
                sweeps.setdefault(sweep_key, []).append(summary)
        rows: list[tuple[str, list[Any]]] = []
        for _, key, run in sorted(entries, key=lambda entry: entry[0]):
            if run is not None:
                rows.append((key, _cells(run, key == self._marked)))
                continue
            trials = sweeps[key]
            open_ = key in self._open_sweeps or bool(self._filter)
            rows.append((key, _sweep_cells(trials[0].sweep_name or "", trials, open_)))
            if open_:
                rows += [(str(t.path), _cells(t, str(t.path) == self._marked)) for t in trials]
        return rows

    def _selected(self) -> str | None:
        table = self.query_one(RunTable)
        if not table.row_count:
            return None
        return table.ordered_rows[table.cursor_row].key.value

    def _selected_run(self) -> str | None:
        """The highlighted run's key; None (and why) on a sweep's row."""
        key = self._selected()
        if key is not None and key.startswith(SWEEP_KEY):
            self.notify("A sweep: Enter lists its trials; the Sweep screen (5) resumes or deletes it.",
                        severity="warning")
            return None
        return key

    def _tick(self) -> None:
        if listing_stamp(self.tuirnn.models_dir) != self._listed_stamp:
            self._load()
        else:
            self._poll()

    # ----- the detail ------------------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        if key is not None and key.startswith(SWEEP_KEY):
            key = None  # a sweep's row: its trials have the detail
        if key != self._shown:
            self._shown = key
            self.query_one("#runs-samples").scroll_home(animate=False)
            self._poll(redraw=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is not None and key.startswith(SWEEP_KEY):  # Enter opens or closes a sweep's group
            self._open_sweeps ^= {key}
            self._load()
            return
        self.query_one("#runs-samples").focus()

    def _poll(self, redraw: bool = False) -> None:
        """Read what the logs of the shown runs, and of runs still training, gained since the last poll.

        Rows follow every run that is training; the detail is redrawn only when a shown run changed.
        """
        shown = [key for key in (self._shown, self._marked) if key is not None]
        live = [key for key, summary in self._runs.items() if summary.status in LIVE_STATUSES]
        self._tails = {key: self._tails.get(key) or RunTail(Path(key)) for key in dict.fromkeys(shown + live)}
        for key, tail in self._tails.items():
            if tail.poll():
                self._update_row(key, tail)
                redraw = redraw or key in shown
        if redraw:
            self._draw()
        self._show_live()

    def _show_live(self) -> None:
        """Who trains the highlighted run, where it stands and when it last said so (its heartbeat)."""
        summary = self._runs.get(self._shown) if self._shown is not None else None
        live = read_live(summary.path) if summary is not None and summary.status in LIVE_STATUSES else None
        line = self.query_one("#runs-live", Static)
        line.display = live is not None
        if live is not None:
            line.update(f"live: {live.describe()}; a attaches")

    def _update_row(self, key: str, tail: RunTail) -> None:
        summary = tail.summarize(self._runs[key])
        self._runs[key] = summary
        table = self.query_one(RunTable)
        if key not in table.rows:  # a trial in a closed sweep, or filtered out
            return
        for (_, column), value in zip(COLUMNS, _cells(summary, key == self._marked), strict=True):
            table.update_cell(key, column, value, update_width=True)

    def _curves(self, key: str, prefix: str, colors: tuple[str, str]) -> list[Curve]:
        metrics = self._tails[key].metrics
        return [
            Curve(prefix + "train", metrics.steps, metrics.losses, colors[0]),
            Curve(prefix + "val", metrics.val_steps, metrics.val_losses, colors[1]),
        ]

    def _draw(self) -> None:
        chart = self.query_one(LossChart)
        curves: list[Curve] = []
        if self._shown is not None:
            curves += self._curves(self._shown, "", SHOWN_COLORS)
        if self._marked is None:
            chart.border_subtitle = "m marks a run to compare"
        elif self._marked == self._shown:
            chart.border_subtitle = f"{MARK} marked: highlight another run to compare"
        else:
            curves += self._curves(self._marked, MARK + " ", MARKED_COLORS)
            chart.border_subtitle = f"vs {MARK} {self._run_name(self._marked)}"
        chart.border_title = self._run_name(self._shown) if self._shown else ""
        chart.show(curves)
        samples = self._tails[self._shown].samples if self._shown is not None else []
        self.query_one("#runs-samples-text", Static).update(_samples_text(samples))

    def _run_name(self, key: str) -> str:
        """A listed run's name; a run removed since the list was read still has its directory's."""
        summary = self._runs.get(key)
        return summary.name if summary is not None else Path(key).name

    # ----- actions ---------------------------------------------------------------------------------
    def action_back_to_list(self) -> None:
        """Back to the list; from the filter, Escape also clears it."""
        filter_input = self.query_one("#runs-filter", Input)
        if filter_input.has_focus:
            filter_input.value = ""
            self.remove_class("-filtering")
        self.query_one(RunTable).focus()

    def action_log_scale(self) -> None:
        self.query_one(LossChart).toggle_log_scale()

    def action_recent_steps(self) -> None:
        self.query_one(LossChart).action_recent_steps()

    def action_mark(self) -> None:
        """Marks the highlighted run to overlay on the chart; marking it again clears the mark."""
        key = self._selected_run()
        if key is None:
            return
        previous, self._marked = self._marked, None if key == self._marked else key
        table = self.query_one(RunTable)
        for changed in (key for key in (previous, self._marked) if key is not None and key in table.rows):
            table.update_cell(changed, "mark", _cells(self._runs[changed], changed == self._marked)[0])
        self._poll(redraw=True)

    def action_generate(self) -> None:
        key = self._selected_run()
        if key is not None:
            self.tuirnn.open_in_generate(Path(key))

    def action_resume(self) -> None:
        """Resume the highlighted run here; one that another live process trains (its lock says so) is
        refused, one whose trainer died (`interrupted`) is resumed."""
        key = self._selected_run()
        if key is None:
            return
        summary = self._runs[key]
        if summary.sweep_name is not None:
            self.notify(f"{summary.name} is a trial of sweep {summary.sweep_name}: resume the sweep "
                        "(Sweep screen: Ctrl+O opens it, r resumes it).",
                        severity="warning")
            return
        if summary.status in LIVE_STATUSES and not self.tuirnn.feed.active:
            self.notify(f"{summary.name} is being trained by another process: a attaches to it.",
                        severity="warning")
            return
        self.tuirnn.resume_run(summary.path)

    def action_attach(self) -> None:
        """Follow the highlighted run on the Train screen, as it trains in another process."""
        key = self._selected_run()
        if key is None:
            return
        summary = self._runs[key]
        if summary.status not in LIVE_STATUSES:
            self.notify(f"{summary.name} is not training ({summary.status}): r resumes it here.", severity="warning")
            return
        self.tuirnn.attach_run(summary.path)

    def action_delete(self) -> None:
        key = self._selected_run()
        if key is None:
            return
        summary = self._runs[key]
        if summary.sweep_name is not None:
            self.notify(f"{summary.name} is a trial of sweep {summary.sweep_name}, part of its results: it goes with "
                        "the sweep's directory, not alone.", severity="warning")
            return
        feed = self.tuirnn.feed
        if feed.active and feed.run_dir is not None and feed.run_dir.resolve() == summary.path.resolve():
            self.notify("This run is training: stop it first (x on the Train screen).", severity="warning")
            return

        def answered(delete: bool | None) -> None:
            if not delete:
                return
            try:
                delete_run(summary.path, self.tuirnn.models_dir)
            except (RunError, OSError) as exc:
                self.notify(f"Could not delete {summary.name}: {exc}", severity="error", timeout=8)
            self._load()

        question = f"Delete {summary.name}? Its checkpoints, logs and samples are removed for good."
        self.app.push_screen(ConfirmScreen(question, "Delete", destructive=True), answered)

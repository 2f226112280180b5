"""The Curves panel: every trial's training loss, read from the trials' metrics logs as they grow.

Every trial in grey, the highlighted one in cyan, the worst in red and the best in green on top. Curves are
thinned before plotting: plotext slows down with tens of thousands of points.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.app import ComposeResult
from textual.widgets import TabPane

from tuirnn.errors import TuirnnError
from tuirnn.runs import METRICS_FILE
from tuirnn.sweeps.sweepdir import SweepDir
from tuirnn.tui.widgets.loss_chart import Curve, LossChart
from tuirnn.tui.widgets.run_tail import MetricsTail

BACKGROUND_POINTS = 150
HIGHLIGHT_POINTS = 600


def _thin(values: Sequence[Any], points: int) -> list[Any]:
    return list(values[::max(1, len(values) // points)])


class CurvesPanel(TabPane):
    def __init__(self, *, id: str) -> None:
        super().__init__("Curves", id=id)
        self._metrics: dict[str, MetricsTail] = {}

    def compose(self) -> ComposeResult:
        yield LossChart(title="training loss of each trial", id="curves-chart")

    def reset(self) -> None:
        """A new sweep is shown: forget the logs read so far."""
        self._metrics.clear()

    def toggle_log_scale(self) -> None:
        self.query_one(LossChart).toggle_log_scale()

    def poll(self, sweep: SweepDir, metric: str, selected: str | None, redraw: bool = False) -> None:
        """Read what the trials' logs gained; redraw when anything did (or when asked to)."""
        for record in list(sweep.trials):
            if record.id not in self._metrics:
                try:
                    self._metrics[record.id] = MetricsTail(sweep.trial_path(record) / METRICS_FILE)
                except TuirnnError:  # a trial directory that leads out of the sweep is not read
                    continue
            redraw = self._metrics[record.id].poll() or redraw
        if redraw:
            self._draw(sweep, metric, selected)

    def _draw(self, sweep: SweepDir, metric: str, selected: str | None) -> None:
        order = sweep.ranked(metric)
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
        chart = self.query_one(LossChart)
        chart.border_subtitle = f"best and worst by {metric}; the highlighted trial in cyan"
        chart.show(curves)

"""Training and validation loss against step, drawn with plotext; one or several runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual_plotext import PlotextPlot

MAX_POINTS = 1500
"""plotext slows down with tens of thousands of points; a long curve is drawn from every n-th."""


@dataclass(frozen=True)
class Curve:
    label: str
    steps: Sequence[int]
    values: Sequence[float]
    color: str


class LossChart(PlotextPlot):
    """Call `show(curves)`; redrawing is left to Textual's refresh, so callers may throttle it."""

    def __init__(self, title: str = "loss", **kwargs: object):
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.title = title
        self.log_scale = False
        self._curves: list[Curve] = []

    def on_mount(self) -> None:
        super().on_mount()
        self._draw()

    def show(self, curves: Sequence[Curve]) -> None:
        self._curves = [c for c in curves if c.steps]
        self._draw()

    def toggle_log_scale(self) -> None:
        self.log_scale = not self.log_scale
        self._draw()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title + (" (log scale)" if self.log_scale else ""))
        plt.xlabel("step")
        if self.log_scale and self._curves:  # the empty placeholder at 0 has no logarithm
            plt.yscale("log")
        for curve in self._curves:
            length = min(len(curve.steps), len(curve.values))  # a training thread may be appending
            stride = max(1, length // MAX_POINTS)
            marker = "braille" if length > 1 else "dot"
            plt.plot(list(curve.steps[:length:stride]), list(curve.values[:length:stride]), label=curve.label,
                     color=curve.color, marker=marker)
        if not self._curves:
            plt.plot([0], [0], color="gray", marker=" ")
        self.refresh()

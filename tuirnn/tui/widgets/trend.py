"""A sparkline that draws a trend only once there is one.

Textual's Sparkline draws no data as a row of lowest bars (reading as zero) and a single value as a full
bar; until there are two values this shows the words or the value instead.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import RenderResult
from textual.widgets import Sparkline


class Trend(Sparkline):
    def render(self) -> RenderResult:
        data = self.data or []
        if len(data) >= 2:
            return super().render()
        return Text(f"{data[0]:.4f} (one value)" if data else "no data yet", style="dim", no_wrap=True,
                    overflow="ellipsis")

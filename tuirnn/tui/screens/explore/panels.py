"""What the Explore screen shows around the painted text, from what the screen holds: the status line, the
values that colour the text, the facts beside it (the unit under the cursor, the surprise table, the ranked
units) and the ranked units' sparklines under it. Plain functions, so the screen decides only which to show."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tuirnn.inspection.palette import DIVERGING, SURPRISAL, Band, shown
from tuirnn.inspection.recording import scaled
from tuirnn.tui.screens.explore.render import units_panel

if TYPE_CHECKING:
    import numpy as np

    from tuirnn.inspection.recording import Recording
    from tuirnn.inspection.units import UnitScore
    from tuirnn.tui.screens.explore.parts import Explored


def status_line(result: Explored, quantity: str, layer: int, unit: int, probe: str | None) -> str:
    """The run, its weights, where the text is from and the unit that colours it (and the probe, if ranking)."""
    recording = result.recording
    weights = result.subject.checkpoint.replace(" (step ", "@").rstrip(")")  # best@1200
    probed = f" | probe {probe}" if probe is not None else ""
    return (f"{result.subject.run.name} {weights} | {result.where}, {len(recording):,} chars | "
            f"L{layer + 1}/{recording.layers} {quantity}[{unit}] of {recording.hidden_size}{probed}")


def text_values(result: Explored, surprisal: bool, quantity: str, layer: int,
                unit: int) -> tuple[np.ndarray, tuple[Band, ...]]:
    """What colours each character and on which scale: its surprisal in bits, or one unit's scaled value."""
    if surprisal and result.surprise is not None:
        return result.surprise.surprisal / math.log(2), SURPRISAL
    return scaled(quantity, result.recording.unit(quantity, layer, unit)), DIVERGING


def unit_fact(recording: Recording, quantity: str, layer: int, unit: int, cursor: int, ascii_only: bool) -> Text:
    """The colouring unit's value under the cursor."""
    char = shown(recording.text[cursor], ascii_only)
    value = float(recording.unit(quantity, layer, unit)[cursor])
    return Text(f"L{layer + 1} {quantity}[{unit}] at '{char}' ({cursor:,}): {value:+.3f}")


def unit_traces(result: Explored, scores: list[UnitScore], note: str, selected: int, cursor: int, width: int,
                height: int, ascii_only: bool) -> RenderableType:
    """The ranked units as sparklines under an excerpt around the cursor, as many as fit in a third of `height`."""
    recording = result.recording
    if not scores:
        return Text(note or "no units ranked", style="dim")
    span = max(10, width - 18)
    start = max(0, min(cursor - span // 2, len(recording) - span))
    shown_units = scores[: max(3, height // 3 - 1)]  # what fits under the text
    traces = [(s, scaled(s.quantity, recording.unit(s.quantity, s.layer, s.unit))) for s in shown_units]
    return units_panel(recording.text, (start, min(len(recording), start + span)), traces, selected, cursor,
                       ascii_only)


def surprise_facts(result: Explored, cursor: int, ascii_only: bool) -> RenderableType:
    """The surprisal under the cursor, the top predictions there, the text's loss and the baselines to judge it."""
    from tuirnn.inspection.surprise import top_predictions

    recording = result.recording
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(justify="right", no_wrap=True)
    char = shown(recording.text[cursor], ascii_only)
    if result.surprise is not None:
        bits = float(result.surprise.surprisal[cursor]) / math.log(2)
        table.add_row(f"'{char}'", "-" if math.isnan(bits) else f"{bits:.2f} bits")
        for predicted, probability in top_predictions(recording, cursor):
            label = "␠" if predicted == " " else shown(predicted, ascii_only)  # a space, seen
            table.add_row(f"  {label}", f"{probability:.2f}")
        table.add_row("loss", f"{result.surprise.loss:.3f}")
        table.add_row("bits/char", f"{result.surprise.bits_per_char:.3f}")
        table.add_row("p<0.5", f"{result.surprise.wrong_share:.0%}")
    best = result.subject.run.info.get("best_val_loss")
    if isinstance(best, (int, float)):
        table.add_row("run's val loss", f"{best:.3f}")
    if not result.baselines:
        return table
    orders = f"{min(result.baselines)}-{max(result.baselines)}"
    losses = " ".join(f"{loss:.2f}" for loss in result.baselines.values())
    return Group(table, Text(f"n-gram val, order {orders}:\n{losses}"))


def ranking(scores: list[UnitScore], note: str, selected: int) -> RenderableType:
    """The ranked units with their correlations, the selected one reversed."""
    if not scores:
        return Text(note or "", style="dim")
    table = Table(box=None, show_header=True, padding=(0, 1), header_style="bold")
    table.add_column("unit", no_wrap=True)
    table.add_column("r", justify="right", no_wrap=True)
    table.add_column("on/off", justify="right", no_wrap=True)
    for rank, score in enumerate(scores):
        on_off = "-" if score.on_share is None else f"{score.on_share:.1f}/{score.off_share:.1f}"
        table.add_row(score.label, f"{score.correlation:+.2f}", on_off, style="reverse" if rank == selected else "")
    return table

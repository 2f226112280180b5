"""How often each gate is saturated: per layer and gate, the share of the text during which each unit's gate
is below 0.1 (left-saturated) or above 0.9 (right-saturated), drawn as Karpathy, Johnson and Fei-Fei (2015)
did, one point per unit. Gates that are mostly saturated act as switches; an LSTM's forget gates that stay
right-saturated keep information over long stretches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuirnn.inspection.recording import GATES, Recording

LEFT, RIGHT = 0.1, 0.9
DENSITY = ".:o8@"
"""How many units share a cell of the scatter: 1, 2-3, 4-7, 8-15, 16 or more."""


@dataclass(frozen=True)
class GateSaturation:
    layer: int
    gate: str
    left: np.ndarray
    """Per unit: the share of characters with the gate below LEFT."""
    right: np.ndarray
    """Per unit: the share of characters with the gate above RIGHT."""


def gate_saturation(recording: Recording) -> list[GateSaturation]:
    """Every gate of every layer; none for a plain RNN, which has no gates."""
    found = []
    for layer in range(recording.layers):
        for gate in GATES[recording.cell]:
            values = recording.values[gate][layer]
            found.append(GateSaturation(layer, gate, (values < LEFT).mean(axis=0), (values > RIGHT).mean(axis=0)))
    return found


def _density(count: int) -> str:
    return DENSITY[min(len(DENSITY) - 1, max(0, count.bit_length() - 1))]


def saturation_scatter(saturation: GateSaturation, width: int = 21, height: int = 9) -> list[str]:
    """An ASCII scatter: x the share of time left-saturated, y the share right-saturated, both 0..1; each cell
    marks how many units fall in it (DENSITY). `width` x `height` is the plot; axes and labels add two lines
    and two columns."""
    grid = np.zeros((height, width), dtype=int)
    columns = np.minimum((saturation.left * width).astype(int), width - 1)
    rows = np.minimum((saturation.right * height).astype(int), height - 1)
    np.add.at(grid, (rows, columns), 1)
    lines = []
    for row in range(height - 1, -1, -1):
        label = "1" if row == height - 1 else "0" if row == 0 else " "
        cells = "".join(_density(int(count)) if count else " " for count in grid[row])
        lines.append(f"{label}|{cells}")
    lines.append(" +" + "-" * width)
    lines.append("  0" + "left 1".rjust(width - 1))
    return lines

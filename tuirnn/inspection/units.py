"""Ranking units by how well they track a probe: Pearson correlation over the text, and for an on/off probe
LSTMVis-style shares of where the unit is on (above a threshold, on the -1..+1 scale) inside and off outside."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuirnn.inspection.errors import InspectError
from tuirnn.inspection.recording import Recording, scaled

THRESHOLD = 0.3
"""LSTMVis's default: a unit is on where its value, signed as it correlates, is above this."""


@dataclass(frozen=True)
class UnitScore:
    layer: int
    quantity: str
    unit: int
    correlation: float
    on_share: float | None
    """For an on/off probe: the share of the probe's positions where the unit is on (None for a quantity)."""
    off_share: float | None
    """For an on/off probe: the share of the other positions where the unit is off."""

    @property
    def label(self) -> str:
        """How the app and the CLI name the unit: layer (from 1), quantity, unit index."""
        return f"L{self.layer + 1} {self.quantity}[{self.unit}]"


def correlations(values: np.ndarray, probe: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of (characters, units) `values` with `probe`; 0 for a constant unit."""
    p = probe - probe.mean()
    centred = values - values.mean(axis=0, dtype=np.float64).astype(values.dtype)
    norms = np.linalg.norm(centred, axis=0) * np.linalg.norm(p)
    dot = (p.astype(values.dtype) @ centred).astype(np.float64)
    found: np.ndarray = np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 0)
    return found


def rank_units(recording: Recording, probe: np.ndarray, quantities: tuple[str, ...] = ("h",), top: int = 10,
               binary: bool = True, threshold: float = THRESHOLD) -> list[UnitScore]:
    """The `top` units of the given quantities (every layer) with the largest |correlation| with `probe`."""
    if probe.shape != (len(recording),):
        raise InspectError(f"the probe has {probe.shape[0]:,} values for a text of {len(recording):,} characters")
    if np.ptp(probe) == 0:
        raise InspectError("the probe has the same value all through this text: pick a text where it changes")
    unknown = [q for q in quantities if q not in recording.quantities]
    if unknown:
        raise InspectError(f"a {recording.cell} has no {', '.join(unknown)}; it has {', '.join(recording.quantities)}")
    found: list[tuple[float, int, str, int, float]] = []
    for quantity in quantities:
        for layer in range(recording.layers):
            r = correlations(recording.values[quantity][layer], probe)
            for unit in np.argsort(-np.abs(r))[:top]:
                found.append((-abs(float(r[unit])), layer, quantity, int(unit), float(r[unit])))
    found.sort()
    on = probe > 0.5
    scores = []
    for _, layer, quantity, unit, correlation in found[:top]:
        on_share = off_share = None
        if binary:
            signed = np.sign(correlation or 1.0) * scaled(quantity, recording.unit(quantity, layer, unit))
            active = signed > threshold
            on_share, off_share = float(active[on].mean()), float((~active[~on]).mean())
        scores.append(UnitScore(layer, quantity, unit, correlation, on_share, off_share))
    return scores

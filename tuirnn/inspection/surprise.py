"""How surprised the model is by each character of a text: its surprisal -log p, the text's loss and bits per
character, and how often the character that came was not the one the model favoured."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tuirnn.inspection.errors import InspectError
from tuirnn.inspection.recording import Recording

WRONG_BELOW = 0.5
"""A character counts as got wrong when the model gave it less than this probability."""


@dataclass(frozen=True)
class Surprise:
    surprisal: np.ndarray
    """Per character, -log p (nats) of it given the text before it; NaN for the first, which nothing predicts."""
    loss: float
    """Mean surprisal in nats per character, as training reports its losses."""
    wrong_share: float
    """The share of predicted characters given p < WRONG_BELOW."""

    @property
    def bits_per_char(self) -> float:
        return self.loss / math.log(2)


def surprise(recording: Recording) -> Surprise:
    if len(recording) < 2:
        raise InspectError("surprise needs at least two characters: the first is never predicted")
    ids = np.asarray(recording.vocab.encode(recording.text[1:]))
    predicted = recording.log_probs[np.arange(len(ids)), ids]
    surprisal = np.concatenate([[np.nan], -predicted]).astype(np.float32)
    return Surprise(surprisal, float(-predicted.mean()), float((np.exp(predicted) < WRONG_BELOW).mean()))


def top_predictions(recording: Recording, position: int, n: int = 5) -> list[tuple[str, float]]:
    """The `n` characters the model found likeliest at `position` (what it expected there), with their
    probabilities; none for the first character."""
    if position <= 0 or position >= len(recording):
        return []
    probs = np.exp(recording.log_probs[position - 1])
    order = np.argsort(-probs)[:n]
    return [(recording.vocab.chars[int(i)], float(probs[i])) for i in order]

"""What a recording holds and how its values are read: free of torch, so the app can draw a recording, and
pick what to record, before torch is imported."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tuirnn.corpus import Vocabulary

QUANTITIES = {"rnn": ("h",), "gru": ("h", "reset", "update"), "lstm": ("h", "c", "input", "forget", "output")}
"""What is recorded for each cell type, in the order the app cycles through them."""
GATES = {"rnn": (), "gru": ("reset", "update"), "lstm": ("input", "forget", "output")}
MAX_CHARS = 200_000
"""The longest text recorded: a 2x512 LSTM holds 40 MB per quantity and layer for every 10,000 characters."""


@dataclass(frozen=True)
class Recording:
    """A model's activations over `text`: position t is the state after reading text[t]."""

    text: str
    cell: str
    vocab: Vocabulary
    values: dict[str, np.ndarray]
    """Quantity -> float32 array (layers, characters, hidden units)."""
    log_probs: np.ndarray
    """(characters, vocabulary): log p of the character after each position, as the model predicted it."""

    def __len__(self) -> int:
        return len(self.text)

    @property
    def quantities(self) -> tuple[str, ...]:
        return QUANTITIES[self.cell]

    @property
    def layers(self) -> int:
        return int(self.values["h"].shape[0])

    @property
    def hidden_size(self) -> int:
        return int(self.values["h"].shape[2])

    def unit(self, quantity: str, layer: int, unit: int) -> np.ndarray:
        """One unit's values over the text."""
        return self.values[quantity][layer, :, unit]


def scaled(quantity: str, values: np.ndarray) -> np.ndarray:
    """Values on the common -1..+1 scale the colours and thresholds use: h as it is, tanh(c) (as Karpathy et al.
    show cells), a gate's 0..1 as -1..+1 around its midpoint."""
    if quantity == "h":
        return values
    if quantity == "c":
        squashed: np.ndarray = np.tanh(values)
        return squashed
    return 2.0 * values - 1.0


def scale_labels(quantity: str) -> dict[str, str]:
    """The diverging legend's labels (palette.DIVERGING) in the quantity's own terms."""
    if quantity == "c":
        return {"<-0.6": "tanh(c)<-0.6"}
    if quantity == "h":
        return {}
    return {"<-0.6": "<0.2", "<-0.2": "<0.4", "~0": "~0.5", ">0.2": ">0.6", ">0.6": ">0.8"}

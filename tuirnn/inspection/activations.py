"""Recording what a model computes over a text: per character and layer, the hidden state h, an LSTM's cell
state c and input/forget/output gates, a GRU's reset/update gates, and the next-character distribution.

A per-step cell loop spends its time in Python and kernel launches, so each layer runs over the whole text in
one call of torch's own nn.LSTM/GRU/RNN (the same kernels as the model's forward). The gates then follow from
h_{t-1} and the layer's input in one matrix product per layer, and an LSTM's c from the elementwise recurrence
c_t = f_t*c_{t-1} + i_t*g_t. Everything starts from the zero state, as generation does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
from torch import nn

from tuirnn.corpus import Vocabulary
from tuirnn.inspection.errors import InspectError
from tuirnn.models import WEIGHT_NAMES, CharRNN

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


def _layer_module(model: CharRNN, layer: int) -> nn.RNNBase:
    """A one-layer torch RNN of the model's cell type holding the model's weights of `layer`."""
    rnn = model.rnn
    size = rnn.input_size if layer == 0 else rnn.hidden_size
    cell_type = cast(Callable[..., nn.RNNBase], type(rnn))  # nn.RNN, nn.GRU or nn.LSTM: (input, hidden, layers)
    module = cell_type(size, rnn.hidden_size, 1)
    weights = {f"{name}_l0": getattr(rnn, f"{name}_l{layer}") for name in WEIGHT_NAMES}
    module.load_state_dict(weights)
    return module.to(weights["weight_ih_l0"].device).eval()


def _cell_scan(forget: torch.Tensor, written: torch.Tensor, out: np.ndarray) -> None:
    """c_t = f_t*c_{t-1} + written_t from c_{-1} = 0, into `out`; elementwise, so numpy's loop is cheap."""
    f, w = forget.cpu().numpy(), written.cpu().numpy()
    previous = np.zeros(out.shape[1], dtype=np.float32)
    for t in range(out.shape[0]):
        row = out[t]
        np.multiply(f[t], previous, out=row)
        row += w[t]
        previous = row


@torch.no_grad()
def record(model: CharRNN, vocab: Vocabulary, text: str) -> Recording:
    """Run `model` over `text` from the zero state and keep every quantity of every layer."""
    if not text:
        raise InspectError("there is no text to explore")
    if len(text) > MAX_CHARS:
        raise InspectError(f"the text is {len(text):,} characters; explore at most {MAX_CHARS:,} at once")
    ids = torch.tensor(vocab.encode(text), dtype=torch.long, device=model.head.weight.device)
    cell, layers, hidden = model.config.cell, model.config.layers, model.config.hidden_size
    values = {name: np.empty((layers, len(text), hidden), dtype=np.float32) for name in QUANTITIES[cell]}
    x = model.embedding(ids).float()
    for layer in range(layers):
        h = _layer_module(model, layer)(x.unsqueeze(1))[0].squeeze(1)
        values["h"][layer] = h.cpu().numpy()
        if cell != "rnn":
            w_ih, w_hh, b_ih, b_hh = (getattr(model.rnn, f"{name}_l{layer}") for name in WEIGHT_NAMES)
            before = torch.cat([h.new_zeros(1, hidden), h[:-1]])
            from_input = torch.addmm(b_ih, x, w_ih.t())
            from_state = torch.addmm(b_hh, before, w_hh.t())
            if cell == "lstm":
                gates = from_input.add_(from_state)
                i, f, g, o = gates.chunk(4, dim=1)
                i, f, o = i.sigmoid_(), f.sigmoid_(), o.sigmoid_()
                for name, gate in (("input", i), ("forget", f), ("output", o)):
                    values[name][layer] = gate.cpu().numpy()
                _cell_scan(f, i.mul_(g.tanh_()), values["c"][layer])
            else:
                r_x, z_x, _ = from_input.chunk(3, dim=1)
                r_h, z_h, _ = from_state.chunk(3, dim=1)
                values["reset"][layer] = (r_x + r_h).sigmoid_().cpu().numpy()
                values["update"][layer] = (z_x + z_h).sigmoid_().cpu().numpy()
        x = h
    log_probs = torch.log_softmax(model.head(x).float(), dim=-1).cpu().numpy()
    return Recording(text, cell, vocab, values, log_probs)

"""Recording what a model computes over a text: per character and layer, the hidden state h, an LSTM's cell
state c and input/forget/output gates, a GRU's reset/update gates, and the next-character distribution.

Layer by layer, block by block of characters: torch's own recurrent kernel runs the layer over the block from
the state the previous block ended in, as the model's forward runs it over the whole text (oneDNN's LSTM on
the CPU), so the recorded h is the forward's. The block's gates then follow from the layer's input x_t and
h_{t-1} in one matrix product (input and recurrent weights side by side, the biases folded in), and an LSTM's c
from c_t = f_t c_{t-1} + i_t g_t, an elementwise scan of one small step per character. Blocks keep the
intermediates in the cache and in memory malloc hands back warm: done over the whole text at once, the same
work took about a sixth longer, much of it faulting in fresh pages. Stepping the recurrence in Python instead, a
matrix-vector product per character and layer, took two to three times as long on a 2-core CPU
(bench/inspect_speed.py). Everything starts from the zero state, as generation does.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tuirnn.corpus import Vocabulary
from tuirnn.inspection.errors import InspectError
from tuirnn.inspection.recording import MAX_CHARS, QUANTITIES, Recording
from tuirnn.models import WEIGHT_NAMES, CharRNN

BLOCK = 1024
"""Characters per block: of 512 to 4,096, the fastest for a 2x512 LSTM on 2 cores. From 2,048 on, torch's LSTM
took its scratch memory from fresh pages on every call, and faulting them in added a quarter to its time."""
_ONEDNN_LINEAR = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x @ weight.T + bias, by oneDNN where torch has it and it is on: MKL's sgemm ran at half its speed on the
    AMD CPU measured."""
    if _ONEDNN_LINEAR and torch.backends.mkldnn.enabled:
        try:
            product: torch.Tensor = torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")
            return product
        except (RuntimeError, TypeError):  # a private op a later torch may change: the public one is exact too
            pass
    return F.linear(x, weight, bias)


def _weights(model: CharRNN, layer: int) -> list[torch.Tensor]:
    return [getattr(model.rnn, f"{name}_l{layer}").detach().to("cpu", torch.float32) for name in WEIGHT_NAMES]


def _blocks(length: int) -> list[slice]:
    return [slice(start, min(start + BLOCK, length)) for start in range(0, length, BLOCK)]


def _zero_state(h: torch.Tensor) -> torch.Tensor:
    return torch.zeros(1, 1, h.shape[1])


class _Gates:
    """A block's gate pre-activations, the first `rows` rows of torch's stacked gate weights: x_t beside h_{t-1}
    (zero before the text) times the input and recurrent weights side by side."""

    def __init__(self, w: list[torch.Tensor], rows: int):
        w_ih, w_hh, b_ih, b_hh = w
        self.inputs = w_ih.shape[1]
        self.weight = torch.cat([w_ih[:rows], w_hh[:rows]], dim=1)
        self.bias = b_ih[:rows] + b_hh[:rows]

    def __call__(self, x: torch.Tensor, h: torch.Tensor, block: slice) -> torch.Tensor:
        start, first = block.start, max(block.start, 1)
        both = torch.empty(block.stop - start, self.weight.shape[1])
        both[:, : self.inputs] = x[block]
        both[: first - start, self.inputs :] = 0.0
        both[first - start :, self.inputs :] = h[first - 1 : block.stop - 1]
        return _linear(both, self.weight, self.bias)


def _cell_scan(forget: np.ndarray, c: np.ndarray, block: slice) -> None:
    """c_t = f_t c_{t-1} + c_t over the block in place, where c_t holds i_t g_t on entry. numpy's calls on a row
    cost less than torch's, and a blocked scan (cumulative products of f) moved more memory than it saved in
    steps."""
    product = np.empty_like(c[0])
    for t in range(max(block.start, 1), block.stop):
        np.multiply(forget[t], c[t - 1], out=product)
        c[t] += product


def _lstm_layer(x: torch.Tensor, w: list[torch.Tensor], out: dict[str, torch.Tensor], layer: int) -> None:
    h, c = out["h"][layer], out["c"][layer]
    size, gates = h.shape[1], _Gates(w, 4 * h.shape[1])
    state = (_zero_state(h), _zero_state(h))
    for block in _blocks(len(x)):
        y, h_end, c_end = torch.lstm(x[None, block], state, w, True, 1, 0.0, False, False, True)
        state = (h_end, c_end)
        h[block] = y[0]
        in_gate, forget, candidate, out_gate = gates(x, h, block).split(size, dim=1)  # torch's order: i, f, g, o
        for name, gate in (("input", in_gate), ("forget", forget), ("output", out_gate)):
            torch.sigmoid(gate, out=out[name][layer, block])
        torch.mul(out["input"][layer, block], candidate.tanh_(), out=c[block])
        _cell_scan(out["forget"][layer].numpy(), c.numpy(), block)


def _gru_layer(x: torch.Tensor, w: list[torch.Tensor], out: dict[str, torch.Tensor], layer: int) -> None:
    h = out["h"][layer]
    size, gates = h.shape[1], _Gates(w, 2 * h.shape[1])  # torch's order: r, z, n; n is not recorded
    state = _zero_state(h)
    for block in _blocks(len(x)):
        y, state = torch.gru(x[None, block], state, w, True, 1, 0.0, False, False, True)
        h[block] = y[0]
        reset, update = gates(x, h, block).split(size, dim=1)
        torch.sigmoid(reset, out=out["reset"][layer, block])
        torch.sigmoid(update, out=out["update"][layer, block])


def _rnn_layer(x: torch.Tensor, w: list[torch.Tensor], out: dict[str, torch.Tensor], layer: int) -> None:
    h = out["h"][layer]
    state = _zero_state(h)
    for block in _blocks(len(x)):
        y, state = torch.rnn_tanh(x[None, block], state, w, True, 1, 0.0, False, False, True)
        h[block] = y[0]


_LAYERS = {"lstm": _lstm_layer, "gru": _gru_layer, "rnn": _rnn_layer}


@torch.no_grad()
def record(model: CharRNN, vocab: Vocabulary, text: str) -> Recording:
    """Run `model` (on the CPU, where the recording lands anyway) over `text` from the zero state and keep every
    quantity of every layer."""
    if not text:
        raise InspectError("there is no text to explore")
    if len(text) > MAX_CHARS:
        raise InspectError(f"the text is {len(text):,} characters; explore at most {MAX_CHARS:,} at once")
    ids = torch.tensor(vocab.encode(text), dtype=torch.long)
    cell, layers, hidden = model.config.cell, model.config.layers, model.config.hidden_size
    values = {name: torch.empty(layers, len(text), hidden) for name in QUANTITIES[cell]}
    x = model.embedding.weight.detach().to("cpu", torch.float32)[ids]
    for layer in range(layers):
        _LAYERS[cell](x, _weights(model, layer), values, layer)
        x = values["h"][layer]
    head = [model.head.weight.detach().to("cpu", torch.float32), model.head.bias.detach().to("cpu", torch.float32)]
    log_probs = torch.log_softmax(F.linear(x, *head), dim=-1)
    return Recording(text, cell, vocab, {name: array.numpy() for name, array in values.items()}, log_probs.numpy())

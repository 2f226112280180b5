"""Recording what a model computes over a text: per character and layer, the hidden state h, an LSTM's cell
state c and input/forget/output gates, a GRU's reset/update gates, and the next-character distribution.

Each layer's input products for the whole text are one matrix product (a table lookup for the first layer);
then the recurrence steps through the text writing every gate, c and h straight into the recorded arrays: one
matrix-vector product and a few elementwise operations per character and layer (splitting the product into
row blocks over the cores, as tuirnn.cpu_step does, was many times slower whenever another process used them).
Measured on a 2-core CPU (bench/inspect_speed.py) this beats running torch's nn.LSTM over the text and
recomputing the gates from its h: oneDNN's LSTM at batch 1 is several times slower than stepping, and the
gates' products cost as much as the recurrence. Everything starts from the zero state, as generation does.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tuirnn.corpus import Vocabulary
from tuirnn.inspection.errors import InspectError
from tuirnn.inspection.recording import MAX_CHARS, QUANTITIES, Recording
from tuirnn.models import WEIGHT_NAMES, CharRNN


def _weights(model: CharRNN, layer: int) -> list[torch.Tensor]:
    return [getattr(model.rnn, f"{name}_l{layer}").detach().float() for name in WEIGHT_NAMES]


def _input_products(model: CharRNN, ids: torch.Tensor, below: torch.Tensor | None, weight: torch.Tensor,
                    bias: torch.Tensor) -> torch.Tensor:
    """(characters, rows): every position's input product with `bias`; the first layer's is a table of one row
    per character."""
    if below is None:
        return F.linear(model.embedding.weight.detach().float(), weight, bias)[ids]
    return F.linear(below, weight, bias)


def _lstm_layer(model: CharRNN, ids: torch.Tensor, below: torch.Tensor | None, w: list[torch.Tensor],
                out: dict[str, np.ndarray], layer: int) -> torch.Tensor:
    w_ih, w_hh, b_ih, b_hh = w
    size = w_hh.shape[1]
    i, f, g, o = (torch.arange(k * size, (k + 1) * size) for k in range(4))
    order = torch.cat([i, f, o, g])  # torch's gate order (i, f, g, o) made (i, f, o, g): one sigmoid, one tanh
    gates = _input_products(model, ids, below, w_ih[order], (b_ih + b_hh)[order])
    recurrent = w_hh[order].contiguous()
    sigmoids, candidates = gates[:, : 3 * size], gates[:, 3 * size :]
    in_gate, forget, out_gate = gates[:, :size], gates[:, size : 2 * size], gates[:, 2 * size : 3 * size]
    h, c = torch.empty(len(ids), size), torch.empty(len(ids), size)
    h_before, c_before = torch.zeros(size), torch.zeros(size)
    for t in range(len(ids)):
        gates[t].addmv_(recurrent, h_before)
        sigmoids[t].sigmoid_()
        candidates[t].tanh_()
        torch.mul(forget[t], c_before, out=c[t]).addcmul_(in_gate[t], candidates[t])
        torch.tanh(c[t], out=h[t]).mul_(out_gate[t])
        h_before, c_before = h[t], c[t]
    for name, values in (("c", c), ("input", in_gate), ("forget", forget), ("output", out_gate)):
        out[name][layer] = values.numpy()
    return h


def _gru_layer(model: CharRNN, ids: torch.Tensor, below: torch.Tensor | None, w: list[torch.Tensor],
               out: dict[str, np.ndarray], layer: int) -> torch.Tensor:
    w_ih, w_hh, b_ih, b_hh = w
    size = w_hh.shape[1]
    from_input = _input_products(model, ids, below, w_ih, b_ih)  # torch's order: reset, update, candidate
    switches = torch.empty(len(ids), 2 * size)
    reset, update = switches[:, :size], switches[:, size:]
    h = torch.empty(len(ids), size)
    from_hidden, candidate = torch.empty(3 * size), torch.empty(size)
    h_before = torch.zeros(size)
    for t in range(len(ids)):
        torch.addmv(b_hh, w_hh, h_before, out=from_hidden)
        torch.add(from_input[t, : 2 * size], from_hidden[: 2 * size], out=switches[t]).sigmoid_()
        torch.addcmul(from_input[t, 2 * size :], reset[t], from_hidden[2 * size :], out=candidate).tanh_()
        torch.sub(h_before, candidate, out=h[t]).mul_(update[t]).add_(candidate)
        h_before = h[t]
    out["reset"][layer], out["update"][layer] = reset.numpy(), update.numpy()
    return h


def _rnn_layer(model: CharRNN, ids: torch.Tensor, below: torch.Tensor | None, w: list[torch.Tensor],
               out: dict[str, np.ndarray], layer: int) -> torch.Tensor:
    w_ih, w_hh, b_ih, b_hh = w
    h = _input_products(model, ids, below, w_ih, b_ih + b_hh)
    h_before = torch.zeros(w_hh.shape[1])
    for t in range(len(ids)):
        h[t].addmv_(w_hh, h_before).tanh_()
        h_before = h[t]
    return h


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
    values = {name: np.empty((layers, len(text), hidden), dtype=np.float32) for name in QUANTITIES[cell]}
    below: torch.Tensor | None = None
    for layer in range(layers):
        below = _LAYERS[cell](model, ids, below, _weights(model, layer), values, layer)
        values["h"][layer] = below.numpy()
    assert below is not None
    logits = F.linear(below, model.head.weight.detach().float(), model.head.bias.detach().float())
    return Recording(text, cell, vocab, values, torch.log_softmax(logits, dim=-1).numpy())

"""Single-step generation on the CPU with oneDNN-packed weights, which use every core.

A streamed character is one matrix-vector product per layer. MKL's matrix-vector product runs on one
core however many torch has, so at torch's default threads a step was no faster than with one thread,
while the study's re-run-the-window generation (a matrix-matrix product) used them all. oneDNN's
inner product on weights packed once per stream splits the rows over the threads: at hidden 512 on two
cores a step takes about 0.75 of the time of `CharRNN.step_layers`. With one thread it is about 0.1
slower (the gates then cost separate element-wise calls), so it is only used with several threads.
What remains is bound by reading the weights: about 13 MB per character at hidden 512.

The results equal `step_layers` up to float rounding (the sums run in another order).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from tuirnn.models import CharRNN

StepFunction = Callable[[torch.Tensor], torch.Tensor]
"""Logits for one next character (ids of shape (1,)), advancing the state the function was made with."""


def _linear(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor, activation: str = "none") -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, activation, [], "")


def _pack(weight: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), 1)


class PackedStep:
    """`CharRNN.step_layers` for one sequence on the CPU, on a snapshot of the model's weights.

    The state lives in one row [embedding | h_1 | ... | h_L], so layer l's input [h_(l-1); h_l] is a
    slice of it and each layer writes its new hidden state in place: no concatenation per step. LSTM and
    tanh-RNN layers multiply that slice by the concatenated weights in one product; for the LSTM the
    candidate gate's rows are doubled so one sigmoid over all gates also gives its tanh
    (tanh(x) = 2 sigmoid(2x) - 1). GRU layers need the hidden product apart (it is gated by r).
    """

    def __init__(self, model: CharRNN, hidden: list[torch.Tensor], cells: list[torch.Tensor] | None):
        rnn, cfg = model.rnn, model.config
        self.cell = cfg.cell
        size, embedding = cfg.hidden_size, cfg.embedding_size
        self.embedding = model.embedding.weight.detach()
        self.row = torch.zeros(1, embedding + cfg.layers * size)
        self.embedded = self.row[:, :embedding]
        self.hidden = [self.row[:, embedding + layer * size: embedding + (layer + 1) * size] for layer in range(cfg.layers)]
        self.inputs = [self.row[:, (embedding + (layer - 1) * size if layer else 0): embedding + (layer + 1) * size]
                       for layer in range(cfg.layers)]
        self.cells = [c.clone() for c in cells] if cells is not None else None
        for buffer, value in zip(self.hidden, hidden):
            buffer.copy_(value)
        self.layers: list[tuple[torch.Tensor, ...]] = []
        for layer in range(cfg.layers):
            w_ih, w_hh, b_ih, b_hh = (getattr(rnn, f"{name}_l{layer}").detach()
                                      for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            if self.cell == "gru":
                self.layers.append((_pack(w_ih), b_ih.clone(), _pack(w_hh), b_hh.clone()))
                continue
            weight, bias = torch.cat([w_ih, w_hh], 1), b_ih + b_hh
            if self.cell == "lstm":
                candidate = slice(2 * size, 3 * size)
                weight[candidate] *= 2
                bias[candidate] *= 2
            self.layers.append((_pack(weight), bias))
        self.head = (_pack(model.head.weight), model.head.bias.detach().clone())
        self.size = size

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        self.embedded.copy_(self.embedding[ids])
        for layer, weights in enumerate(self.layers):
            hidden = self.hidden[layer]
            if self.cells is not None:
                in_gate, forget, candidate, out_gate = _linear(self.inputs[layer], *weights, "sigmoid").chunk(4, 1)
                cell = self.cells[layer].mul_(forget).addcmul_(in_gate, candidate.mul_(2).sub_(1))
                torch.tanh(cell, out=hidden).mul_(out_gate)
            elif self.cell == "gru":
                below = self.inputs[layer][:, : self.inputs[layer].shape[1] - self.size]
                from_input, from_hidden = _linear(below, *weights[:2]), _linear(hidden, *weights[2:])
                gates = 2 * self.size
                reset, update = torch.sigmoid(from_input[:, :gates] + from_hidden[:, :gates]).chunk(2, 1)
                new = torch.tanh(from_input[:, gates:] + reset * from_hidden[:, gates:])
                hidden.copy_(new + update * (hidden - new))
            else:
                hidden.copy_(_linear(self.inputs[layer], *weights, "tanh"))
        return _linear(self.hidden[-1], *self.head)


def single_step(model: CharRNN, device: torch.device, hidden: list[torch.Tensor],
                cells: list[torch.Tensor] | None) -> StepFunction:
    """The fastest exact-up-to-rounding single step for generating one sequence on `device` from the
    given state: packed weights on a multi-threaded CPU where this torch build has oneDNN, otherwise the
    model's own fused cells (which update `hidden` and `cells` in place)."""
    if device.type == "cpu" and hidden[0].shape[0] == 1 and torch.get_num_threads() > 1 \
            and torch.backends.mkldnn.is_available():
        try:
            return PackedStep(model, hidden, cells)
        except (RuntimeError, AttributeError):  # a torch build without these oneDNN operators
            pass
    return lambda ids: model.step_layers(ids, hidden, cells)

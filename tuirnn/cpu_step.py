"""Single-step generation on the CPU with oneDNN-packed weights, which use every core.

A streamed character is one matrix-vector product per layer. MKL's matrix-vector product runs on one
core however many torch has, so at torch's default threads a step was no faster than with one thread,
while the study's re-run-the-window generation (a matrix-matrix product) used them all. oneDNN's
inner product on weights packed once per stream splits the rows over the threads: at hidden 512 on two
cores a step takes about 0.75 of the time of `CharRNN.step_layers`. With one thread it is about 0.1
slower (the gates then cost separate element-wise calls), so it is only used with several threads.

The results equal `step_layers` up to float rounding (the sums run in another order).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from tuirnn.models import CharRNN

StepFunction = Callable[[torch.Tensor, list[torch.Tensor], "list[torch.Tensor] | None"], torch.Tensor]


def _linear(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor, activation: str = "none") -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, activation, [], "")


def _pack(weight: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous(), 1)


class PackedStep:
    """`CharRNN.step_layers` for one sequence on the CPU, on a snapshot of the model's weights.

    LSTM and tanh-RNN layers multiply [input; hidden] by the concatenated weights in one product; for
    the LSTM the candidate gate's rows are doubled so one sigmoid over all gates also gives its tanh
    (tanh(x) = 2 sigmoid(2x) - 1). GRU layers need the hidden product apart (it is gated by r).
    """

    def __init__(self, model: CharRNN):
        rnn, cfg = model.rnn, model.config
        self.cell = cfg.cell
        self.hidden_size = cfg.hidden_size
        self.embedding = model.embedding.weight.detach()
        self.layers: list[tuple[torch.Tensor, ...]] = []
        for layer in range(cfg.layers):
            w_ih, w_hh, b_ih, b_hh = (getattr(rnn, f"{name}_l{layer}").detach()
                                      for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            if self.cell == "gru":
                self.layers.append((_pack(w_ih), b_ih.clone(), _pack(w_hh), b_hh.clone()))
                continue
            weight, bias = torch.cat([w_ih, w_hh], 1), b_ih + b_hh
            if self.cell == "lstm":
                candidate = slice(2 * self.hidden_size, 3 * self.hidden_size)
                weight[candidate] *= 2
                bias[candidate] *= 2
            self.layers.append((_pack(weight), bias))
        self.head = (_pack(model.head.weight), model.head.bias.detach().clone())

    def __call__(self, ids: torch.Tensor, hidden: list[torch.Tensor], cells: list[torch.Tensor] | None) -> torch.Tensor:
        x = self.embedding[ids]
        for layer, weights in enumerate(self.layers):
            if cells is not None:
                gates = _linear(torch.cat([x, hidden[layer]], 1), *weights, "sigmoid")
                in_gate, forget, candidate, out_gate = gates.chunk(4, 1)
                cells[layer] = (cells[layer] * forget).addcmul_(in_gate, candidate.mul(2).sub_(1))
                hidden[layer] = torch.tanh(cells[layer]).mul_(out_gate)
            elif self.cell == "gru":
                from_input, from_hidden = _linear(x, *weights[:2]), _linear(hidden[layer], *weights[2:])
                reset, update = torch.sigmoid(from_input[:, :2 * self.hidden_size]
                                              + from_hidden[:, :2 * self.hidden_size]).chunk(2, 1)
                new = torch.tanh(from_input[:, 2 * self.hidden_size:]
                                 + reset * from_hidden[:, 2 * self.hidden_size:])
                hidden[layer] = new + update * (hidden[layer] - new)
            else:
                hidden[layer] = _linear(torch.cat([x, hidden[layer]], 1), *weights, "tanh")
            x = hidden[layer]
        return _linear(x, *self.head)


def single_step(model: CharRNN, device: torch.device, batch_size: int = 1) -> StepFunction:
    """The fastest exact-up-to-rounding single step for generating on `device`: packed weights on a
    multi-threaded CPU where this torch build has oneDNN, otherwise the model's own fused cells."""
    if device.type != "cpu" or batch_size != 1 or torch.get_num_threads() < 2 or not torch.backends.mkldnn.is_available():
        return model.step_layers
    try:
        return PackedStep(model)
    except (RuntimeError, AttributeError):  # a torch build without these oneDNN operators
        return model.step_layers

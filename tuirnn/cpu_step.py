"""Single-step generation on the CPU, spread over every core and cut to reading the weights once.

A streamed character is one matrix-vector product per layer, bound by reading the weights (about
12.6 MB per character at the study's hidden 512). MKL's matrix-vector product runs on one core however
many torch has, while the study's re-run-the-window generation (matrix-matrix products) uses them all.
Here each layer's weight rows are split into one block per thread and multiplied as a batched product,
which torch runs a block per thread: at hidden 512 a step takes about 0.5 of `CharRNN.step_layers`'s
time on two cores (0.8 on one). Around the products, every other cost per character is cut:

- the first layer's input product depends only on the character, so it is a table (one row per
  vocabulary entry, computed once per stream) added as the bias of the hidden product;
- each product writes into a buffer made once, whose gate views are made once;
- an LSTM layer's input and hidden products are one product over [h_(l-1); h_l], and its candidate rows
  are doubled so one sigmoid over all gates also gives the candidate's tanh (tanh(x) = 2 sigmoid(2x) - 1).

The results equal `step_layers` up to float rounding (the sums run in another order).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from tuirnn.models import CharRNN

StepFunction = Callable[[int], torch.Tensor]
"""Logits (shape (1, vocab)) after feeding one character id, advancing the state the function was made with."""


class _BlockProduct:
    """bias + x @ weight.T for a one-row x, as a batched product over row blocks of `weight`."""

    def __init__(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, threads: int):
        rows, width = weight.shape
        self.blocks = math.gcd(rows, threads)
        self.x = x.unsqueeze(0).expand(self.blocks, 1, width)
        # Copies, so the step keeps the weights it was made with while the model trains on.
        self.weight = weight.clone(memory_format=torch.contiguous_format).view(
            self.blocks, rows // self.blocks, width).transpose(1, 2)
        self.bias = bias.clone().view(self.blocks, 1, -1) if bias is not None else None
        self.buffer = torch.empty(self.blocks, 1, rows // self.blocks)
        self.out = self.buffer.view(1, rows)
        """The result, a (1, rows) view of the buffer every call writes."""

    def __call__(self, bias: torch.Tensor | None = None) -> torch.Tensor:
        bias = self.bias if bias is None else bias
        if bias is None:
            torch.bmm(self.x, self.weight, out=self.buffer)
        else:
            torch.baddbmm(bias, self.x, self.weight, out=self.buffer)
        return self.out


class CpuStep:
    """`CharRNN.step_layers` for one sequence on the CPU, on a snapshot of the model's weights.

    The state lives in one row [h_1 | ... | h_L], so layer l's input [h_(l-1); h_l] is a slice of it and
    each layer writes its new hidden state in place: no concatenation per step.
    """

    def __init__(self, model: CharRNN, hidden: list[torch.Tensor], cells: list[torch.Tensor] | None,
                 threads: int):
        rnn, cfg = model.rnn, model.config
        self.cell = cfg.cell
        self.size = size = cfg.hidden_size
        self.row = torch.zeros(1, cfg.layers * size)
        self.hidden = [self.row[:, layer * size: (layer + 1) * size] for layer in range(cfg.layers)]
        for buffer, value in zip(self.hidden, hidden):
            buffer.copy_(value)
        self.cells = [c.clone() for c in cells] if cells is not None else None
        candidate = slice(2 * size, 3 * size)  # LSTM gate order: input, forget, candidate, output
        self.products: list[_BlockProduct] = []
        """LSTM and RNN: one per layer; GRU: the hidden product per layer, then the input products of
        layers 1..L-1."""
        input_products: list[_BlockProduct] = []
        for layer in range(cfg.layers):
            w_ih, w_hh, b_ih, b_hh = (getattr(rnn, f"{name}_l{layer}").detach()
                                      for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            below = self.hidden[layer - 1] if layer else None
            if self.cell == "gru":
                self.products.append(_BlockProduct(self.hidden[layer], w_hh, b_hh, threads))
                if below is not None:
                    input_products.append(_BlockProduct(below, w_ih, b_ih, threads))
                continue
            if layer == 0:
                weight, bias, x = w_hh.clone(), None, self.hidden[0]
            else:
                weight, bias = torch.cat([w_ih, w_hh], 1), b_ih + b_hh
                x = self.row[:, (layer - 1) * size: (layer + 1) * size]
            if self.cell == "lstm":
                weight[candidate] *= 2
                if bias is not None:
                    bias[candidate] *= 2
            self.products.append(_BlockProduct(x, weight, bias, threads))
        self.products += input_products
        # Row c: the first layer's input product for character c, with the biases that go with it.
        w_ih, b_ih, b_hh = rnn.weight_ih_l0.detach(), rnn.bias_ih_l0.detach(), rnn.bias_hh_l0.detach()
        table = F.linear(model.embedding.weight.detach(), w_ih, b_ih if self.cell == "gru" else b_ih + b_hh)
        if self.cell == "lstm":
            table[:, candidate] *= 2
        self.first_input = table if self.cell == "gru" else table.view(len(table), *self.products[0].buffer.shape)
        self.gates = [product.out.chunk(4, 1) for product in self.products] if self.cell == "lstm" else []
        self.head = (model.head.weight.detach().clone(), model.head.bias.detach().clone())

    def __call__(self, char: int) -> torch.Tensor:
        if self.cell == "lstm":
            assert self.cells is not None
            for layer, (product, (in_gate, forget, candidate, out_gate)) in enumerate(zip(self.products, self.gates)):
                product(self.first_input[char] if layer == 0 else None).sigmoid_()
                cell = self.cells[layer].mul_(forget).addcmul_(in_gate, candidate, value=2).sub_(in_gate)
                torch.tanh(cell, out=self.hidden[layer]).mul_(out_gate)
        elif self.cell == "gru":
            layers = len(self.hidden)
            for layer, hidden in enumerate(self.hidden):
                from_input = self.first_input[char] if layer == 0 else self.products[layers + layer - 1]()
                from_hidden = self.products[layer]()
                gates = 2 * self.size
                reset, update = torch.sigmoid(from_input[..., :gates] + from_hidden[:, :gates]).chunk(2, 1)
                new = torch.tanh(from_input[..., gates:] + reset * from_hidden[:, gates:])
                hidden.copy_(new + update * (hidden - new))
        else:
            for layer, (product, hidden) in enumerate(zip(self.products, self.hidden)):
                torch.tanh(product(self.first_input[char] if layer == 0 else None), out=hidden)
        return F.linear(self.hidden[-1], *self.head)


def single_step(model: CharRNN, device: torch.device, hidden: list[torch.Tensor],
                cells: list[torch.Tensor] | None) -> StepFunction:
    """The fastest exact-up-to-rounding single step for generating from the given state: `CpuStep` for
    one sequence on the CPU, otherwise the model's own fused cells (which update `hidden` and `cells` in
    place)."""
    if device.type == "cpu" and hidden[0].shape[0] == 1:
        return CpuStep(model, hidden, cells, torch.get_num_threads())
    ids = torch.empty(1, dtype=torch.long, device=device)
    return lambda char: model.step_layers(ids.fill_(char), hidden, cells)

"""Single-step generation on the CPU, spread over every core and cut down to reading the weights once.

A streamed character is one matrix-vector product per layer, bound by reading the weights (about
12.6 MB per character at the study's hidden 512). MKL's matrix-vector product runs on one core however
many torch has, while the study's re-run-the-window generation (matrix-matrix products) uses them all.
Here each product's weight rows are split into one block per thread and multiplied as one batched
product, which torch spreads over the threads: at hidden 512 an LSTM step takes about 0.45 of
`CharRNN.step_layers`'s time on two cores (0.8 on one). Around the products, the costs per character
that are not arithmetic are cut:

- the first layer's input product depends only on the character, so it is a table (one row per
  vocabulary entry, computed once per stream);
- each product writes into a buffer made once (for the LSTM, whose gate views are made once too);
- LSTM and tanh-RNN layers add the table row as the bias of the hidden product, and multiply the input
  and the hidden state of layers above the first in one product over [h_(l-1); h_l];
- the LSTM's candidate rows are doubled so one sigmoid over all gates also gives the candidate's tanh
  (tanh(x) = 2 sigmoid(2x) - 1).

The results equal `step_layers` up to float rounding (the sums run in another order).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from tuirnn.models import WEIGHT_NAMES, CharRNN

BLOCK_TRIAL_STEPS = 12
"""Steps timed per block count when a model's block count is first chosen (after as many untimed)."""
_chosen_blocks: dict[tuple[str, int, int, int, int], int] = {}
"""The block count chosen per (cell, layers, hidden, vocabulary, threads), measured once per process."""

StepFunction = Callable[[int], torch.Tensor]
"""Logits (shape (1, vocab)) after feeding one character id, advancing the state the function was made with."""


class _BlockProduct:
    """biases[choice] + x @ weight.T for a one-row x, as one batched product over `blocks` row blocks, which
    torch runs on as many threads.

    The rows are padded with zeros to a multiple of the block count; the result is a view of the rows
    asked for. Weights and biases are copied, so the step keeps the weights it was made with while the
    model trains on.
    """

    def __init__(self, x: torch.Tensor, weight: torch.Tensor, biases: torch.Tensor, blocks: int):
        rows, width = weight.shape
        blocks = max(1, min(blocks, rows))
        block_rows = -(-rows // blocks)
        padded = torch.zeros(blocks * block_rows, width)
        padded[:rows] = weight.detach()
        padded_biases = torch.zeros(len(biases), blocks * block_rows)
        padded_biases[:, :rows] = biases.detach()
        self.x = x.unsqueeze(0).expand(blocks, 1, width)
        self.weight = padded.view(blocks, block_rows, width).transpose(1, 2)
        self.biases = padded_biases.view(len(biases), blocks, 1, block_rows)
        self.buffer = torch.empty(blocks, 1, block_rows)
        self.out = self.buffer.view(1, -1)[:, :rows]
        """The result, a view of the buffer every call writes."""

    def __call__(self, choice: int = 0) -> torch.Tensor:
        torch.baddbmm(self.biases[choice], self.x, self.weight, out=self.buffer)
        return self.out


class CpuStep:
    """`CharRNN.step_layers` for one sequence on the CPU, on a snapshot of the model's weights.

    The state lives in one row [h_1 | ... | h_L], which layers read as slices and write in place: no
    concatenation per step.
    """

    def __init__(self, model: CharRNN, hidden: list[torch.Tensor], cells: list[torch.Tensor] | None,
                 blocks: int):
        rnn, cfg = model.rnn, model.config
        self.cell = cfg.cell
        self.size = size = cfg.hidden_size
        self.row = torch.zeros(1, cfg.layers * size)
        self.hidden = [self.row[:, layer * size: (layer + 1) * size] for layer in range(cfg.layers)]
        for buffer, value in zip(self.hidden, hidden, strict=False):
            buffer.copy_(value)
        self.cells = [c.clone() for c in cells] if cells is not None else None
        weights = [[getattr(rnn, f"{name}_l{layer}").detach() for name in WEIGHT_NAMES]
                   for layer in range(cfg.layers)]
        embedding = model.embedding.weight.detach()
        self.head = (model.head.weight.detach().clone(), model.head.bias.detach().clone())
        if self.cell == "gru":
            w_ih, _, b_ih, _ = weights[0]
            self.first_input = F.linear(embedding, w_ih, b_ih)
            """Row c: the first layer's input product for character c, with its bias."""
            self.hidden_products = [_BlockProduct(h, w_hh, b_hh[None], blocks)
                                    for h, (_, w_hh, _, b_hh) in zip(self.hidden, weights, strict=False)]
            self.input_products = [_BlockProduct(below, w_ih, b_ih[None], blocks)
                                   for below, (w_ih, _, b_ih, _) in zip(self.hidden, weights[1:], strict=False)]
            return
        rows = weights[0][1].shape[0]
        scale = torch.ones(rows, 1)
        if self.cell == "lstm":
            scale[2 * size: 3 * size] = 2  # the candidate's rows (gate order: input, forget, candidate, output)
        w_ih, w_hh, b_ih, b_hh = weights[0]
        first_input = F.linear(embedding, w_ih, b_ih + b_hh) * scale.T  # row c: for character c, with the biases
        self.products = [_BlockProduct(self.hidden[0], w_hh * scale, first_input, blocks)]
        for layer, (w_ih, w_hh, b_ih, b_hh) in enumerate(weights[1:], start=1):
            both = self.row[:, (layer - 1) * size: (layer + 1) * size]
            self.products.append(_BlockProduct(both, torch.cat([w_ih, w_hh], 1) * scale, (b_ih + b_hh)[None] * scale.T,
                                               blocks))
        self.gates = [product.out.chunk(4, 1) for product in self.products] if self.cell == "lstm" else []

    def __call__(self, char: int) -> torch.Tensor:
        if self.cell == "lstm":
            assert self.cells is not None
            gated = zip(self.products, self.gates, strict=True)
            for layer, (product, (in_gate, forget, candidate, out_gate)) in enumerate(gated):
                product(char if layer == 0 else 0).sigmoid_()
                cell = self.cells[layer].mul_(forget).addcmul_(in_gate, candidate, value=2).sub_(in_gate)
                torch.tanh(cell, out=self.hidden[layer]).mul_(out_gate)
        elif self.cell == "gru":
            gate_columns = 2 * self.size  # reset and update; the candidate's follow
            for layer, hidden in enumerate(self.hidden):
                from_input = self.first_input[char] if layer == 0 else self.input_products[layer - 1]()
                from_hidden = self.hidden_products[layer]()
                gates = torch.sigmoid(from_input[..., :gate_columns] + from_hidden[:, :gate_columns])
                reset, update = gates.chunk(2, 1)
                new = torch.tanh(from_input[..., gate_columns:] + reset * from_hidden[:, gate_columns:])
                hidden.copy_(new + update * (hidden - new))
        else:
            for layer, (product, hidden) in enumerate(zip(self.products, self.hidden, strict=False)):
                torch.tanh(product(char if layer == 0 else 0), out=hidden)
        return F.linear(self.hidden[-1], *self.head)


def block_count(model: CharRNN, threads: int) -> int:
    """How many row blocks `CpuStep` splits each product into on this machine: the fastest of 1, 2, 4, ...
    up to `threads`, timed on the model's shape once per process. One block per thread is fastest on a few
    cores; on many, waking every thread for a product of tens of microseconds costs more than the threads
    save (measured: one block per thread on a 16-core host generated 3,100 chars/s, against 7,900 with
    two blocks on a 2-core machine)."""
    cfg = model.config
    key = (cfg.cell, cfg.layers, cfg.hidden_size, model.head.out_features, threads)
    if key not in _chosen_blocks:
        candidates = [1 << power for power in range(threads.bit_length()) if 1 << power <= threads]
        if candidates[-1] != threads:
            candidates.append(threads)
        zeros = [torch.zeros(1, cfg.hidden_size) for _ in range(cfg.layers)]
        timings = {}
        for blocks in candidates:
            step = CpuStep(model, zeros, zeros if cfg.cell == "lstm" else None, blocks)
            for _ in range(BLOCK_TRIAL_STEPS):
                step(0)
            started = time.perf_counter()
            for _ in range(BLOCK_TRIAL_STEPS):
                step(0)
            timings[blocks] = time.perf_counter() - started
        _chosen_blocks[key] = min(timings, key=timings.__getitem__)
    return _chosen_blocks[key]


def single_step(model: CharRNN, device: torch.device, hidden: list[torch.Tensor],
                cells: list[torch.Tensor] | None) -> StepFunction:
    """The fastest exact-up-to-rounding step for generating one sequence from the given state (one row
    per layer): `CpuStep` on the CPU, elsewhere the model's own fused cells (which update `hidden` and
    `cells` in place)."""
    if device.type == "cpu":
        return CpuStep(model, hidden, cells, block_count(model, torch.get_num_threads()))
    ids = torch.empty(1, dtype=torch.long, device=device)
    return lambda char: model.step_layers(ids.fill_(char), hidden, cells)

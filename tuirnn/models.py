"""CharRNN: embedding -> stacked RNN/GRU/LSTM -> (dropout) -> linear over the vocabulary."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from tuirnn.config import ModelConfig

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
WEIGHT_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
"""A recurrent layer's parameters, as torch names them (with a `_l<layer>` suffix)."""
_CELLS: dict[str, Callable[..., nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class CharRNN(nn.Module):
    def __init__(self, config: ModelConfig, vocab_size: int):
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size, config.embedding_size)
        between_layers = config.dropout if config.layers > 1 else 0.0
        self.rnn = _CELLS[config.cell](
            config.embedding_size, config.hidden_size, config.layers, batch_first=True, dropout=between_layers
        )
        self.output_dropout = nn.Dropout(config.dropout) if config.output_dropout else nn.Identity()
        self.head = nn.Linear(config.hidden_size, vocab_size)

    def forward(self, ids: torch.Tensor, state: State | None = None,
                last_only: bool = False) -> tuple[torch.Tensor, State]:
        """Logits for (batch, seq) ids; with `last_only`, only for the last position."""
        outputs, state = self.rnn(self.embedding(ids), state)
        if last_only:
            outputs = outputs[:, -1]
        return self.head(self.output_dropout(outputs)), state

    def step(self, ids: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        """Logits for one character per sequence (ids of shape (batch,)), for generation in eval mode."""
        if state is None:
            state = self.initial_state(ids.shape[0], ids.device)
        hidden = list(state[0].unbind(0)) if isinstance(state, tuple) else list(state.unbind(0))
        cells = list(state[1].unbind(0)) if isinstance(state, tuple) else None
        logits = self.step_layers(ids, hidden, cells)
        return logits, (torch.stack(hidden), torch.stack(cells)) if cells is not None else torch.stack(hidden)

    def step_layers(self, ids: torch.Tensor, hidden: list[torch.Tensor],
                    cells: list[torch.Tensor] | None) -> torch.Tensor:
        """`step` with the state as per-layer lists updated in place (no stacking per character).

        Runs torch's fused single-step cell kernels on the module's own weights: on the CPU a one-step
        call of nn.LSTM/GRU/RNN spends several times its arithmetic in oneDNN setup, and streaming
        generation is nothing but single steps. Dropout is not applied (eval mode only).
        """
        x = self.embedding(ids)
        for layer in range(self.config.layers):
            weights = [getattr(self.rnn, f"{name}_l{layer}") for name in WEIGHT_NAMES]
            if cells is not None:
                hidden[layer], cells[layer] = torch.lstm_cell(x, (hidden[layer], cells[layer]), *weights)
            elif self.config.cell == "gru":
                hidden[layer] = torch.gru_cell(x, hidden[layer], *weights)
            else:
                hidden[layer] = torch.rnn_tanh_cell(x, hidden[layer], *weights)
            x = hidden[layer]
        logits: torch.Tensor = self.head(x)
        return logits

    def initial_state(self, batch_size: int, device: torch.device | str) -> State:
        shape = (self.config.layers, batch_size, self.config.hidden_size)
        zeros = torch.zeros(shape, device=device)
        return (zeros, zeros.clone()) if self.config.cell == "lstm" else zeros


def detach_state(state: State) -> State:
    """Cut the graph at a batch boundary (truncated BPTT) while keeping the values."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)  # type: ignore[return-value]
    return state.detach()


def state_tensors(state: State) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


def state_from_tensors(cell: str, tensors: list[torch.Tensor]) -> State:
    return (tensors[0], tensors[1]) if cell == "lstm" else tensors[0]

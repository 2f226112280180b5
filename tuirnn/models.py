"""CharRNN: embedding -> stacked RNN/GRU/LSTM -> (dropout) -> linear over the vocabulary."""

from __future__ import annotations

import torch
from torch import nn

from tuirnn.config import ModelConfig

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
_CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


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

    def forward(self, ids: torch.Tensor, state: State | None = None, last_only: bool = False) -> tuple[torch.Tensor, State]:
        """Logits for (batch, seq) ids; with `last_only`, only for the last position."""
        outputs, state = self.rnn(self.embedding(ids), state)
        if last_only:
            outputs = outputs[:, -1]
        return self.head(self.output_dropout(outputs)), state

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

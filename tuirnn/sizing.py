"""Model size and memory, computed from the settings alone (no torch), so forms can show them live."""

from __future__ import annotations

from dataclasses import dataclass

from tuirnn.config import ModelConfig

_GATES = {"rnn": 1, "gru": 3, "lstm": 4}


@dataclass(frozen=True)
class SizeEstimate:
    parameters: int
    training_bytes: int
    """Weights, gradients, Adam moments and activations of one batch, float32; a planning figure."""


def parameter_count(config: ModelConfig, vocab_size: int) -> int:
    """Exact count, computed without building the model (so torch need not be imported)."""
    gates, h, e = _GATES[config.cell], config.hidden_size, config.embedding_size
    recurrent = 0
    for layer in range(config.layers):
        inputs = e if layer == 0 else h
        recurrent += gates * h * (inputs + h + 2)
    return vocab_size * e + recurrent + h * vocab_size + vocab_size


def estimate_size(config: ModelConfig, vocab_size: int, batch_size: int, seq_len: int) -> SizeEstimate:
    params = parameter_count(config, vocab_size)
    gates = _GATES[config.cell]
    per_position = config.embedding_size + config.layers * config.hidden_size * (gates + 2) + 3 * vocab_size
    activations = batch_size * seq_len * per_position
    return SizeEstimate(params, 4 * (4 * params + activations))

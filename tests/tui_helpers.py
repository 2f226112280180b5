"""Helpers shared by the app's tests."""

from __future__ import annotations

from pathlib import Path

from tuirnn.config import RunConfig, preset, with_overrides


def tiny_config(corpus: Path, **overrides: object) -> RunConfig:
    settings = {"corpus": str(corpus), "hidden_size": 16, "embedding_size": 8, "seq_len": 32, "batch_size": 16,
                "max_steps": 400, "eval_every": 20, "sample_every": 20, "sample_length": 40, "log_every": 2,
                "device": "cpu"}
    settings.update(overrides)
    return with_overrides(preset("tiny"), settings)

"""How numbers read, the same on every face: durations, byte counts and a model's short label."""

from __future__ import annotations

from tuirnn.config import ModelConfig


def format_duration(seconds: float) -> str:
    """`1h05m`, `4m20s` or `37s`: coarse enough to read at a glance, exact enough to plan by."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def human_bytes(count: float) -> str:
    """`512 B`, `3.4 MiB`, `1.2 GiB`: binary units, one decimal."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def model_label(model: ModelConfig) -> str:
    """`lstm 2x256`: cell, layers and hidden size, how runs are told apart at a glance."""
    return f"{model.cell} {model.layers}x{model.hidden_size}"

"""How many batches a layout makes of a split: plain arithmetic, no torch, so that a corpus too short for
the settings is refused before torch is imported or a run directory exists."""

from __future__ import annotations

from tuirnn.config import DataConfig
from tuirnn.corpus import CorpusError


def stream_count(n_ids: int, batch_size: int, seq_len: int) -> int:
    """Batches per epoch of the streams layout over `n_ids` characters; at least one, or a CorpusError."""
    count = (n_ids - 1) // batch_size // seq_len
    if count < 1:
        raise CorpusError(
            f"text too short for batch {batch_size} x sequence {seq_len}: "
            f"needs at least {batch_size * seq_len + 1:,} characters, has {n_ids:,}"
        )
    return count


def window_count(n_ids: int, batch_size: int, seq_len: int, stride: int) -> int:
    """Batches per epoch of the windows layout over `n_ids` characters; at least one, or a CorpusError."""
    windows = (n_ids - seq_len - 1) // stride + 1 if n_ids > seq_len else 0
    if windows < batch_size:
        raise CorpusError(
            f"text too short for {batch_size} windows of {seq_len} (stride {stride}): "
            f"has {n_ids:,} characters, {windows:,} windows"
        )
    return windows // batch_size


def check_fits(n_train: int, n_val: int, data: DataConfig, batch_size: int, eval_max_chars: int) -> int:
    """Batches per epoch, computed from the split sizes alone: a corpus too short for the layout is found
    before a run directory is created for it."""
    stride = data.stride or data.seq_len

    def count(n_ids: int, batch: int) -> int:
        if data.layout == "streams":
            return stream_count(n_ids, batch, data.seq_len)
        return window_count(n_ids, batch, data.seq_len, stride)

    per_epoch = count(n_train, batch_size)
    try:
        count(min(n_val, eval_max_chars + 1), 1)
    except CorpusError as exc:
        raise CorpusError(f"the validation split is too short: {exc}") from None
    return per_epoch

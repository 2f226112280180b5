"""Batch layouts over a split's character ids, resident on the training device.

`StreamBatches` is the correct layout for carried state: the text is cut into B contiguous streams and
batch i holds the i-th chunk of every stream, so row j of batch i+1 continues row j of batch i.
`WindowBatches` re-creates the study's layout: consecutive (possibly overlapping) windows in each batch.
"""

from __future__ import annotations

import numpy as np
import torch

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


class StreamBatches:
    targets_last = False

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int):
        stream_len = (ids.numel() - 1) // batch_size
        self.count = stream_count(ids.numel(), batch_size, seq_len)
        used = batch_size * stream_len
        self.inputs = ids[:used].view(batch_size, stream_len)
        self.targets = ids[1 : used + 1].view(batch_size, stream_len)
        self.seq_len = seq_len
        self.batch_size = batch_size

    def __len__(self) -> int:
        return self.count

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        cols = slice(index * self.seq_len, (index + 1) * self.seq_len)
        return self.inputs[:, cols], self.targets[:, cols]


class WindowBatches:
    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int, stride: int, targets_last: bool):
        self.count = window_count(ids.numel(), batch_size, seq_len, stride)
        self.ids = ids
        self.targets_last = targets_last
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.stride = stride
        self.rows = torch.arange(batch_size, device=ids.device)
        self.offsets = torch.arange(seq_len, device=ids.device)

    def __len__(self) -> int:
        return self.count

    def batch(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.stride == self.seq_len and not self.targets_last:  # contiguous windows: views, no gather
            start = index * self.batch_size * self.seq_len
            length = self.batch_size * self.seq_len
            return (self.ids[start : start + length].view(self.batch_size, self.seq_len),
                    self.ids[start + 1 : start + 1 + length].view(self.batch_size, self.seq_len))
        starts = (index * self.batch_size + self.rows) * self.stride
        positions = starts[:, None] + self.offsets
        if self.targets_last:
            return self.ids[positions], self.ids[starts + self.seq_len]
        return self.ids[positions], self.ids[positions + 1]


Batches = StreamBatches | WindowBatches


def to_device_ids(ids: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(ids.astype(np.int64)).to(device)


def make_batches(ids: torch.Tensor, data: DataConfig, batch_size: int) -> Batches:
    if data.layout == "streams":
        return StreamBatches(ids, batch_size, data.seq_len)
    stride = data.stride or data.seq_len
    return WindowBatches(ids, batch_size, data.seq_len, stride, data.targets == "last")


def make_eval_batches(ids: torch.Tensor, data: DataConfig, batch_size: int, max_chars: int) -> Batches:
    """The training layout over held-out ids, with a batch small enough to fit the split."""
    ids = ids[: max_chars + 1]
    if data.layout == "streams":
        fitting = (ids.numel() - 1) // data.seq_len
    else:
        stride = data.stride or data.seq_len
        fitting = max((ids.numel() - data.seq_len - 1) // stride + 1, 0)
    return make_batches(ids, data, max(1, min(batch_size, fitting)))


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

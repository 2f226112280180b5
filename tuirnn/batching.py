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


class StreamBatches:
    targets_last = False

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int):
        stream_len = (ids.numel() - 1) // batch_size
        self.count = stream_len // seq_len
        if self.count < 1:
            raise CorpusError(
                f"text too short for batch {batch_size} x sequence {seq_len}: "
                f"needs at least {batch_size * seq_len + 1:,} characters, has {ids.numel():,}"
            )
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
        windows = (ids.numel() - seq_len - 1) // stride + 1 if ids.numel() > seq_len else 0
        self.count = windows // batch_size
        if self.count < 1:
            raise CorpusError(
                f"text too short for {batch_size} windows of {seq_len} (stride {stride}): "
                f"has {ids.numel():,} characters, {max(windows, 0):,} windows"
            )
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

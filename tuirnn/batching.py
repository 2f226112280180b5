"""Batch layouts over a split's character ids, resident on the training device.

`StreamBatches` is the correct layout for carried state: the text is cut into B contiguous streams and
batch i holds the i-th chunk of every stream, so row j of batch i+1 continues row j of batch i.
`WindowBatches` re-creates the study's layout: consecutive (possibly overlapping) windows in each batch.
"""

from __future__ import annotations

import numpy as np
import torch

from tuirnn.batch_counts import stream_count, window_count
from tuirnn.config import DataConfig


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

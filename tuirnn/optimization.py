"""How the weights move: the optimizer and the learning-rate schedule, both from the settings alone."""

from __future__ import annotations

import math

import torch

from tuirnn.config import TrainConfig


def make_optimizer(train: TrainConfig, model: torch.nn.Module, device: torch.device) -> torch.optim.Optimizer:
    params = list(model.parameters())
    fused = True if device.type == "cuda" else None  # None: torch's own choice, the plain kernels off CUDA
    if train.optimizer == "adam":
        return torch.optim.Adam(params, lr=train.lr, weight_decay=train.weight_decay, fused=fused)
    if train.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=train.lr, weight_decay=train.weight_decay, fused=fused)
    return torch.optim.SGD(params, lr=train.lr, momentum=0.9, weight_decay=train.weight_decay)


def lr_factor(train: TrainConfig, step: int, total_steps: int) -> float:
    """Learning-rate multiplier for a 0-based step: linear warmup, then constant, cosine or linear decay
    to a tenth of the base rate. Computed from the step alone, so a resume needs no scheduler state."""
    if train.schedule == "constant":
        return 1.0
    if step < train.warmup_steps:
        return (step + 1) / train.warmup_steps
    span = max(1, total_steps - train.warmup_steps)
    progress = min(1.0, (step - train.warmup_steps) / span)
    if train.schedule == "cosine":
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))
    return 1.0 - 0.9 * progress

"""Choosing the compute device: CUDA, then Apple's MPS, then the CPU, unless one is forced."""

from __future__ import annotations

import torch

from tuirnn.config import ConfigError


def pick_device(requested: str = "auto") -> torch.device:
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if requested == "cuda" and not cuda:
        raise ConfigError("device 'cuda' was asked for, but this torch build sees no CUDA GPU")
    if requested == "mps" and not mps:
        raise ConfigError("device 'mps' was asked for, but MPS is not available here")
    if requested not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unknown device {requested!r}; use auto, cpu, cuda or mps")
    return torch.device(requested)


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def memory_in_use(device: torch.device) -> int | None:
    """Bytes allocated by torch on a GPU; None on the CPU, where torch does not track it."""
    if device.type == "cuda":
        return int(torch.cuda.memory_allocated(device))
    if device.type == "mps":
        return int(torch.mps.current_allocated_memory())
    return None

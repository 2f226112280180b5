"""Choosing the compute device: CUDA, then Apple's MPS, then the CPU, unless one is forced."""

from __future__ import annotations

import os

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


def available_memory(device: torch.device) -> int | None:
    """Bytes a run could still use on `device`: free GPU memory, or the host's available memory for the
    CPU (and MPS, which shares it); None where it cannot be read."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None

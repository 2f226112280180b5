"""`tuirnn doctor`: what tuirnn will use on this machine, before anything is trained.

Each check is a (topic, finding) row; nothing here changes anything. torch is imported, since what it
sees (CUDA, MPS, threads) is the question.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tuirnn import __version__
from tuirnn.formatting import human_bytes


@dataclass(frozen=True)
class Finding:
    topic: str
    text: str
    problem: bool = False
    """Something that will stop or slow work (no writable models directory, a CPU-only torch on a GPU box)."""


def _directory(topic: str, path: Path) -> Finding:
    shown = f"{path} ({path.resolve()})" if not path.is_absolute() else str(path)
    if path.exists() and not path.is_dir():
        return Finding(topic, f"{shown}: is a file, not a directory", problem=True)
    existing = path if path.exists() else next((p for p in path.resolve().parents if p.exists()), Path("/"))
    writable = os.access(existing, os.W_OK)
    free = shutil.disk_usage(existing).free
    state = "exists" if path.exists() else "will be created"
    return Finding(topic, f"{shown}: {state}, {'writable' if writable else 'NOT writable'}, "
                          f"{human_bytes(free)} free", problem=not writable)


def findings(models_dir: Path, data_dir: Path) -> list[Finding]:
    import torch

    from tuirnn.catalog import list_corpora
    from tuirnn.devices import pick_device
    from tuirnn.train_step import measured_precisions, resolve_precision

    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU build"
    rows = [
        Finding("tuirnn", __version__),
        Finding("python", f"{platform.python_version()} ({sys.executable})"),
        Finding("torch", f"{torch.__version__}, {build}"),
        Finding("CPU threads", f"{torch.get_num_threads()} for torch, {os.cpu_count()} cores seen"),
    ]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(index)
            rows.append(Finding(f"GPU {index}", f"{props.name}, {human_bytes(props.total_memory)}, "
                                               f"compute capability {props.major}.{props.minor}"))
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        rows.append(Finding("cuDNN", str(cudnn) if cudnn else "not available"))
    else:
        driver = shutil.which("nvidia-smi") is not None
        if not torch.version.cuda and driver:
            rows.append(Finding("CUDA", "not available: this torch is a CPU build, but this machine has an NVIDIA "
                                        "driver; install the CUDA build that matches it (see README)", problem=True))
        else:
            built_for = "this torch is a CPU build" if not torch.version.cuda else "no CUDA GPU or driver is visible"
            rows.append(Finding("CUDA", f"not available ({built_for})"))
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    rows.append(Finding("MPS", "available" if mps else "not available"))
    device = pick_device("auto")
    rows.append(Finding("device auto", f"{device.type}: where `--device auto` (the default) trains"))
    precision, note = resolve_precision("auto", device)
    timed = measured_precisions("auto", device)
    if device.type == "cuda":
        text = (f"the faster of {' and '.join(timed)}, timed when a run starts" if timed
                else f"{precision}{f' ({note})' if note else ''}")
    else:
        text = "fp32 (reduced precision applies on CUDA GPUs only)"
    rows.append(Finding("precision auto", text))
    rows.append(_directory("models directory", models_dir))
    rows.append(_directory("data directory", data_dir))
    states = [(c.name, "built-in" if c.path is None else "downloaded" if c.available else "not downloaded")
              for c in list_corpora(data_dir)]
    corpora = ", ".join(f"{name} ({state})" for name, state in states)
    rows.append(Finding("corpora", corpora))
    return rows

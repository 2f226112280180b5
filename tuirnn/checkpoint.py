"""Checkpoints as single safetensors files: tensors plus JSON metadata, never pickle.

One file holds everything an exact resume needs (weights, optimizer moments, RNG states, the carried
hidden state, the step); it is written atomically, so a crash mid-save leaves the previous one intact.
Loading parses only safetensors' header and raw tensor bytes: a crafted file cannot run code.
torch is imported only when a checkpoint is read or written, so the CLI can catch `CheckpointError`
without paying for importing torch in commands that never touch one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuirnn.atomic import atomic_write_bytes

if TYPE_CHECKING:
    import torch

FORMAT = "tuirnn-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint is missing, truncated, corrupt or not ours."""


@dataclass
class Checkpoint:
    step: int
    model: dict[str, torch.Tensor]
    info: dict[str, Any] = field(default_factory=dict)
    """JSON-safe facts: losses, best validation loss, timestamps."""
    optimizer: dict[str, Any] | None = None
    rng: dict[str, torch.Tensor] = field(default_factory=dict)
    carried_state: list[torch.Tensor] = field(default_factory=list)


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    import torch

    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{param_id}.{key}"] = value
            else:
                scalars.setdefault(str(param_id), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, param_id, key = name.split(".", 2)
        state.setdefault(int(param_id), {})[key] = value
    for param_id, values in meta.get("scalars", {}).items():
        state.setdefault(int(param_id), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    from safetensors.torch import save as save_tensors

    tensors = {f"model.{k}": v.detach().contiguous() for k, v in checkpoint.model.items()}
    metadata = {"format": FORMAT, "step": str(checkpoint.step), "info": json.dumps(checkpoint.info)}
    if checkpoint.optimizer is not None:
        optimizer_tensors, optimizer_meta = _flatten_optimizer(checkpoint.optimizer)
        tensors.update({k: v.detach().contiguous() for k, v in optimizer_tensors.items()})
        metadata["optimizer"] = json.dumps(optimizer_meta)
    tensors.update({f"rng.{k}": v.contiguous() for k, v in checkpoint.rng.items()})
    tensors.update({f"carried.{i}": t.detach().contiguous() for i, t in enumerate(checkpoint.carried_state)})
    atomic_write_bytes(Path(path), save_tensors(tensors, metadata=metadata))


def _header_metadata(raw: bytes) -> dict[str, str]:
    header_len = int.from_bytes(raw[:8], "little")
    if len(raw) < 8 or header_len > len(raw) - 8:
        raise ValueError("truncated header")
    header = json.loads(raw[8 : 8 + header_len])
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict):
        raise ValueError("no metadata")
    return metadata


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> Checkpoint:
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    groups: dict[str, dict[str, torch.Tensor]] = {"model": {}, "optimizer": {}, "rng": {}, "carried": {}}
    try:  # every field is untrusted: any malformed piece becomes a CheckpointError, never a crash
        metadata = _header_metadata(raw)
        if metadata.get("format") != FORMAT:
            raise ValueError("not a tuirnn checkpoint")
        tensors = load_tensors(raw)
        step = int(metadata["step"])
        info = json.loads(metadata.get("info", "{}"))
        if not isinstance(info, dict):
            raise ValueError("info is not a table")
        for name, tensor in tensors.items():
            prefix, _, rest = name.partition(".")
            if prefix not in groups:
                raise ValueError(f"unexpected tensor {name!r}")
            groups[prefix][rest if prefix != "optimizer" else name] = tensor
        optimizer = None
        if "optimizer" in metadata:
            # torch's load_state_dict moves each moment to its parameter's device itself
            optimizer = _unflatten_optimizer(groups["optimizer"], json.loads(metadata["optimizer"]))
        carried = [groups["carried"][str(i)].to(device) for i in range(len(groups["carried"]))]
    except (SafetensorError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt or not a tuirnn checkpoint ({exc})") from None
    on_device = {k: v.to(device) for k, v in groups["model"].items()}
    return Checkpoint(step, on_device, info, optimizer, groups["rng"], carried)

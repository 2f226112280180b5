"""Checkpoints as single safetensors files: tensors plus JSON metadata, never pickle, checked on load.

One file holds everything an exact resume needs (weights, optimizer moments, RNG states, the carried
hidden state, the step); it is written atomically, so a crash mid-save leaves the previous one intact.
Loading parses only safetensors' header and raw tensor bytes: a crafted file cannot run code.

A file that parses can still be wrong: one flipped bit in a weight, or a dtype or shape edited in the
header, loads as a model that generates garbage or diverges when resumed. So every checkpoint carries a
sha256 over its metadata and every tensor's name, dtype, shape and bytes (`content_digest`), and the
sha256 of the vocabulary it was trained with (`vocab_digest`); `load_checkpoint` refuses a file whose
contents or vocabulary do not match. Files from before the checksums (tuirnn-checkpoint/1) cannot be
checked and are refused, not trusted.

torch is imported only when a checkpoint is read or written, so the CLI can catch `CheckpointError`
without paying for importing torch in commands that never touch one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuirnn.atomic import atomic_write_bytes
from tuirnn.errors import TuirnnError

if TYPE_CHECKING:
    import torch

    from tuirnn.corpus import Vocabulary

FORMAT = "tuirnn-checkpoint/2"
UNCHECKED_FORMAT = "tuirnn-checkpoint/1"
"""The format before checksums: recognised only to say why it is refused."""
DIGEST_KEY = "sha256"
VOCAB_DIGEST_KEY = "vocab_sha256"


class CheckpointError(TuirnnError):
    """A checkpoint is missing, truncated, corrupt, damaged, not ours or not for this run."""


@dataclass
class Checkpoint:
    step: int
    model: dict[str, torch.Tensor]
    info: dict[str, Any] = field(default_factory=dict)
    """JSON-safe facts: losses, best validation loss, timestamps."""
    optimizer: dict[str, Any] | None = None
    rng: dict[str, torch.Tensor] = field(default_factory=dict)
    carried_state: list[torch.Tensor] = field(default_factory=list)
    vocab_sha256: str | None = None
    """`vocab_digest` of the vocabulary the weights were trained with; a run's checkpoints always have it."""


def vocab_digest(vocab: Vocabulary) -> str:
    """sha256 of the vocabulary's canonical JSON (what a run's vocab.json holds): the characters in order."""
    return hashlib.sha256(vocab.to_json().encode("utf-8")).hexdigest()


def content_digest(metadata: Mapping[str, str], tensors: Mapping[str, torch.Tensor]) -> str:
    """sha256 over the metadata (all but the digest itself) and every tensor's name, dtype, shape and bytes.

    Computed from the tensors as safetensors parsed them, so a header edit that still parses (a dtype or a
    shape changed) changes the digest as surely as a flipped bit in the data does.
    """
    import torch

    unsigned = {key: value for key, value in metadata.items() if key != DIGEST_KEY}
    digest = hashlib.sha256(json.dumps(unsigned, sort_keys=True).encode("utf-8"))
    for name in sorted(tensors):
        tensor = tensors[name]
        digest.update(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode("utf-8"))
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


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

    tensors = {f"model.{k}": v for k, v in checkpoint.model.items()}
    metadata = {"format": FORMAT, "step": str(checkpoint.step), "info": json.dumps(checkpoint.info)}
    if checkpoint.optimizer is not None:
        optimizer_tensors, optimizer_meta = _flatten_optimizer(checkpoint.optimizer)
        tensors.update(optimizer_tensors)
        metadata["optimizer"] = json.dumps(optimizer_meta)
    if checkpoint.vocab_sha256 is not None:
        metadata[VOCAB_DIGEST_KEY] = checkpoint.vocab_sha256
    tensors.update({f"rng.{k}": v for k, v in checkpoint.rng.items()})
    tensors.update({f"carried.{i}": t for i, t in enumerate(checkpoint.carried_state)})
    on_host = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}  # hashed and written as stored
    metadata[DIGEST_KEY] = content_digest(metadata, on_host)
    atomic_write_bytes(Path(path), save_tensors(on_host, metadata=metadata))


def _header_metadata(raw: bytes) -> dict[str, str]:
    header_len = int.from_bytes(raw[:8], "little")
    if len(raw) < 8 or header_len > len(raw) - 8:
        raise ValueError("truncated header")
    header = json.loads(raw[8 : 8 + header_len])
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict):
        raise ValueError("no metadata")
    return metadata


def load_checkpoint(path: Path, device: torch.device | str = "cpu", vocab: Vocabulary | None = None) -> Checkpoint:
    """Read and verify a checkpoint; with `vocab` (the run's vocab.json), also check it was trained with it."""
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
        if metadata.get("format") == UNCHECKED_FORMAT:
            raise CheckpointError(f"checkpoint {path} is in the old format {UNCHECKED_FORMAT}, which has no "
                                  f"checksums, so it cannot be checked for damage; this version reads only {FORMAT} "
                                  "(train the run again)")
        if metadata.get("format") != FORMAT:
            raise ValueError("not a tuirnn checkpoint")
        if DIGEST_KEY not in metadata:
            raise ValueError("no checksum")
        tensors = load_tensors(raw)
        if content_digest(metadata, tensors) != metadata[DIGEST_KEY]:
            raise CheckpointError(f"checkpoint {path} is damaged: its contents do not match the checksum "
                                  "written with it")
        if vocab is not None and VOCAB_DIGEST_KEY not in metadata:
            raise CheckpointError(f"checkpoint {path} does not say which vocabulary it was trained with")
        if vocab is not None and metadata[VOCAB_DIGEST_KEY] != vocab_digest(vocab):
            raise CheckpointError(f"the run's vocab.json is not the vocabulary {path} was trained with (edited, "
                                  "reordered or damaged): the model's characters would be mixed up")
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
    except CheckpointError:
        raise
    except (SafetensorError, ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt or not a tuirnn checkpoint ({exc})") from None
    on_device = {k: v.to(device) for k, v in groups["model"].items()}
    return Checkpoint(step, on_device, info, optimizer, groups["rng"], carried, metadata.get(VOCAB_DIGEST_KEY))


def intact_step(path: Path, vocab: Vocabulary | None = None) -> int | None:
    """The step of the checkpoint at `path` if it is there and passes every check, else None: what an
    error about one damaged checkpoint can offer instead."""
    try:
        return load_checkpoint(path, vocab=vocab).step
    except CheckpointError:
        return None


def _names(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def load_weights(model: torch.nn.Module, weights: Mapping[str, torch.Tensor], path: Path) -> None:
    """Copy a checkpoint's weights into `model`, or say in one line why they do not fit (torch's own
    message spans several tab-indented lines and does not name the file)."""
    expected = model.state_dict()
    missing = sorted(expected.keys() - weights.keys())
    unexpected = sorted(weights.keys() - expected.keys())
    mismatched = [name for name, tensor in expected.items() if name in weights and weights[name].shape != tensor.shape]
    if missing:
        problem = f"the checkpoint lacks {_names(missing)}"
    elif unexpected:
        problem = f"the model has no {_names(unexpected)}"
    elif mismatched:
        name = mismatched[0]
        problem = (f"size mismatch for {name}: checkpoint {list(weights[name].shape)}, "
                   f"model {list(expected[name].shape)}")
    else:
        model.load_state_dict(weights)
        return
    raise CheckpointError(f"checkpoint {path} does not fit the run's model as config.json describes it ({problem})")

"""Continuing a run where its checkpoint left it: weights, optimizer moments, random state, carried state.

A damaged `latest` is never used: the error offers `best` when best is intact, and says what resuming from
weights alone gives up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from tuirnn.atomic import remove_stale_temps
from tuirnn.checkpoint import Checkpoint, CheckpointError, intact_step, load_checkpoint, load_weights
from tuirnn.corpus import Corpus, CorpusError
from tuirnn.models import CharRNN, State, state_from_tensors
from tuirnn.runs import RunDir


def rng_snapshot(device: torch.device) -> dict[str, torch.Tensor]:
    states = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    elif device.type == "mps":
        states["mps"] = torch.mps.get_rng_state()
    return states


def restore_rng(states: dict[str, torch.Tensor], device: torch.device) -> None:
    if "cpu" in states:
        torch.set_rng_state(states["cpu"].cpu())
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state(states["cuda"].cpu(), device)
    elif device.type == "mps" and "mps" in states:
        torch.mps.set_rng_state(states["mps"].cpu())


@dataclass(frozen=True)
class Restored:
    """Where a resumed run stands."""

    step: int
    best_val_loss: float | None
    val_loss: float | None
    last_loss: float | None
    state: State | None
    """The carried hidden state, where the run carries one."""
    watch: dict[str, object]
    """What the validation watch had counted (validations since the best, ...)."""


def restore(run: RunDir, corpus: Corpus, model: CharRNN, optimizer: torch.optim.Optimizer, device: torch.device,
            which: str = "latest") -> Restored:
    """Load `run`'s `latest` (or, `which` = best, its best weights alone) into `model` and `optimizer`,
    after checking the corpus is the one it was trained on; logs written after the checkpoint are dropped."""
    checkpoint, path = _resume_checkpoint(run, device, which)
    if run.vocab != corpus.vocab:
        raise CorpusError("the corpus's characters differ from the run's vocabulary: resume with the same corpus")
    expected = run.info.get("corpus_sha256")
    if expected and expected != corpus.sha256:
        raise CorpusError("the corpus text differs from the one this run was trained on: resume with the same "
                          "text (the data position would otherwise point into different text)")
    load_weights(model, checkpoint.model, path)
    if checkpoint.optimizer is not None:
        try:
            optimizer.load_state_dict(checkpoint.optimizer)
        except (RuntimeError, ValueError, KeyError) as exc:
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CheckpointError(f"checkpoint {path} does not fit the run's optimizer ({first_line})") from None
    restore_rng(checkpoint.rng, device)
    remove_stale_temps(run.path)  # this process owns the run now: clear a killed writer's leftovers
    run.truncate_logs_after(checkpoint.step)
    state = state_from_tensors(model.config.cell, checkpoint.carried_state) if checkpoint.carried_state else None
    info = checkpoint.info
    return Restored(checkpoint.step, info.get("best_val_loss"), info.get("val_loss"), info.get("last_loss"), state,
                    info)


def _resume_checkpoint(run: RunDir, device: torch.device, which: str) -> tuple[Checkpoint, Path]:
    path = run.best_path if which == "best" else run.latest_path
    try:
        return load_checkpoint(path, device, run.vocab), path
    except CheckpointError as exc:
        best_step = intact_step(run.best_path, run.vocab) if path == run.latest_path else None
        if best_step is None:
            raise
        raise CheckpointError(
            f"{exc}; {run.best_path.name} (step {best_step}) is intact: resume from it with `tuirnn train "
            f"--resume {run.path} --from best` (its weights only: the optimizer's moments, the random state "
            "and the carried hidden state start afresh)") from None

"""One trial, run inside a worker (a local process or a Ray task): a normal core run in its own run directory.

It speaks to its driver in plain dicts (picklable, JSON-able, valid Ray Tune results):

    {"kind": "started", "trial", "start_step", "total_steps", "device"}
    {"kind": "step", "trial", "step", "total_steps", "loss", "last_loss", "chars_per_s", "eta_s", ...}
    {"kind": "eval", "trial", "step", "val_loss", "val_bpc"}
    {"kind": "end", "trial", "status", "step", "last_loss", "val_loss", "best_val_loss", "error"}

The end status is done, stopped (asked to stop: pruned or the sweep was stopped), diverged or failed.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuirnn.config import RunConfig
from tuirnn.errors import TuirnnError
from tuirnn.events import (
    Evaluated,
    Event,
    Failed,
    Finished,
    Started,
    StepMetrics,
    TrainingControl,
)
from tuirnn.locks import FileLock
from tuirnn.runs import LATEST_FILE, RunDir, RunError

Message = dict[str, Any]


@dataclass(frozen=True)
class TrialJob:
    trial: str
    config: dict[str, Any]
    run_dir: str
    data_dir: str
    threads: int


def stderr_log(run_dir: str | Path) -> Path:
    """Where a trial process's standard error goes: beside its run directory, which a fresh attempt
    replaces, and off the terminal, where a stray library warning would draw over the app."""
    run_path = Path(run_dir)
    return run_path.with_name(f".{run_path.name}.stderr.log")


def event_message(trial: str, event: Event) -> Message | None:
    if isinstance(event, Started):
        return {"kind": "started", "trial": trial, "start_step": event.start_step, "total_steps": event.total_steps,
                "device": event.device}
    if isinstance(event, StepMetrics):
        return {"kind": "step", "trial": trial, "step": event.step, "total_steps": event.total_steps,
                "loss": event.loss, "last_loss": event.last_loss, "chars_per_s": event.chars_per_s,
                "elapsed_s": event.elapsed_s, "eta_s": event.eta_s}
    if isinstance(event, Evaluated):
        return {"kind": "eval", "trial": trial, "step": event.step, "val_loss": event.val_loss,
                "val_bpc": event.val_bpc}
    return None


def end_message(trial: str, result: Finished | Failed) -> Message:
    if isinstance(result, Finished):
        status = "done" if result.reason in ("completed", "early-stopped") else "stopped"
        return {"kind": "end", "trial": trial, "status": status, "step": result.step, "last_loss": result.last_loss,
                "val_loss": result.val_loss, "best_val_loss": result.best_val_loss, "error": ""}
    return {"kind": "end", "trial": trial, "status": "diverged" if result.kind == "nan" else "failed",
            "step": result.step, "last_loss": None, "val_loss": None, "best_val_loss": None, "error": result.message}


@contextlib.contextmanager
def _exclusive(run_path: Path) -> Iterator[None]:
    """Hold the trial's own lock: a worker orphaned by a killed driver finishes saving before a resumed one
    starts (this one waits for it, however long)."""
    run_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(run_path.with_name(f".{run_path.name}.lock"))
    lock.acquire(wait=None)
    try:
        yield
    finally:
        lock.release()


def _cuda_memory() -> dict[str, int]:
    """Peak reserved and free GPU memory, from which the local driver decides how many trials fit at once."""
    import torch

    free, _ = torch.cuda.mem_get_info()
    return {"gpu_peak_bytes": int(torch.cuda.max_memory_reserved()), "gpu_free_bytes": int(free)}


def run_trial(job: TrialJob, send: Callable[[Message], None], control: TrainingControl) -> Message:
    """Train the trial, resuming its run directory when a checkpoint is there; never raises, always sends an end."""
    from tuirnn.launch import create_run, plan_run, resume_run
    from tuirnn.training import Trainer

    run_path = Path(job.run_dir)
    try:
        with _exclusive(run_path):
            plan = plan_run(RunConfig.from_dict(job.config), Path(job.data_dir))
            if (run_path / LATEST_FILE).exists():
                launch = resume_run(RunDir.open_claimed(run_path), plan)
            else:  # nothing worth keeping from an attempt killed before its first checkpoint
                if run_path.is_symlink():
                    raise RunError(f"{run_path} is a symbolic link; refusing to replace it")
                shutil.rmtree(run_path, ignore_errors=True)
                launch = create_run(plan, run_path, sweep_trial=job.trial)
            trainer = Trainer(launch.config, launch.corpus, launch.run, resume=launch.resume, control=control)

            def forward(event: Event) -> None:
                message = event_message(job.trial, event)
                if message is not None:
                    if message["kind"] == "step" and trainer.device.type == "cuda":
                        message.update(_cuda_memory())
                    send(message)

            trainer.subscribe(forward)
            result = trainer.run()
    except (TuirnnError, OSError) as exc:
        result = Failed(0, "error", str(exc), run_path)
    except Exception as exc:  # noqa: BLE001  (one broken trial must not stop the sweep)
        result = Failed(0, "error", f"{type(exc).__name__}: {exc}", run_path)
    message = end_message(job.trial, result)
    send(message)
    return message

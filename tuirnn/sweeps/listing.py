"""Sweeps on disk as a person picks them: where a new one goes, the readable ones, their counts, and
whether one has trials left to run."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from tuirnn.runs import SWEEP_FILE, SWEEPS_DIR, RunError, sweeps_in
from tuirnn.sweeps.sweepdir import SweepDir


def new_sweep_path(models_dir: Path, name: str) -> Path:
    """models/sweeps/<name>-<date>-<time>, with -2, -3... when two sweeps start within a second."""
    base = Path(models_dir) / SWEEPS_DIR / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def list_sweeps(sweeps_dir: Path) -> list[SweepDir]:
    """Readable sweeps, most recently updated first; damaged ones are left out."""
    found = []
    for path in sweeps_in(sweeps_dir):
        try:
            found.append(SweepDir.read(path))
        except RunError:
            continue
    return sorted(found, key=lambda sweep: (sweep.path / SWEEP_FILE).stat().st_mtime, reverse=True)


def sweep_counts(sweep: SweepDir) -> str:
    """`3/8 done, 1 failed, 1 running`: done out of all the sweep's trials, then the other statuses."""
    counts = Counter(record.status for record in sweep.trials)
    parts = [f"{counts.pop('done', 0)}/{sweep.definition.trial_count} done"]
    parts += [f"{n} {status}" for status, n in counts.items()]
    return ", ".join(parts)


def progress(sweep: SweepDir, workers: int, now: float) -> tuple[float, float | None]:
    """(the share of the sweep's work done, seconds left or None before anything can tell): each trial counts
    by its steps done out of its planned steps, and the time a trial takes is read from those that have
    run (their seconds over their share done), `workers` at once."""
    total = max(1, sweep.definition.trial_count)
    shares, per_trial = [], []
    for record in sweep.trials:
        share = 1.0 if record.status in ("done", "pruned", "failed", "diverged") else (
            min(1.0, record.step / record.total_steps) if record.total_steps else 0.0)
        shares.append(share)
        seconds = record.seconds + (now - record.started if record.status == "running" and record.started else 0)
        if record.status in ("done", "running") and share > 0.05 and seconds > 0:
            per_trial.append(seconds / share)
    done = sum(shares) / total
    if not per_trial or done >= 1.0:
        return done, (0.0 if done >= 1.0 else None)
    return done, (total - sum(shares)) * (sum(per_trial) / len(per_trial)) / max(1, workers)


def resumable(sweep: SweepDir) -> bool:
    """Some trial is unfinished, or some never started."""
    return bool(sweep.unfinished()) or len(sweep.trials) < sweep.definition.trial_count

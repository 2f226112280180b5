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


def resumable(sweep: SweepDir) -> bool:
    """Some trial is unfinished, or some never started."""
    return bool(sweep.unfinished()) or len(sweep.trials) < sweep.definition.trial_count

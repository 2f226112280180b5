"""The sweep directory: like a run directory, the contract between a sweep and everything that reads it.

    <sweep>/sweep.json      the definition and every trial's settings, status and results (atomic writes)
            results.csv     one row per trial: status, axis values, last_loss, val_loss, val_bpc, ...
            results.json    the same rows as JSON, plus the metric and the best trial
            trials/<id>/    each trial's normal run directory (config, metrics.jsonl, checkpoints)

A trial is queued, running, then done, pruned, failed or diverged; `running` found on disk means the
sweep was killed while it ran, so it is queued again and resumed from its checkpoint.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tuirnn.atomic import atomic_write_bytes, remove_stale_temps
from tuirnn.locks import FileLock, LockBusy, is_held
from tuirnn.paths import PathError, confined, is_inside
from tuirnn.runs import SWEEP_FILE, TRIALS_DIR, RunError, RunInUse, finite_or_none, new_directory
from tuirnn.sweeps.definition import SweepDefinition

RESULTS_CSV = "results.csv"
RESULTS_JSON = "results.json"
SWEEP_LOCK_FILE = ".sweep.lock"
TRIAL_ID = re.compile(r"t[0-9]{3,9}")
"""A trial's id, as `add_trial` makes it; anything else read from sweep.json is refused, since the id
names the trial's directory."""
STATUSES = ("queued", "running", "done", "pruned", "failed", "diverged")
FINISHED = frozenset({"done", "pruned", "failed", "diverged"})
LN2 = math.log(2)


@dataclass
class TrialRecord:
    id: str
    number: int
    params: dict[str, Any]
    config: dict[str, Any]
    status: str = "queued"
    attempts: int = 0
    """How many times a worker started this trial; more than one means it was resumed."""
    step: int = 0
    total_steps: int = 0
    last_loss: float | None = None
    val_loss: float | None = None
    best_val_loss: float | None = None
    intermediate: list[list[float]] = field(default_factory=list)
    """[step, val_loss] at each evaluation: what the pruner compares, kept so a resumed sweep can rebuild it."""
    error: str = ""
    started: float | None = None
    finished: float | None = None
    seconds: float = 0.0
    """Time spent running, summed over attempts."""

    @property
    def val_bpc(self) -> float | None:
        return None if self.val_loss is None else self.val_loss / LN2

    def metric(self, name: str) -> float | None:
        value = getattr(self, name)
        return value if value is not None and math.isfinite(value) else None


@dataclass
class SweepDir:
    path: Path
    definition: SweepDefinition
    trials: list[TrialRecord]
    info: dict[str, Any]
    _lock: FileLock | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def create(cls, path: Path, definition: SweepDefinition, claim: bool = False) -> SweepDir:
        """A new sweep directory, locked before its first write; the lock is kept with `claim` (by the
        process that goes on to run the sweep)."""
        path = new_directory(Path(path), "another --out")
        sweep = cls(path, definition.with_absolute_corpora(), [], {"created": time.time()})
        sweep.claim()
        try:
            if any(entry.name != SWEEP_LOCK_FILE for entry in path.iterdir()):  # another creator got here first
                raise RunError(f"{path} already exists and is not empty: pick another --out")
            sweep.save()
        except BaseException:
            sweep.release()
            raise
        if not claim:
            sweep.release()
        return sweep

    def claim(self) -> None:
        """Take the sweep's lock: one process runs a sweep at a time, and a second is refused untouched."""
        if self._lock is not None:
            return
        lock = FileLock(self.path / SWEEP_LOCK_FILE)
        try:
            lock.acquire()
        except LockBusy:
            raise RunInUse(f"the sweep {self.path} is being run by another process: stop that one first") from None
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @property
    def live(self) -> bool:
        """Whether a live process (this one included) runs the sweep."""
        return is_held(self.path / SWEEP_LOCK_FILE)

    @classmethod
    def read(cls, path: Path) -> SweepDir:
        """A saved sweep, to show: leaves temp files alone, since another process may be running the sweep
        and be about to rename one into place."""
        path = Path(path)
        try:
            raw = json.loads((path / SWEEP_FILE).read_text(encoding="utf-8"))
            definition = SweepDefinition.from_dict(raw["definition"])
            names = {f.name for f in fields(TrialRecord)}
            trials = [TrialRecord(**{k: v for k, v in record.items() if k in names}) for record in raw["trials"]]
            for record in trials:
                if not isinstance(record.id, str) or not TRIAL_ID.fullmatch(record.id):
                    raise ValueError(f"trial id {record.id!r} is not a trial id (t001, t002, ...)")
        except FileNotFoundError:
            raise RunError(f"{path} is not a sweep: {SWEEP_FILE} is missing") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:  # bad JSON and ConfigError are ValueErrors
            raise RunError(f"{path / SWEEP_FILE} is damaged: {exc}") from None
        if not is_inside(path, path / TRIALS_DIR):
            raise RunError(f"{path / TRIALS_DIR} leads outside the sweep: not reading it")
        return cls(path, definition, trials, dict(raw.get("info", {})))

    @classmethod
    def open(cls, path: Path, claim: bool = True) -> SweepDir:
        """A sweep to run or resume: this process takes its lock (unless its parent holds it: `claim` False)
        before anything is written, then clears a killed writer's temp files."""
        read = cls.read(path)
        if claim:
            read.claim()
            try:  # read again under the lock: what is read is what no other process is writing
                sweep = cls.read(path)
            except BaseException:
                read.release()
                raise
            sweep._lock, read._lock = read._lock, None
        else:
            sweep = read
        remove_stale_temps(sweep.path)
        return sweep

    def trial_path(self, record: TrialRecord) -> Path:
        """The trial's run directory: inside this sweep's trials/, or a RunError (a planted symlink)."""
        try:
            return confined(self.path, self.path / TRIALS_DIR / record.id, "trial directory")
        except PathError as exc:
            raise RunError(str(exc)) from None

    def add_trial(self, number: int, params: dict[str, Any]) -> TrialRecord:
        record = TrialRecord(f"t{number:03d}", number, params, self.definition.config_for(params).to_dict())
        self.trials.append(record)
        return record

    def find(self, trial_id: str) -> TrialRecord | None:
        return next((record for record in self.trials if record.id == trial_id), None)

    def unfinished(self) -> list[TrialRecord]:
        return [record for record in self.trials if record.status not in FINISHED]

    def save(self) -> None:
        self.info["updated"] = time.time()
        raw = {"version": 1, "definition": self.definition.to_dict(), "info": self.info,
               "trials": [{k: finite_or_none(v) for k, v in asdict(record).items()} for record in self.trials]}
        atomic_write_bytes(self.path / SWEEP_FILE, (json.dumps(raw, indent=1) + "\n").encode("utf-8"))

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per trial, in trial order: what results.csv and results.json hold."""
        axes = [axis.name for axis in self.definition.axes]
        return [
            {"trial": r.id, "status": r.status, **{name: r.params.get(name) for name in axes},
             "last_loss": finite_or_none(r.last_loss), "val_loss": finite_or_none(r.val_loss),
             "val_bpc": finite_or_none(r.val_bpc),
             "best_val_loss": finite_or_none(r.best_val_loss), "steps": r.step, "seconds": round(r.seconds, 1),
             "run_dir": str(Path(TRIALS_DIR) / r.id), "error": r.error}
            for r in sorted(self.trials, key=lambda r: r.number)
        ]

    def ranked(self, metric: str | None = None) -> list[TrialRecord]:
        """Done trials with a value of `metric` (default: the sweep's), best first; ties by trial number."""
        metric = metric or self.definition.metric
        scored = [(value, r.number, r) for r in self.trials
                  if r.status == "done" and (value := r.metric(metric)) is not None]
        return [record for _, _, record in sorted(scored, key=lambda item: item[:2])]

    def best(self) -> TrialRecord | None:
        """The done trial with the lowest value of the sweep's metric."""
        ranked = self.ranked()
        return ranked[0] if ranked else None

    def export(self) -> None:
        rows = self.rows()
        header = list(rows[0]) if rows else ["trial", "status"]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(self.path / RESULTS_CSV, text.getvalue().encode("utf-8"))
        best = self.best()
        summary = {"sweep": self.definition.name, "metric": self.definition.metric,
                   "best_trial": best.id if best else None, "trials": rows}
        atomic_write_bytes(self.path / RESULTS_JSON, (json.dumps(summary, indent=1) + "\n").encode("utf-8"))

"""Which point each trial runs and whether a running trial is pruned: Optuna's samplers and pruner.

The Optuna study lives in memory in the driver. sweep.json is the record of truth, so on resume the study
is rebuilt by replaying every recorded trial in order (each one enqueued with its recorded point, its
validation losses reported again, the finished ones told their outcome). Replaying in order keeps trial
numbers, and so the grid's order, exactly as they were; unfinished trials stay open to run again.
"""

from __future__ import annotations

import math
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from tuirnn.config import FIELDS
from tuirnn.sweeps.definition import Axis, SweepDefinition
from tuirnn.sweeps.sweepdir import TrialRecord

optuna.logging.set_verbosity(optuna.logging.WARNING)


class _AskTellGridSampler(optuna.samplers.GridSampler):
    """GridSampler calls `study.stop()` once the grid is covered, which only works inside `study.optimize()`
    and raises under ask-and-tell; the sweep counts its trials itself."""

    def after_trial(self, study: optuna.Study, trial: Any, state: TrialState, values: Any) -> None:
        return None


def _distribution(axis: Axis) -> BaseDistribution:
    if axis.span is not None:
        start, stop, step = axis.span
        if FIELDS[axis.name].kind is int:
            return IntDistribution(int(start), int(stop), step=int(step))
        return FloatDistribution(start, stop, step=step)
    return CategoricalDistribution(axis.values)


def _sampler(definition: SweepDefinition, replayed: int) -> optuna.samplers.BaseSampler:
    """Replayed trials are enqueued and do not advance a seeded sampler's random stream, so on a resume
    the seed moves on by their count: otherwise random and TPE would propose the finished points again."""
    if definition.strategy == "grid":
        return _AskTellGridSampler({axis.name: list(axis.values) for axis in definition.axes}, seed=definition.seed)
    seed = definition.seed + replayed
    if definition.strategy == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(definition: SweepDefinition) -> optuna.pruners.BasePruner:
    if definition.pruning == "asha":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


class Planner:
    def __init__(self, definition: SweepDefinition, records: list[TrialRecord]):
        self.definition = definition
        self._distributions = {axis.name: _distribution(axis) for axis in definition.axes}
        self.study = optuna.create_study(direction="minimize", sampler=_sampler(definition, len(records)),
                                         pruner=_pruner(definition))
        self._open: dict[int, optuna.Trial] = {}
        for record in sorted(records, key=lambda r: r.number):
            self.study.enqueue_trial(record.params)
            self._open[record.number] = self.study.ask(self._distributions)
            for step, value in record.intermediate:  # asking the pruner again re-records the rungs it passed
                self.report(record.number, int(step), value)
            if record.status in ("done", "pruned", "failed", "diverged"):
                self.tell(record.number, record.status, record.metric(definition.metric))
        self.asked = len(records)

    def ask(self) -> tuple[int, dict[str, Any]] | None:
        """The next trial's number and point, or None once the sweep has all its trials."""
        if self.asked >= self.definition.trial_count:
            return None
        trial = self.study.ask(self._distributions)
        self._open[trial.number] = trial
        self.asked += 1
        return trial.number, {axis.name: axis.snap(trial.params[axis.name]) for axis in self.definition.axes}

    def report(self, number: int, step: int, value: float) -> bool:
        """Record a validation loss; True when the pruner says this trial should stop."""
        trial = self._open.get(number)
        if trial is None or not math.isfinite(value):
            return False
        trial.report(value, step)
        return trial.should_prune()

    def tell(self, number: int, status: str, value: float | None) -> None:
        trial = self._open.pop(number, None)
        if trial is None:
            return
        if status == "done" and value is not None:
            self.study.tell(trial, value)
        else:
            self.study.tell(trial, state=TrialState.PRUNED if status == "pruned" else TrialState.FAIL)

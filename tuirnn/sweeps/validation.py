"""Checking a sweep before it starts, so hours of compute are not spent on a typo.

Settings no trial could run with are errors; repeated points, settings that do nothing in some trials and
search settings that cannot work as meant are warnings a person should see before starting.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tuirnn.config import ConfigError, no_op_warnings, validation_errors
from tuirnn.sweeps.definition import (
    MAX_LISTED_POINTS,
    MAX_TRIALS,
    SweepDefinition,
    describe_point,
)


@dataclass
class SweepCheck:
    trials: int
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def raise_errors(self) -> None:
        if self.errors:
            more = f" (and {len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
            raise ConfigError("; ".join(self.errors[:3]) + more)


def _where(points: list[dict[str, Any]]) -> str:
    if len(points) == 1:
        return describe_point(points[0])
    return f"{len(points)} trials, e.g. {describe_point(points[0])}"


def check_sweep(definition: SweepDefinition) -> SweepCheck:
    check = SweepCheck(definition.trial_count)
    if definition.trial_count > MAX_TRIALS:
        check.errors.append(f"{definition.trial_count:,} trials is more than a sweep can run here (at most "
                            f"{MAX_TRIALS:,}): use fewer values per axis, or the random or tpe strategy with "
                            "trials = N")
    if definition.strategy == "grid" and definition.trials not in (0, definition.space_size):
        check.warnings.append(f"trials = {definition.trials} is ignored: "
                              f"the grid runs all {definition.space_size} points")
    if definition.strategy != "grid" and definition.trials > definition.space_size:
        check.warnings.append(f"{definition.trials} trials from {definition.space_size} distinct points: "
                              "some points will run more than once")
    for axis in definition.axes:
        if len(axis.values) == 1:
            check.warnings.append(f"axis {axis.name} has one value ({axis.values[0]!r}); it could be a base setting")
        repeated = [value for value, count in Counter(axis.values).items() if count > 1]
        if repeated:
            check.warnings.append(f"axis {axis.name} lists {', '.join(map(repr, repeated))} more than once")

    if definition.space_size <= MAX_LISTED_POINTS:
        points = definition.points()
    else:
        points = [{axis.name: value} for axis in definition.axes for value in axis.values]
        check.warnings.append(f"{definition.space_size:,} combinations: each axis value was checked on the base "
                              "alone, not every combination")
    problems: dict[str, list[dict[str, Any]]] = {}
    notes: dict[str, list[dict[str, Any]]] = {}
    first_with: dict[str, dict[str, Any]] = {}
    repeats: list[dict[str, Any]] = []
    unprunable: list[dict[str, Any]] = []
    for point in points:
        config = definition.config_for(point)
        for name, message in validation_errors(config).items():
            label = f"{name}={point[name]!r}: {message}" if name in point else message
            problems.setdefault(label, []).append(point)
        for note in no_op_warnings(config):
            notes.setdefault(note, []).append(point)
        key = config.to_json()
        if key in first_with:
            repeats.append(point)
        else:
            first_with[key] = point
        if definition.pruning != "none" and config.train.eval_every == 0:
            unprunable.append(point)

    check.errors += [f"{label} ({_where(where)})" for label, where in problems.items()]
    check.warnings += [f"{note} ({_where(where)})" for note, where in notes.items()]
    if repeats:
        check.warnings.append(f"{len(repeats)} point(s) repeat another point's settings ({_where(repeats)})")
    if unprunable:
        check.warnings.append("pruning compares validation losses between evaluations, but eval_every is 0 "
                              f"so these trials cannot be pruned ({_where(unprunable)})")
    return check

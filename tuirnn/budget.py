"""A time budget turned into steps: how many optimizer steps, validations and samples fit in `--time`.

The trainer first trains for a few seconds (the probe), then validates, saves and samples once, timing
each; from those costs it plans the steps so that the learning-rate schedule ends at the budget, with
about ten validations and ten samples on the way (the last of each at the end). At each later validation
it plans the remaining steps again from the speed measured so far (validations and samples keep their
spacing), and it stops early if the budget runs out anyway. Plain arithmetic, no torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EVALUATIONS = 10
"""Validations (each with a checkpoint) a budgeted run makes, the final one included."""
SAMPLES = 10
PROBE_MIN_STEPS = 5
EVALUATION_SHARE = 0.01
"""The most of the budget one validation may take: ten of them, a tenth of it."""
MIN_EVALUATION_CHARS = 20_000
MAX_BUDGET_S = 7 * 24 * 3600.0
DEFAULT_BUDGET_S = 300.0
"""What a run with no length given trains for: five minutes, planned to learn as much as they can."""

_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|h)?\s*",
                       re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """Seconds in `90`, `90s`, `5m`, `1.5h` or `1h30m`; a ValueError for anything else."""
    total, position, matched = 0.0, 0, False
    while position < len(text):
        match = _DURATION.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(text)
        unit = (match.group(2) or "s")[0].lower()
        total += float(match.group(1)) * _UNIT_SECONDS[unit]
        position, matched = match.end(), True
    if not matched:
        raise ValueError(text)
    return total


def probe_seconds(budget_s: float) -> float:
    """How long the probe trains before the first plan: long enough to time steps, short enough that a
    first validation and sample come within seconds."""
    return min(5.0, max(0.5, 0.03 * budget_s))


@dataclass(frozen=True)
class Costs:
    """Measured on this machine, for this model."""

    seconds_per_step: float
    evaluation_s: float
    """One validation and the checkpoint saved with it."""
    sample_s: float


@dataclass(frozen=True)
class Cadence:
    """When a run stops, validates and samples."""

    total_steps: int
    eval_every: int
    sample_every: int


def count_between(every: int, after: int, total: int) -> int:
    """Multiples of `every` in (after, total): the periodic events still to come before the end."""
    return max(0, (total - 1) // every - after // every)


def plan(budget_s: float, elapsed_s: float, step: int, costs: Costs, spacing: Cadence | None = None) -> Cadence:
    """Steps, validations and samples that fill what is left of the budget after `elapsed_s` (at `step`),
    with the final validation, checkpoint and sample inside it; `spacing` keeps an earlier plan's
    validation and sample spacing."""
    remaining = max(0.0, budget_s - elapsed_s)
    final = costs.evaluation_s + costs.sample_s

    def spaced(total: int) -> tuple[int, int]:
        if spacing is not None:
            return spacing.eval_every, spacing.sample_every
        return max(1, total // EVALUATIONS), max(1, total // SAMPLES)

    steps_left = max(1, int((remaining - final) / costs.seconds_per_step))
    for _ in range(3):  # the periodic events' cost depends on the steps, and the steps on it
        eval_every, sample_every = spaced(step + steps_left)
        periodic = (count_between(eval_every, step, step + steps_left) * costs.evaluation_s
                    + count_between(sample_every, step, step + steps_left) * costs.sample_s)
        steps_left = max(1, int((remaining - final - periodic) / costs.seconds_per_step))
    return Cadence(step + steps_left, *spaced(step + steps_left))


def evaluation_chars(chars: int, seconds: float, budget_s: float) -> int:
    """Validation characters that keep one validation within EVALUATION_SHARE of the budget, given that
    `chars` took `seconds`: a short budget validates on less text rather than spend itself validating."""
    affordable = int(chars * EVALUATION_SHARE * budget_s / max(seconds, 1e-9))
    return max(min(chars, MIN_EVALUATION_CHARS), min(chars, affordable))


@dataclass
class BudgetClock:
    """A budgeted run's time: when to plan, when to plan again, when the budget is spent."""

    budget_s: float
    started: float
    """time.perf_counter() when this attempt started: building the model and capturing it count too."""
    start_step: int
    spent_before: float = 0.0
    """Budget that earlier attempts (before a resume) spent."""
    planned: bool = False
    evaluation_s: float = 0.0
    sample_s: float = 0.0

    def elapsed(self, now: float) -> float:
        return self.spent_before + now - self.started

    def pause(self, seconds: float) -> None:
        """A pause spends none of the budget."""
        self.started += seconds

    def probe_done(self, step: int, now: float) -> bool:
        return (not self.planned and step - self.start_step >= PROBE_MIN_STEPS
                and now - self.started >= probe_seconds(self.budget_s))

    def spent(self, now: float) -> bool:
        """Whether only the final validation, checkpoint and sample still fit."""
        return self.elapsed(now) >= self.budget_s - self.evaluation_s - self.sample_s

    def remaining(self, now: float) -> float:
        return max(0.0, self.budget_s - self.elapsed(now))


SAVED_KEYS = ("total_steps", "eval_every", "sample_every", "budget_s", "spent_s", "evaluation_s", "sample_s")
"""What run.json keeps of a budgeted run's plan, so that a resume carries on with what is left of it."""


class Pacer:
    """When a run stops, validates and samples: as the settings say, or, with a time budget, as planned
    once the first steps have been timed."""

    def __init__(self, cadence: Cadence, clock: BudgetClock | None = None):
        self.cadence = cadence
        self.clock = clock

    @classmethod
    def for_budget(cls, budget_s: float, started: float, step: int, far: int, spent_before: float = 0.0) -> Pacer:
        """A probe first: no validations or samples, and `far` steps ahead until the plan is made."""
        return cls(Cadence(step + far, 0, 0), BudgetClock(budget_s, started, step, spent_before))

    @classmethod
    def resumed(cls, saved: object, budget_s: float, started: float, step: int, far: int) -> Pacer:
        """Carry on with what an earlier attempt left of the budget: with its plan where the budget is the
        same, with a new probe where it changed. A ValueError for a plan that is not one."""
        if not isinstance(saved, dict) or set(SAVED_KEYS) - set(saved):
            raise ValueError("the saved plan is not a plan")
        try:
            cadence = Cadence(int(saved["total_steps"]), int(saved["eval_every"]), int(saved["sample_every"]))
            spent, costs = float(saved["spent_s"]), (float(saved["evaluation_s"]), float(saved["sample_s"]))
            same_budget = float(saved["budget_s"]) == budget_s
        except (TypeError, ValueError):
            raise ValueError("the saved plan has a value that is not a number") from None
        if not (spent >= 0 and min(costs) >= 0 and min(cadence.eval_every, cadence.sample_every) >= 0
                and step <= cadence.total_steps <= step + far):
            raise ValueError("the saved plan's numbers are out of range")
        if not same_budget:
            return cls.for_budget(budget_s, started, step, far, spent)
        clock = BudgetClock(budget_s, started, step, spent, planned=True, evaluation_s=costs[0], sample_s=costs[1])
        return cls(cadence, clock)

    def saved(self, now: float) -> dict[str, float | int] | None:
        """What run.json keeps of the plan (None before there is one)."""
        clock = self.clock
        if clock is None or not clock.planned:
            return None
        return {"total_steps": self.cadence.total_steps, "eval_every": self.cadence.eval_every,
                "sample_every": self.cadence.sample_every, "budget_s": clock.budget_s,
                "spent_s": round(clock.elapsed(now), 3), "evaluation_s": round(clock.evaluation_s, 4),
                "sample_s": round(clock.sample_s, 4)}

    def probe_done(self, step: int, now: float) -> bool:
        return self.clock is not None and self.clock.probe_done(step, now)

    def pause(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.pause(seconds)

    def end_if_spent(self, step: int, now: float) -> bool:
        """End at `step` when only the final validation, checkpoint and sample still fit in the budget;
        True when it did."""
        if self.clock is None or not self.clock.planned or step >= self.cadence.total_steps:
            return False
        if not self.clock.spent(now):
            return False
        self.cadence = Cadence(step, self.cadence.eval_every, self.cadence.sample_every)
        return True

    def plan(self, step: int, seconds_per_step: float, now: float, keep_spacing: bool = False) -> Cadence:
        """Fit the rest of the run in what is left of the budget, from the costs measured so far."""
        clock = self.clock
        assert clock is not None
        self.cadence = plan(clock.budget_s, clock.elapsed(now), step,
                            Costs(seconds_per_step, clock.evaluation_s, clock.sample_s),
                            self.cadence if keep_spacing else None)
        clock.planned = True
        return self.cadence

    def shown_total(self, step: int, now: float, stepping_since: float) -> int:
        """The total steps to show: while the probe runs, the steps the budget would hold at the rate so far
        (0 before the first step)."""
        clock = self.clock
        if clock is None or clock.planned:
            return self.cadence.total_steps
        done = step - clock.start_step
        if done <= 0:
            return 0
        return step + int(clock.remaining(now) * done / max(now - stepping_since, 1e-9))

    def eta(self, now: float) -> float | None:
        """Seconds left, where a budget says it; None where the steps and their speed do."""
        return self.clock.remaining(now) if self.clock is not None else None

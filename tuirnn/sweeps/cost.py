"""How long a sweep will take, before it starts.

Steps per trial come from the corpus and batch layout. The time of a step is measured on real steps of
the sweep's cheapest and dearest trial (by parameters times characters per step) and read off the line
through both for every other trial: a step has a fixed cost (the optimizer, the Python around it) that
scaling by size alone misses, so small trials were priced ten times too low. Each trial also pays for
starting its process (timed here), building its model, its validations and its samples (timed on the
same measured trials): for short trials they are most of the time.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from tuirnn.catalog import open_corpus
from tuirnn.config import ConfigError, RunConfig, run_length, with_overrides
from tuirnn.corpus import Corpus
from tuirnn.sizing import parameter_count
from tuirnn.sweeps.definition import SweepDefinition

CALIBRATION_STEPS = 5


@dataclass(frozen=True)
class Measured:
    """One trial config's costs, timed on real steps."""

    work: float
    seconds_per_step: float
    setup_s: float
    """Building the model and the first step's warm-up, beyond a step's own time."""
    evaluation_s: float
    """One validation over the config's validation characters."""
    sample_s: float


@dataclass(frozen=True)
class Timing:
    """What a sweep's trials cost, measured before it starts."""

    start_s: float
    """Starting a trial's process: Python, torch and tuirnn imported."""
    points: tuple[Measured, ...]
    """One or two measured trials: the cheapest and the dearest."""

    @property
    def seconds_per_step(self) -> float:
        """Of the dearest measured trial: the figure to show."""
        return self.points[-1].seconds_per_step

    def at(self, work: float) -> Measured:
        """A trial of `work` priced on the line through the measured trials (never below the cheapest). Its
        setup is the first measured one's: each trial's process builds its first model, as that one did."""
        low, high = self.points[0], self.points[-1]
        setup_s = max(point.setup_s for point in self.points)
        if high.work == low.work:
            return replace(low, work=work, setup_s=setup_s)
        share = (work - low.work) / (high.work - low.work)

        def between(a: float, b: float) -> float:
            return max(min(a, b), a + share * (b - a))

        return Measured(work, between(low.seconds_per_step, high.seconds_per_step), setup_s,
                        between(low.evaluation_s, high.evaluation_s), between(low.sample_s, high.sample_s))


@dataclass(frozen=True)
class CostEstimate:
    trials: int
    total_steps: int
    """Of the trials measured in steps or epochs; a budgeted trial's steps are planned when it runs."""
    budget_s: float
    """The time budgets of the budgeted trials, summed."""
    seconds_per_step: float | None
    """Of the dearest trial, measured; None when nothing was timed."""
    workers: int
    seconds: float | None
    """Wall-clock estimate with `workers` trials at once."""


def steps_per_trial(config: RunConfig, corpus: Corpus) -> int:
    """The Trainer's total steps for this config on this corpus."""
    import torch

    from tuirnn.batching import make_batches, to_device_ids

    if config.train.max_steps:
        return config.train.max_steps
    train_ids, _ = corpus.split(config.data.val_fraction)
    batches = make_batches(to_device_ids(train_ids, torch.device("cpu")), config.data, config.train.batch_size)
    return config.train.epochs * len(batches)


def work_per_step(config: RunConfig, vocab_size: int) -> float:
    return parameter_count(config.model, vocab_size) * config.train.batch_size * config.data.seq_len


def measure(config: RunConfig, corpus: Corpus, steps: int = CALIBRATION_STEPS, threads: int | None = None
            ) -> Measured:
    """One config's costs: `steps` real steps after one warm-up step, then one validation over its own
    validation characters and one sample, as its trial will run them."""
    import torch

    from tuirnn.events import Evaluated, Failed, Sampled, Started, StepMetrics
    from tuirnn.training import Trainer

    probe = with_overrides(config, {"max_steps": steps + 1, "time_budget": 0, "log_every": 1, "eval_every": 0,
                                    "sample_every": steps + 1, "patience": 0})
    marks: dict[type, list[float]] = {}
    trainer = Trainer(probe, corpus)
    trainer.subscribe(lambda event: marks.setdefault(type(event), []).append(time.perf_counter())
                      if isinstance(event, (Started, StepMetrics, Evaluated, Sampled)) else None)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    began = time.perf_counter()
    try:
        result = trainer.run()
    finally:
        torch.set_num_threads(previous)
    if isinstance(result, Failed):
        raise ConfigError(f"timing a trial failed: {result.message}")
    step_marks, evaluated, sampled = marks[StepMetrics], marks[Evaluated][-1], marks[Sampled][-1]
    seconds_per_step = (step_marks[-1] - step_marks[0]) / (len(step_marks) - 1)
    return Measured(work_per_step(config, len(corpus.vocab)), seconds_per_step,
                    max(0.0, step_marks[0] - began - seconds_per_step), evaluated - step_marks[-1],
                    sampled - evaluated)


def process_start_s() -> float:
    """How long a trial's process takes to start: a fresh Python importing torch and the trainer."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch, tuirnn.training"], check=False, capture_output=True,
                   timeout=300)
    return time.perf_counter() - began


def calibrate(definition: SweepDefinition, load: Callable[[RunConfig], Corpus], threads: int | None = None
              ) -> Timing:
    """Time the sweep's cheapest and dearest listed trials (one, when they cost the same) and a process start."""
    configs = [definition.config_for(point) for point in definition.listed_points()] or [definition.base]
    by_work = sorted(configs, key=lambda config: work_per_step(config, len(load(config).vocab)))
    chosen = [by_work[0], by_work[-1]] if len(by_work) > 1 else by_work
    points = [measure(config, load(config), threads=threads) for config in chosen]
    return Timing(process_start_s(), tuple(sorted(points, key=lambda point: point.work)))


def corpus_loader(data_dir: Path | None) -> Callable[[RunConfig], Corpus]:
    """Open each distinct corpus once, however many trials use it."""
    cache: dict[tuple[str, bool, str], Corpus] = {}

    def load(config: RunConfig) -> Corpus:
        d = config.data
        key = (d.corpus, d.newlines_to_spaces, d.encoding_errors)
        if key not in cache:
            cache[key] = open_corpus(d.corpus, data_dir, d.newlines_to_spaces, d.encoding_errors)
        return cache[key]

    return load


def estimate_cost(definition: SweepDefinition, load: Callable[[RunConfig], Corpus], workers: int,
                  timing: Timing | None = None) -> CostEstimate:
    """Raises CorpusError for a corpus no trial could open, so a missing download is found before starting."""
    points = definition.listed_points()
    steps: list[int] = []
    budgets: list[float] = []
    trial_s: list[float] = []
    for point in points:
        config = definition.config_for(point)
        corpus = load(config)  # also: a corpus no trial could open is found here, before anything starts
        train = config.train
        if run_length(train) == "budget":
            budgets.append(train.time_budget)
            trial_s.append(train.time_budget + (timing.start_s if timing else 0.0))
            continue
        count = steps_per_trial(config, corpus)
        steps.append(count)
        if timing is not None:
            cost = timing.at(work_per_step(config, len(corpus.vocab)))
            validations = count // train.eval_every + 1 if train.eval_every else 1
            samples = count // train.sample_every + 1 if train.sample_every else 0
            trial_s.append(timing.start_s + cost.setup_s + count * cost.seconds_per_step
                           + validations * cost.evaluation_s + samples * cost.sample_s)
    share = definition.trial_count / len(points)  # a space too large to list is priced from what is listed
    seconds = None
    if timing is not None or not steps:  # the sweep's own start, then its trials as its workers take them
        seconds = (timing.start_s if timing else 0.0) + _schedule(trial_s, workers) * share
    return CostEstimate(definition.trial_count, round(sum(steps) * share), sum(budgets) * share,
                        timing.seconds_per_step if timing else None, workers, seconds)


def _schedule(trial_s: list[float], workers: int) -> float:
    """When the last of the trials ends, each started in order by the first of `workers` to be free."""
    free_at = [0.0] * max(1, workers)
    for seconds in trial_s:
        soonest = free_at.index(min(free_at))
        free_at[soonest] += seconds
    return max(free_at)

"""How long a sweep will take, before it starts: steps per trial from the corpus and batch layout, seconds
per step from a few real steps of the base config, scaled by each trial's work per step (parameters times
characters per step) so a grid over hidden sizes is not priced as if every trial were the base."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tuirnn.catalog import open_corpus
from tuirnn.config import ConfigError, RunConfig, run_length, with_overrides
from tuirnn.corpus import Corpus
from tuirnn.sizing import parameter_count
from tuirnn.sweeps.definition import SweepDefinition

CALIBRATION_STEPS = 5


@dataclass(frozen=True)
class CostEstimate:
    trials: int
    total_steps: int
    """Of the trials measured in steps or epochs; a budgeted trial's steps are planned when it runs."""
    budget_s: float
    """The time budgets of the budgeted trials, summed."""
    seconds_per_step: float | None
    """Of the base config, measured; None when no calibration was run."""
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


def calibrate(config: RunConfig, corpus: Corpus, steps: int = CALIBRATION_STEPS, threads: int | None = None) -> float:
    """Seconds per optimizer step of `config`, timed over `steps` real steps after one warm-up step."""
    import torch

    from tuirnn.events import Failed, StepMetrics
    from tuirnn.training import Trainer

    probe = with_overrides(config, {"max_steps": steps + 1, "log_every": 1, "eval_every": 0, "sample_every": 0,
                                    "eval_max_chars": 2 * config.data.seq_len + 2})
    marks: list[float] = []
    trainer = Trainer(probe, corpus)
    trainer.subscribe(lambda event: marks.append(time.perf_counter()) if isinstance(event, StepMetrics) else None)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    try:
        result = trainer.run()
    finally:
        torch.set_num_threads(previous)
    if isinstance(result, Failed):
        raise ConfigError(f"the calibration run of the base config failed: {result.message}")
    return (marks[-1] - marks[0]) / (len(marks) - 1)


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
                  seconds_per_step: float | None = None) -> CostEstimate:
    """Raises CorpusError for a corpus no trial could open, so a missing download is found before starting."""
    points = definition.listed_points()
    base_work = work_per_step(definition.base, len(load(definition.base).vocab))
    steps, scaled, budgets = [], [], []
    for point in points:
        config = definition.config_for(point)
        corpus = load(config)  # also: a corpus no trial could open is found here, before anything starts
        if run_length(config.train) == "budget":
            budgets.append(config.train.time_budget)
            continue
        count = steps_per_trial(config, corpus)
        steps.append(count)
        scaled.append(count * work_per_step(config, len(corpus.vocab)) / base_work)
    share = definition.trial_count / len(points)  # a space too large to list is priced from the base alone
    seconds = None
    if seconds_per_step is not None or not scaled:
        seconds = ((seconds_per_step or 0.0) * sum(scaled) + sum(budgets)) * share / workers
    return CostEstimate(definition.trial_count, round(sum(steps) * share), sum(budgets) * share, seconds_per_step,
                        workers, seconds)

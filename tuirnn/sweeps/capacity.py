"""How many trials run at once on this machine, and how many torch threads each gets.

CPU: one trial per core, since parallel small RNNs use cores better than one RNN with many threads, and
fewer when memory would not hold them; the cores are then shared out as torch threads. GPU: chosen by
measurement (`ThroughputRamp`): small recurrent models leave a GPU mostly idle, so more trials at once
raise the total throughput, but only up to a point that depends on the GPU and the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirnn.config import RunConfig
from tuirnn.sizing import estimate_size
from tuirnn.sweeps.definition import SweepDefinition

MAX_TRIALS_AT_ONCE = 32
PROCESS_BYTES = 512 * 2**20
"""A worker process with torch imported, before its model and data."""
CUDA_CONTEXT_BYTES = 512 * 2**20
"""Each process's CUDA context, which torch's memory counters do not include."""
RAMP_GAIN = 1.1
"""A doubling of the trials at once is kept only if it raises the total chars/s by at least this factor."""
STEADY_REPORTS = 2
"""Step reports each running trial sends at a new count before it is measured: the first may span the
moment the new trials started."""
PLANNING_VOCAB = 256
"""Character vocabularies are rarely larger; only used to estimate memory before a corpus is read."""


@dataclass(frozen=True)
class Slots:
    trials: int
    threads: int


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo; None where that is not known."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def trial_bytes(config: RunConfig) -> int:
    return estimate_size(config.model, PLANNING_VOCAB, config.train.batch_size, config.data.seq_len).training_bytes


def largest_trial_bytes(definition: SweepDefinition) -> int:
    return max(trial_bytes(definition.config_for(point)) for point in definition.listed_points())


def cpu_slots(trials: int, largest_trial_bytes: int, workers: int | None = None, cores: int | None = None,
              memory: int | None = None) -> Slots:
    """`workers` overrides the automatic count; threads still share the cores out."""
    cores = cores or cpu_cores()
    if workers:
        count = workers
    else:
        count = max(1, min(trials, cores, MAX_TRIALS_AT_ONCE))
        memory = memory if memory is not None else available_memory()
        if memory:
            count = max(1, min(count, memory // (largest_trial_bytes + PROCESS_BYTES)))
    return Slots(count, max(1, cores // count))


def gpu_trials(peak_bytes: int, free_bytes: int) -> int:
    """Trials at once, counting the measured one: it already holds its memory, so the rest is for others."""
    per_trial = peak_bytes + CUDA_CONTEXT_BYTES
    return max(1, min(MAX_TRIALS_AT_ONCE, 1 + int(0.9 * free_bytes) // per_trial))


@dataclass
class ThroughputRamp:
    """Trials at once on a GPU, found by measuring the total throughput.

    One trial starts; its first report gives its peak memory, and so the most that fit (`ceiling`). Then
    the count doubles while each doubling raises the sum of the running trials' own chars/s by at least
    `RAMP_GAIN`; after one that does not, it settles on the best count seen (running trials are never
    stopped: the surplus simply is not replaced as trials end).
    """

    trials: int = 1
    ceiling: int | None = None
    settled: bool = False
    best_rate: float = 0.0
    best_trials: int = 1
    rates: dict[str, list[float]] = field(default_factory=dict)
    """chars/s reported by each trial since the count last changed."""

    def observe(self, message: dict[str, Any], running: set[str]) -> None:
        """Take one step report of a running trial (`running`: the ids of all running trials)."""
        if self.ceiling is None and "gpu_peak_bytes" in message:
            self.ceiling = gpu_trials(message["gpu_peak_bytes"], message["gpu_free_bytes"])
        if self.settled:
            return
        self.rates.setdefault(message["trial"], []).append(float(message["chars_per_s"]))
        measured = [self.rates.get(trial, []) for trial in running]
        if self.ceiling is None or len(running) < self.trials or any(len(r) < STEADY_REPORTS for r in measured):
            return
        total = sum(r[-1] for r in measured)
        if total < self.best_rate * RAMP_GAIN:
            self.trials, self.settled = self.best_trials, True
            return
        self.best_rate, self.best_trials = total, self.trials
        more = min(2 * self.trials, self.ceiling)
        if more <= self.trials:
            self.settled = True
            return
        self.trials = more
        self.rates.clear()

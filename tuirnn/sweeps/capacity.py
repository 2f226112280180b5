"""How many trials run at once on this machine, and how many torch threads each gets.

CPU: one trial per core, since parallel small RNNs use cores better than one RNN with many threads, and
fewer when memory would not hold them; the cores are then shared out as torch threads. GPU: one trial
first; once it reports its peak memory, as many as the free GPU memory holds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tuirnn.config import RunConfig
from tuirnn.sizing import estimate_size
from tuirnn.sweeps.definition import SweepDefinition

MAX_TRIALS_AT_ONCE = 32
PROCESS_BYTES = 512 * 2**20
"""A worker process with torch imported, before its model and data."""
CUDA_CONTEXT_BYTES = 512 * 2**20
"""Each process's CUDA context, which torch's memory counters do not include."""
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

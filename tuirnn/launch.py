"""The one door to a training run, for the CLI, the app and sweep trials alike.

Everything that can be refused (settings, corpus, a layout the text is too short for, a missing device) is
checked before a run directory exists; the run's lock is taken before its first write, so a second
process that would train the same run is refused before it changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuirnn.batch_counts import check_fits
from tuirnn.catalog import open_corpus, stored_spec
from tuirnn.config import (
    FIELDS,
    ConfigError,
    RunConfig,
    get_field,
    run_length,
    validate,
    with_overrides,
)
from tuirnn.corpus import Corpus
from tuirnn.runs import RunDir

RESUMABLE_FIELDS = frozenset({"epochs", "max_steps", "time_budget", "patience", "log_every", "eval_every",
                              "sample_every", "device", "eval_max_chars", "precision", "cuda_graph"})
"""The settings a resumed run may change: how long and how it trains, never what it learns from."""


@dataclass
class Plan:
    """Checked settings and the corpus they train on."""

    config: RunConfig
    corpus: Corpus
    per_epoch: int
    """Optimizer steps per epoch."""


@dataclass
class Launch:
    """A run ready to train: this process holds its lock until the trainer ends."""

    config: RunConfig
    corpus: Corpus
    run: RunDir
    resume: bool


def plan_run(config: RunConfig, data_dir: Path, check_device: bool = True) -> Plan:
    """Validate the settings, open the corpus and check that the layout fits it (and, unless told not to,
    that the device exists: that imports torch)."""
    config = validate(config)
    d = config.data
    corpus = open_corpus(d.corpus, data_dir, d.newlines_to_spaces, d.encoding_errors)
    train_ids, val_ids = corpus.split(d.val_fraction)
    per_epoch = check_fits(len(train_ids), len(val_ids), d, config.train.batch_size, config.train.eval_max_chars)
    if check_device:
        from tuirnn.devices import pick_device

        pick_device(config.train.device)
    return Plan(config, corpus, per_epoch)


def run_info(corpus: Corpus, **extra: Any) -> dict[str, Any]:
    """What run.json records about where the run's text came from, so a resume can check it is the same."""
    return {"corpus": corpus.name, "corpus_source": corpus.source, "corpus_sha256": corpus.sha256, **extra}


def create_run(plan: Plan, path: Path, **info: Any) -> Launch:
    """A new run directory at `path` (already checked by the caller), locked by this process."""
    config = with_overrides(plan.config, {"corpus": stored_spec(plan.config.data.corpus)})
    run = RunDir.create(path, config, plan.corpus.vocab, run_info(plan.corpus, **info), claim=True)
    return Launch(config, plan.corpus, run, resume=False)


def check_resumable(changed: set[str]) -> None:
    """A resumed run keeps what it learns from: only RESUMABLE_FIELDS may change."""
    fixed = changed - RESUMABLE_FIELDS
    if fixed:
        raise ConfigError(f"a resumed run keeps its settings; only {', '.join(sorted(RESUMABLE_FIELDS))} can "
                          f"change (not {', '.join(sorted(fixed))})")


def resume_run(run: RunDir, plan: Plan) -> Launch:
    """Continue `run` (claimed by this process) with the planned settings. A changed setting (max_steps,
    epochs, ...) is saved by the trainer once the checkpoint has proved good, never before."""
    check_resumable({name for name in FIELDS if get_field(plan.config, name) != get_field(run.config, name)})
    return Launch(plan.config, plan.corpus, run, resume=True)


def extension(config: RunConfig) -> dict[str, Any]:
    """The overrides that give a finished run as much training again as it had: its steps, its epochs or
    its time budget, doubled (a budget's plan keeps what was spent, so the new budget adds the rest)."""
    train = config.train
    way = run_length(train)
    if way == "steps":
        return {"max_steps": 2 * train.max_steps}
    if way == "budget":
        return {"time_budget": 2 * train.time_budget}
    return {"epochs": 2 * train.epochs}

"""`tuirnn sweep`: check a sweep, estimate its cost, run it with live progress, export its results.

Kept light to import (no torch, Optuna or Ray at module level) because tuirnn/cli.py builds every parser.
Bad input raises ConfigError, CorpusError or RunError, which tuirnn/cli.py's main() turns into one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuirnn.cli_output import note, say
from tuirnn.config import ConfigError
from tuirnn.stop_signals import StopOnSignal
from tuirnn.sweeps.definition import SWEEP_PRESETS, SweepDefinition, describe_point

if TYPE_CHECKING:
    from tuirnn.sweeps.sweepdir import SweepDir

EXIT_OK, EXIT_FAILED = 0, 1


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    presets = "; ".join(f"{name}: {p.description}" for name, p in SWEEP_PRESETS.items())
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sweep", help="run a hyperparameter sweep (grid, random or TPE)",
        description=f"Run many trainings over a grid or a sampled space and compare them. Presets: {presets}.")
    parser.add_argument("spec", nargs="?", metavar="PRESET|FILE.toml", help="a sweep preset or a sweep TOML file")
    parser.add_argument("--resume", type=Path, metavar="DIR",
                        help="continue a stopped sweep; finished trials are kept (default: start a new sweep)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local processes or a Ray cluster (default: local)")
    parser.add_argument("--address", help="Ray cluster address for --engine ray (default: start a local Ray)")
    parser.add_argument("--workers", type=int, metavar="K", help="trials at once (default: automatic)")
    parser.add_argument("--epochs", type=int, metavar="N", help="override the base config's epochs (default: keep)")
    parser.add_argument("--max-steps", type=int, metavar="N",
                        help="override the base config's max_steps (default: keep)")
    parser.add_argument("--corpus", help="override the base config's corpus (default: keep)")
    parser.add_argument("--device", help="override the base config's device: auto, cpu, cuda or mps (default: keep)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="sweep directory (default: models/sweeps/<name>-<time>)")
    parser.add_argument("--dry-run", action="store_true", help="check the sweep, estimate its cost and exit")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    given = {"epochs": args.epochs, "max_steps": args.max_steps, "corpus": args.corpus, "device": args.device}
    return {name: value for name, value in given.items() if value is not None}


def _data_dir(args: argparse.Namespace) -> Path:
    from tuirnn.catalog import default_data_dir

    return getattr(args, "data_dir", None) or default_data_dir()


def _default_out(args: argparse.Namespace, name: str) -> Path:
    from tuirnn.runs import default_models_dir
    from tuirnn.sweeps.listing import new_sweep_path

    return new_sweep_path(getattr(args, "models_dir", None) or default_models_dir(), name)


def _plan(definition: SweepDefinition, args: argparse.Namespace) -> None:
    """Print what will run and what it will cost; raises for missing corpora before anything starts."""
    from tuirnn.formatting import format_duration
    from tuirnn.sweeps import capacity
    from tuirnn.sweeps.cost import calibrate, corpus_loader, estimate_cost

    load = corpus_loader(_data_dir(args))
    slots = capacity.cpu_slots(definition.trial_count, capacity.largest_trial_bytes(definition), args.workers)
    timing = calibrate(definition, load, threads=slots.threads)
    cost = estimate_cost(definition, load, slots.trials, timing)
    say(f"sweep {definition.name}: {definition.strategy}, {cost.trials} trials, metric {definition.metric}, "
         f"pruning {definition.pruning}")
    for axis in definition.axes:
        say(f"  {axis.name}: {', '.join(map(str, axis.values))}")
    budgeted = f"{format_duration(cost.budget_s)} of time budgets" if cost.budget_s else ""
    stepped = f"{cost.total_steps:,} steps" if cost.total_steps else ""
    say(f"cost: {' and '.join(part for part in (stepped, budgeted) if part)} in all; {timing.seconds_per_step:.3f} "
        f"s/step for the dearest trial (measured, {slots.threads} thread(s)), {timing.start_s:.1f} s to start a "
        f"trial; about {format_duration(cost.seconds or 0)} with {cost.workers} trial(s) at once on this machine")


def _summary(sweep: SweepDir) -> None:
    metric = sweep.definition.metric
    for rank, record in enumerate(sweep.ranked()[:10], 1):
        bpc = f"{record.val_bpc:.3f}" if record.val_bpc is not None else "-"
        say(f"{rank:>2}. {record.id} {metric} {record.metric(metric):.4f} (val bpc {bpc}): "
             f"{describe_point(record.params)}")
    say(f"results: {sweep.path / 'results.csv'} and {sweep.path / 'results.json'}")


def run(args: argparse.Namespace) -> int:
    from tuirnn.sweeps.definition import load_sweep
    from tuirnn.sweeps.sweepdir import SweepDir
    from tuirnn.sweeps.validation import check_sweep

    if args.workers is not None and args.workers < 1:
        raise ConfigError("--workers must be at least 1")
    if args.address and args.engine != "ray":
        raise ConfigError("--address is for --engine ray")
    if args.engine == "ray":
        from tuirnn.sweeps.ray_engine import require_ray

        require_ray()
    if args.resume:
        if args.spec or _overrides(args) or args.out or args.dry_run:
            raise ConfigError("--resume continues a sweep as it was defined: "
                              "give only --engine, --address and --workers")
        sweep = SweepDir.open(args.resume)
        definition = sweep.definition
    elif not args.spec:
        raise ConfigError(f"give a sweep preset ({', '.join(SWEEP_PRESETS)}), a sweep TOML file or --resume DIR")
    else:
        definition = load_sweep(args.spec).with_base_overrides(_overrides(args))
    check = check_sweep(definition)
    check.raise_errors()
    for warning in check.warnings:
        note(f"warning: {warning}")
    if args.resume:
        finished = len(sweep.trials) - len(sweep.unfinished())
        say(f"resuming sweep {definition.name}: {finished} of {definition.trial_count} trials already finished")
    else:
        _plan(definition, args)
        if args.dry_run:
            return EXIT_OK
        sweep = SweepDir.create(args.out or _default_out(args, definition.name), definition, claim=True)
    return _execute(sweep, args)


def _execute(sweep: SweepDir, args: argparse.Namespace) -> int:
    from tuirnn.sweeps.console import LiveSweepReporter, PlainSweepReporter
    from tuirnn.sweeps.engine import make_engine

    engine = make_engine(sweep, args.engine, args.workers, _data_dir(args), args.address)
    engine.subscribe(LiveSweepReporter(sweep) if sys.stdout.isatty() else PlainSweepReporter())
    def announce(signum: int) -> None:
        note(f"warning: stopping the sweep; continue it with: tuirnn sweep --resume {sweep.path}")

    with StopOnSignal(engine.stop, announce):
        ended = engine.run()
    say(", ".join(f"{n} {status}" for status, n in ended.counts.items()) + f" (sweep {sweep.path})")
    _summary(sweep)
    if ended.stopped:
        note(f"warning: the sweep stopped early; continue it with: tuirnn sweep --resume {sweep.path}")
        return EXIT_FAILED
    return EXIT_OK if ended.counts.get("done") else EXIT_FAILED

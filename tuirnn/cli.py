"""`tuirnn`: no arguments opens the terminal app; subcommands do the same work headless.

Exit codes: 0 success, 1 the work failed (training diverged, download failed, interrupted), 2 bad input.
Errors are one line on stderr; set TUIRNN_DEBUG=1 to see a traceback for unexpected ones.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from tuirnn import __version__, control_cli, data_cli, inspect_cli
from tuirnn.cli_output import note, say
from tuirnn.config import (
    FIELDS,
    PRESETS,
    ConfigError,
    RunConfig,
    get_field,
    load_toml,
    no_op_warnings,
    preset,
    run_length,
    save_toml,
    validate,
    with_overrides,
)
from tuirnn.corpus import DEFAULT_MAX_CORPUS_BYTES, MAX_CORPUS_BYTES_ENV
from tuirnn.errors import TuirnnError
from tuirnn.formatting import format_duration, human_bytes, model_label
from tuirnn.handoff import HANG_UP_CHOICES, HANG_UP_ENV
from tuirnn.paths import safe_child
from tuirnn.stop_signals import StopOnSignal
from tuirnn.sweeps import cli as sweep_cli

if TYPE_CHECKING:
    from tuirnn.launch import Launch

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

CORPUS_LIMIT_HELP = (f"{FIELDS['corpus'].help} (at most {DEFAULT_MAX_CORPUS_BYTES >> 30} GiB; the environment "
                     f"variable {MAX_CORPUS_BYTES_ENV} changes the limit)")
SHORT_ALIASES = {"hidden_size": ["--hidden"], "embedding_size": ["--embedding"], "batch_size": ["--batch"],
                 "seq_len": ["--seq"], "time_budget": ["--time"]}


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("tuirnn").strip()  # main() prints the one "tuirnn:" prefix
        where, help_of = (f"{command}: ", f"{command} ") if command else ("", "")
        raise UsageError(f"{where}{message} (see tuirnn {help_of}--help)")


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model and training settings (override the preset or --config)")
    for name, info in FIELDS.items():
        flags = [f"--{name.replace('_', '-')}", *SHORT_ALIASES.get(name, [])]
        text = f"{CORPUS_LIMIT_HELP if name == 'corpus' else info.help} (default: {_shown_default(name)})"
        if info.kind is bool:
            group.add_argument(*flags, dest=f"set_{name}", action=argparse.BooleanOptionalAction, default=None,
                               help=text)
        else:
            group.add_argument(*flags, dest=f"set_{name}", metavar=info.kind.__name__.upper(), default=None,
                               help=text)


def _shown_default(name: str) -> str:
    value = get_field(RunConfig(), name)
    if isinstance(value, bool):
        return "on" if value else "off"
    return repr(value) if isinstance(value, str) else str(value)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, f"set_{name}") for name in FIELDS if getattr(args, f"set_{name}") is not None}


def build_parser() -> Parser:
    parser = Parser(prog="tuirnn", description="Train and explore character-level recurrent language models. "
                    "Run without arguments to open the terminal app.")
    parser.add_argument("--version", action="version", version=f"tuirnn {__version__}")
    parser.add_argument("--models-dir", type=Path, default=None,
                        help="where runs live (default: $TUIRNN_MODELS_DIR, else ./models)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where corpora are cached (default: $TUIRNN_DATA_DIR, else ./data)")
    parser.add_argument("--config", dest="app_config", type=Path, default=None,
                        help="open the app with this TOML configuration (default: the built-in defaults)")
    parser.add_argument("--on-hang-up", choices=HANG_UP_CHOICES, default=None,
                        help="what the app does with a training run when its terminal goes away (a dropped SSH "
                             "session): detach hands it to a trainer that goes on without a terminal, stop saves "
                             f"and stops it (default: ${HANG_UP_ENV}, else detach)")
    commands = parser.add_subparsers(dest="command", parser_class=Parser, metavar="COMMAND")

    train = commands.add_parser("train", help="train a model headless", description="Train a model headless.")
    train.add_argument("--preset", choices=list(PRESETS),
                       help="start from a preset (see `tuirnn presets`; default: the built-in defaults)")
    train.add_argument("--config", type=Path, help="start from a TOML configuration file (default: none)")
    train.add_argument("--out", type=Path, help="run directory to create, anywhere (default: models/<name>)")
    train.add_argument("--name", help="run name under the models directory (default: corpus, model and time)")
    train.add_argument("--resume", type=Path, metavar="RUN_DIR",
                       help="continue a run: a directory, or a name under the models directory (default: train a "
                            "new run)")
    train.add_argument("--from", dest="resume_from", choices=("latest", "best"), default=None,
                       help="with --resume: best resumes from the best weights alone (when latest is damaged; "
                            "the optimizer's moments and random state start afresh); default: latest")
    train.add_argument("--dry-run", action="store_true", help="print the plan (size, steps, warnings) and exit")
    train.add_argument("--save-config", type=Path, metavar="FILE",
                       help="write the configuration as TOML and exit (default: train)")
    _add_config_flags(train)

    generate = commands.add_parser("generate", help="generate text from a run", description="Generate text.")
    generate.add_argument("run", type=Path, help="run directory (or a run name under the models directory)")
    generate.add_argument("--prompt", default="", help="text to prime the model with (default: none)")
    generate.add_argument("--length", type=int, default=300, help="characters to generate (default: 300)")
    generate.add_argument("--temperature", type=float, default=1.0,
                          help="below 1 sharper, above 1 wilder (default: 1.0)")
    generate.add_argument("--top-k", type=int, default=0,
                          help="sample from the k most likely characters (default: 0 = all)")
    generate.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling threshold (default: 1 = off)")
    generate.add_argument("--greedy", action="store_true", help="always take the most likely character")
    generate.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one, reported)")
    generate.add_argument("--checkpoint", choices=("best", "latest"), default="best",
                          help="which weights: the best validation loss, or the latest saved (default: best)")
    generate.add_argument("--drop-unknown", action="store_true", help="drop prompt characters the model lacks")
    generate.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    generate.add_argument("--output", type=Path,
                          help="also write the text to this file, and how to draw it again to FILE.json "
                               "(default: none)")

    data_cli.add_parser(commands, Parser)

    commands.add_parser("runs", help="list saved runs", description="Saved runs, sweeps' trials included.")
    commands.add_parser("presets", help="list the configuration presets", description="The presets.")
    commands.add_parser("doctor", help="say what tuirnn will use here: versions, devices, directories",
                        description="What tuirnn will use on this machine: torch and CUDA, the device and precision "
                                    "`auto` picks, threads, and the data and models directories.")
    sweep_cli.add_parser(commands)
    control_cli.add_parsers(commands, _resolve_run_path)
    inspect_cli.add_inspect_parser(commands, _resolve_run_path)
    return parser


def _models_dir(args: argparse.Namespace) -> Path:
    from tuirnn.runs import default_models_dir

    path: Path = args.models_dir or default_models_dir()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"the models directory {path} is a file, not a directory")
    return path


def _data_dir(args: argparse.Namespace) -> Path:
    from tuirnn.catalog import default_data_dir

    return args.data_dir or default_data_dir()


def _run_path(args: argparse.Namespace, name: str) -> Path:
    """A run name is one plain name under the models directory; --out is the way to write elsewhere."""
    return safe_child(_models_dir(args), name, "run name")


def _resolve_run_path(args: argparse.Namespace, given: Path) -> Path:
    """RUN as given: a directory path the person typed, or else a run name under the models directory."""
    if given.exists() or given.is_absolute() or len(given.parts) > 1:
        return given
    return _run_path(args, str(given))


def _build_config(args: argparse.Namespace) -> RunConfig:
    if args.config and args.preset:
        raise ConfigError("give either --preset or --config, not both")
    base = load_toml(args.config) if args.config else preset(args.preset) if args.preset else RunConfig()
    return validate(with_overrides(base, _overrides(args)))


def _plan_lines(config: RunConfig, vocab_size: int, corpus_text: str, per_epoch: int) -> list[str]:
    from tuirnn.sizing import estimate_size

    m, d, t = config.model, config.data, config.train
    size = estimate_size(m, vocab_size, t.batch_size, d.seq_len)
    epoch = f"{per_epoch:,} per epoch of batch {t.batch_size} x {d.seq_len} characters"
    if run_length(t) == "budget":
        length = (f"length: {format_duration(t.time_budget)} (a time budget: the steps are planned after the first "
                  f"seconds, the schedule ends at it; {epoch})")
    else:
        length = f"steps: {t.max_steps or t.epochs * per_epoch:,} ({epoch})"
    lines = [
        f"corpus: {corpus_text}",
        f"model: {model_label(m)}, embedding {m.embedding_size}, dropout {m.dropout}",
        f"parameters: {size.parameters:,}; training memory estimate: {human_bytes(size.training_bytes)}",
        length,
    ]
    lines += [f"warning: {note}" for note in no_op_warnings(config)]
    from tuirnn.devices import available_memory, pick_device

    device = pick_device(t.device)
    available = available_memory(device)
    if available is not None and size.training_bytes > available:
        lines.append(f"warning: training needs about {human_bytes(size.training_bytes)}, but only "
                     f"{human_bytes(available)} is free on {device.type}: it will likely run out of memory")
    return lines


def cmd_train(args: argparse.Namespace) -> int:
    from tuirnn.launch import check_resumable, create_run, extension, plan_run, resume_run
    from tuirnn.runs import RunDir, live_status, new_run_name

    if args.resume_from and not args.resume:
        raise ConfigError("--from goes with --resume")
    overrides = _overrides(args)
    run: RunDir | None = None
    if args.resume:
        if args.preset or args.config:
            raise ConfigError("a resumed run keeps its settings: give no --preset or --config")
        check_resumable(set(overrides))
        path = _resolve_run_path(args, args.resume)
        # the lock comes before any write, so a run that another process trains is refused untouched
        run = RunDir.open(path) if args.dry_run or args.save_config else RunDir.open_claimed(path)
        config = validate(with_overrides(run.config, overrides))
        if config.train.schedule != "constant" and _length_changed(run.config, config):
            note(f"the {config.train.schedule} learning-rate decay now spans the new length, so the steps "
                 "from here differ from a run started with it")
        status = live_status(run.path, run.info)
        if status in ("completed", "early-stopped") and not _length_changed(run.config, config):
            run.release()
            flag, value = next(iter(extension(run.config).items()))
            note(f"{run.name} has {status} at step {int(run.info.get('step', 0) or 0):,}: nothing left to train; "
                 f"give it more to extend it, e.g. --{flag.replace('_', '-')} {value:g}")
            return EXIT_OK
    else:
        if args.name is not None and args.out is not None:
            raise ConfigError("give either --name or --out, not both")
        named = _run_path(args, args.name) if args.name is not None else None  # refused before any work
        config = _build_config(args)
    if args.save_config:
        save_toml(config, args.save_config)
        say(f"configuration written to {args.save_config}")
        return EXIT_OK
    plan = plan_run(config, _data_dir(args))
    lines = _plan_lines(plan.config, len(plan.corpus.vocab), plan.corpus.describe(), plan.per_epoch)
    if args.dry_run:
        for line in lines:
            say(line)
        return EXIT_OK
    for line in lines:
        if line.startswith("warning"):
            note(line)
    launch: Launch
    if run is not None:
        launch = resume_run(run, plan)
    else:
        out = args.out or named or _run_path(args, new_run_name(plan.config, plan.corpus.name))
        launch = create_run(plan, out)
    return _run_training(launch, args.resume_from or "latest")


def _length_changed(before: RunConfig, after: RunConfig) -> bool:
    """Whether a resume changes what the learning-rate decay is spread over."""
    fields = ("max_steps", "epochs", "time_budget")
    return any(getattr(before.train, name) != getattr(after.train, name) for name in fields)


def _run_training(launch: Launch, resume_from: str) -> int:
    from tuirnn.console import PlainReporter, RichReporter
    from tuirnn.events import Failed
    from tuirnn.training import Trainer

    run = launch.run
    trainer = Trainer(launch.config, launch.corpus, run, resume=launch.resume, resume_from=resume_from)
    reporter = RichReporter() if sys.stdout.isatty() else PlainReporter()
    trainer.subscribe(reporter)

    def announce(signum: int) -> None:
        if signum == signal.SIGINT:  # above the live progress line, which writing past it would repeat
            reporter.aside("tuirnn: stopping after this step and saving a checkpoint (Ctrl-C again to abort)")

    with StopOnSignal(trainer.control.stop, announce) as signals:
        result = trainer.run()
    if isinstance(result, Failed):
        note(f"training failed at step {result.step}: {result.message}")
        return EXIT_FAILED
    best = f", best val loss {result.best_val_loss:.4f}" if result.best_val_loss is not None else ""
    last = f"last batch loss {result.last_loss:.4f}" if result.last_loss is not None else "no steps run"
    say(f"{result.reason} at step {result.step}: {last}{best}; run saved in {run.path}")
    if signals.received is not None:
        note(f"interrupted; resume with: tuirnn train --resume {run.path}")
        return EXIT_FAILED
    return EXIT_OK


def cmd_generate(args: argparse.Namespace) -> int:
    """Stream to stdout as the text is drawn (a pipe sees every character at once); on Ctrl-C the text so
    far is kept, printed and saved with --output like a finished one."""
    from dataclasses import replace

    from tuirnn.generation_record import GenerationRecord, Segment, save_generation
    from tuirnn.runs import RunDir
    from tuirnn.sampling import generator_for_run
    from tuirnn.sampling_settings import SamplingSettings

    settings = SamplingSettings(args.length, args.temperature, args.top_k, args.top_p, args.greedy, args.seed)
    try:
        settings.check()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    run = RunDir.open(_resolve_run_path(args, args.run))
    generator = generator_for_run(run, args.checkpoint, args.device)
    assert generator.origin is not None
    if args.checkpoint == "best" and generator.origin.checkpoint != run.best_path.name:
        note(f"warning: {run.name} has no best checkpoint yet (it has not validated): "
             f"generating from its latest, step {generator.origin.step}")
    generator.prompt_ids(args.prompt, args.drop_unknown)  # checks the prompt before any output
    if generator.dropped:
        note(f"warning: dropped characters not in the vocabulary: {', '.join(map(repr, generator.dropped))}")
    generator.top_n = 0
    prompt = "".join(c for c in args.prompt if c in run.vocab) if args.drop_unknown else args.prompt
    out = sys.stdout
    out.write(prompt)
    drawn: list[str] = []
    stop = threading.Event()
    with StopOnSignal(stop.set) as signals:  # Ctrl-C ends the text after the character being drawn
        for generated in generator.stream(prompt, settings):
            drawn.append(generated.char)
            out.write(generated.char)
            out.flush()
            if stop.is_set():
                break
    interrupted = signals.received is not None
    out.write("\n")
    out.flush()
    seed = "greedy (no seed)" if generator.seed is None else f"seed {generator.seed}"
    saved = ""
    if args.output:
        used = replace(settings, length=len(drawn), seed=generator.seed)
        record = GenerationRecord(generator.origin, [Segment(prompt, used, "".join(drawn))], generator.device.type)
        save_generation(args.output, record)
        saved = f"; saved to {args.output} (settings in {args.output}.json)"
    if interrupted:
        note(f"interrupted after {len(drawn):,} characters, {seed}{saved}")
        return EXIT_FAILED
    note(seed + saved)
    return EXIT_OK


def cmd_runs(args: argparse.Namespace) -> int:
    from tuirnn.live import read_live
    from tuirnn.runs import LIVE_STATUSES, list_runs

    runs = list_runs(_models_dir(args))
    if not runs:
        say(f"no runs in {_models_dir(args)}")
        return EXIT_OK
    say(f"{'run':<40} {'corpus':<16} {'model':<14} {'steps':>7} {'val loss':>9} {'bpc':>6} {'status':<11} modified")
    for r in runs:
        loss = f"{r.best_val_loss:.4f}" if r.best_val_loss is not None else "-"
        bpc = f"{r.best_val_bpc:.3f}" if r.best_val_bpc is not None else "-"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.modified))
        say(f"{r.name:<40} {r.corpus[:16]:<16} {r.architecture:<14} {r.steps:>7} {loss:>9} {bpc:>6} {r.status:<11} "
            f"{when}")
        live = read_live(r.path) if r.status in LIVE_STATUSES else None
        if live is not None:
            say(f"  live: {live.describe()}")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from tuirnn.catalog import default_data_dir
    from tuirnn.doctor import findings
    from tuirnn.runs import default_models_dir

    # the directories as given, unchecked: saying what is wrong with them is the doctor's work
    rows = findings(args.models_dir or default_models_dir(), args.data_dir or default_data_dir())
    width = max(len(row.topic) for row in rows)
    for row in rows:
        say(f"{row.topic:<{width}}  {row.text}")
    problems = [row for row in rows if row.problem]
    for row in problems:
        note(f"problem: {row.topic}: {row.text}")
    return EXIT_FAILED if problems else EXIT_OK


def cmd_presets(args: argparse.Namespace) -> int:
    defaults = RunConfig()
    for name, (description, config) in PRESETS.items():
        say(f"{name}: {description}")
        changed = [f"{field}={get_field(config, field)!r}" for field in FIELDS
                   if get_field(config, field) != get_field(defaults, field)]
        if changed:
            say("    " + ", ".join(changed))
    return EXIT_OK


def open_app(args: argparse.Namespace) -> int:
    from tuirnn.tui.app import run_app

    config = validate(load_toml(args.app_config)) if args.app_config else None
    on_hang_up = args.on_hang_up or os.environ.get(HANG_UP_ENV) or "detach"
    if on_hang_up not in HANG_UP_CHOICES:
        raise ConfigError(f"{HANG_UP_ENV} must be one of {', '.join(HANG_UP_CHOICES)}, not {on_hang_up!r}")
    return run_app(models_dir=_models_dir(args), data_dir=_data_dir(args), config=config, on_hang_up=on_hang_up)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train, "generate": cmd_generate, "data": lambda args: data_cli.run(args, _data_dir(args)),
    "runs": cmd_runs, "presets": cmd_presets, "doctor": cmd_doctor,
    "sweep": sweep_cli.run, "inspect": inspect_cli.cmd_inspect,
    **dict.fromkeys(control_cli.ACTIONS, control_cli.run),
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            return open_app(args)
        return COMMANDS[args.command](args)
    except UsageError as exc:
        note(str(exc))
        return EXIT_USAGE
    except TuirnnError as exc:
        note(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        note("interrupted")
        return EXIT_FAILED
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # a read-only or full disk, a directory that vanished: the environment, not a bug
        where = f": {exc.filename}" if exc.filename else ""
        note(f"error: {exc.strerror or exc}{where}")
        return EXIT_FAILED
    except MemoryError:
        note("error: out of memory: lower batch_size, seq_len or hidden_size")
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001  (the contract is: never a traceback)
        if os.environ.get("TUIRNN_DEBUG"):
            raise
        note(f"internal error: {type(exc).__name__}: {exc} (set TUIRNN_DEBUG=1 for details)")
        return EXIT_FAILED


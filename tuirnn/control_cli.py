"""`tuirnn stop|pause|unpause|save RUN`: steer a run that another process trains (the app, a detached
trainer, `tuirnn train` in another terminal, a sweep's trial). Light to import: no torch."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuirnn.cli_output import say
from tuirnn.remote_control import DEFAULT_TIMEOUT_S, send_command

EXIT_OK, EXIT_FAILED = 0, 1
ACTIONS = {
    "stop": ("stop a live run after its current step; it saves a checkpoint first",
             "resume it later with tuirnn train --resume RUN"),
    "pause": ("pause a live run between steps (its process waits, holding the run)", "tuirnn unpause RUN goes on"),
    "unpause": ("let a paused live run train again", ""),
    "save": ("write a live run's latest checkpoint now, without stopping it", ""),
}


def add_parsers(subparsers: Any, resolve: Callable[[argparse.Namespace, Path], Path]) -> None:
    """One command per action; `resolve` turns RUN (a name under the models directory, or a path) into a
    run directory as the other commands do."""
    for action, (text, more) in ACTIONS.items():
        parser: argparse.ArgumentParser = subparsers.add_parser(
            action, help=text, description=f"{text[0].upper()}{text[1:]}. {more}".strip())
        parser.add_argument("run", type=Path, metavar="RUN",
                            help="a run name under the models directory, or a run directory")
        parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="SECONDS",
                            help=f"how long to wait for the trainer's answer (default: {DEFAULT_TIMEOUT_S:.0f})")
        parser.set_defaults(control_action=action, resolve_run=resolve)


def run(args: argparse.Namespace) -> int:
    path = args.resolve_run(args, args.run)
    answer = send_command(path, args.control_action, timeout=max(0.1, args.timeout))
    say(f"{path.name}: {answer.message}")
    return EXIT_OK if answer.ok else EXIT_FAILED

"""Shared test helpers: running the CLI in a child process, tiny configurations and generated text."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuirnn.config import RunConfig, set_field
from tuirnn.corpus import Corpus
from tuirnn.runs import RunDir

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "cell": "gru", "layers": 1, "hidden_size": 16, "embedding_size": 8, "dropout": 0.0, "seq_len": 16,
    "batch_size": 8, "max_steps": 12, "time_budget": 0, "log_every": 1, "eval_every": 0, "sample_every": 0,
    "eval_max_chars": 2000, "device": "cpu", "schedule": "constant",
}
"""Settings that make a run take well under a second on one CPU thread."""


@dataclass(frozen=True)
class CliResult:
    rc: int
    stdout: str
    stderr: str

    def error_line(self) -> str:
        """The single error line of a failed command; asserts the one-line, no-traceback contract."""
        assert self.rc != 0, f"expected a failure, got rc 0; stdout: {self.stdout!r}"
        assert "Traceback" not in self.stderr, self.stderr
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected one error line, got {lines!r}"
        return lines[0]


def run_cli(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 180) -> CliResult:
    """`python -m tuirnn ARGS` in a child process with this process's environment (isolated dirs) plus `env`."""
    child_env = {k: v for k, v in os.environ.items() if k != "TUIRNN_DEBUG"}
    child_env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", COLUMNS="200", **(env or {}))
    done = subprocess.run(
        [sys.executable, "-m", "tuirnn", *map(str, args)],
        capture_output=True, text=True, cwd=cwd or REPO, env=child_env, timeout=timeout, stdin=subprocess.DEVNULL,
        check=False,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


def main_in_process(capsys: Any, *args: str | Path) -> CliResult:
    """`tuirnn ARGS` called in this process (capsys captures its output): the same contract as `run_cli`
    without a process's start-up, for the many cases that need no real process."""
    from tuirnn.cli import main

    capsys.readouterr()
    try:
        rc = main([str(arg) for arg in args])
    except SystemExit as exit_:  # --help
        rc = int(exit_.code or 0)
    captured = capsys.readouterr()
    return CliResult(rc, captured.out, captured.err)


def tiny_config(corpus: str | Path = "default", **overrides: object) -> RunConfig:
    config = RunConfig()
    for name, value in {**TINY, "corpus": str(corpus), **overrides}.items():
        set_field(config, name, value)
    return config


def tiny_flags(**overrides: object) -> list[str]:
    """The TINY settings (plus overrides) as command-line flags."""
    flags = []
    for name, value in {**TINY, **overrides}.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            flags.append(flag if value else "--no-" + flag[2:])
        else:
            flags += [flag, str(value)]
    return flags


WORDS = ("the", "will", "to", "power", "truth", "is", "a", "woman", "and", "what", "then", "of", "free",
         "spirit", "good", "evil", "beyond", "philosopher", "every", "must", "not", "be", "we")


def make_text(n_chars: int, seed: int = 0) -> str:
    """Deterministic word salad with sentences and line breaks: structure a tiny model can pick up."""
    rng = random.Random(seed)
    pieces: list[str] = []
    length = 0
    while length < n_chars:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))).capitalize() + "."
        sentence += "\n" if rng.random() < 0.3 else " "
        pieces.append(sentence)
        length += len(sentence)
    return "".join(pieces)[:n_chars]


def write_text(path: Path, n_chars: int, seed: int = 0) -> Path:
    path.write_text(make_text(n_chars, seed), encoding="utf-8")
    return path


def train_run(path: Path, config: RunConfig, corpus: Corpus) -> RunDir:
    """Create a run directory and train it in this process; returns the opened run."""
    from tuirnn.events import Finished
    from tuirnn.training import Trainer

    run = RunDir.create(path, config, corpus.vocab, {"corpus": corpus.name})
    result = Trainer(config, corpus, run).run()
    assert isinstance(result, Finished), result
    return RunDir.open(path)

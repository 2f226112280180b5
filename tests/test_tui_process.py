"""The app as a real process on a pseudo-terminal: a dropped SSH session (SIGHUP) or SIGTERM must save
the run; and the core must never import textual."""

from __future__ import annotations

import ast
import contextlib
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest
from tui_helpers import tiny_config

from tuirnn.checkpoint import load_checkpoint
from tuirnn.config import save_toml
from tuirnn.runs import RunDir, list_runs

PACKAGE = Path(__file__).resolve().parents[1] / "tuirnn"


def test_core_never_imports_textual() -> None:
    core_modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent)
        if relative.parts[1] == "tui":
            continue
        core_modules.append(".".join(relative.with_suffix("").parts).removesuffix(".__init__"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "textual" or n.startswith(("textual.", "textual_")) for n in names), (
                f"{relative} imports textual")
    code = ("import importlib, sys\n"
            f"for name in {[m for m in core_modules if m != 'tuirnn.__main__']!r}: importlib.import_module(name)\n"
            "loaded = [m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext')]\n"
            "assert not loaded, loaded\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_app_module_does_not_import_torch_before_the_first_frame() -> None:
    code = "import sys, tuirnn.cli, tuirnn.tui.app; assert 'torch' not in sys.modules, 'torch imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _spawn_app(tmp_path: Path, config_file: Path, locale: dict[str, str] | None = None,
               code: str | None = None, env_extra: dict[str, str] | None = None) -> tuple[int, int, list[bytes]]:
    """The app on a pseudo-terminal of 80x24, in a UTF-8 locale unless `locale` gives other variables;
    `code` runs instead of `python -m tuirnn --config CONFIG_FILE`."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("LC_ALL", "LC_CTYPE", "LANG", "TUIRNN_ASCII", "TUIRNN_ON_HANG_UP")}
    env.update({"TERM": "xterm-256color", "TUIRNN_MODELS_DIR": str(tmp_path / "models"),
                "TUIRNN_DATA_DIR": str(tmp_path / "data")}, **({"LANG": "C.UTF-8"} if locale is None else locale),
               **(env_extra or {}))
    pid, master = pty.fork()
    if pid == 0:  # pragma: no cover  (the child becomes the app)
        command = ["-c", code] if code else ["-m", "tuirnn", "--config", str(config_file)]
        os.execvpe(sys.executable, [sys.executable, *command], env)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    screen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.append(chunk)

    threading.Thread(target=drain, daemon=True).start()
    return pid, master, screen


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _wait_until_quiet(screen: list[bytes], quiet_s: float = 0.5, timeout: float = 30) -> None:
    """Until the app has drawn nothing new for `quiet_s`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        drawn = len(screen)
        time.sleep(quiet_s)
        if len(screen) == drawn:
            return


def _exit_status(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the app did not exit")


def _signal_and_wait(pid: int, master: int, signum: int) -> int:
    """Send `signum` to the app; for a hang-up the terminal goes too (every later write fails). Its exit status."""
    try:
        os.kill(pid, signum)
        if signum == signal.SIGHUP:
            os.close(master)
        return _exit_status(pid, 60)
    finally:
        if signum != signal.SIGHUP:
            os.close(master)


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_hangup_told_to_stop_or_terminate_while_training_saves_the_run(tmp_path: Path, nietzsche_path: Path,
                                                                      signum: int) -> None:
    config_file = tmp_path / "tiny.toml"
    save_toml(tiny_config(nietzsche_path, max_steps=1_000_000, eval_every=1_000_000, sample_every=0), config_file)
    pid, master, screen = _spawn_app(tmp_path, config_file, env_extra={"TUIRNN_ON_HANG_UP": "stop"})
    _wait(lambda: b"Start" in b"".join(screen), 60, "the first frame")
    os.write(master, b"s")
    metrics = lambda: list((tmp_path / "models").glob("*/metrics.jsonl"))  # noqa: E731
    _wait(lambda: metrics() and metrics()[0].stat().st_size > 200, 60, "training to log metrics")
    status = _signal_and_wait(pid, master, signum)
    assert os.WIFEXITED(status), f"the app died from signal {os.WTERMSIG(status) if os.WIFSIGNALED(status) else '?'}"
    (summary,) = list_runs(tmp_path / "models")
    run = RunDir.open(summary.path)
    checkpoint = load_checkpoint(run.latest_path)
    logged = max(int(r["step"]) for r in run.metrics())
    assert checkpoint.step >= logged > 0
    assert run.info["status"] == "stopped"


def test_a_hang_up_hands_the_run_to_a_detached_trainer_that_finishes_it(tmp_path: Path,
                                                                         nietzsche_path: Path) -> None:
    """The default: the terminal goes away, the app saves and hands over, and the run trains on to its
    planned end in a process of its own, which the next `tuirnn` can attach to."""
    config_file = tmp_path / "tiny.toml"
    save_toml(tiny_config(nietzsche_path, max_steps=0, time_budget=25, eval_every=0, sample_every=0,
                          log_every=20), config_file)
    pid, master, screen = _spawn_app(tmp_path, config_file)
    metrics = lambda: list((tmp_path / "models").glob("*/metrics.jsonl"))  # noqa: E731
    try:
        _wait(lambda: b"Start" in b"".join(screen), 60, "the first frame")
        os.write(master, b"s")
        _wait(lambda: metrics() and metrics()[0].stat().st_size > 200, 60, "training to log metrics")
        os.kill(pid, signal.SIGHUP)
        os.close(master)  # the terminal is gone: every later write by the app fails
        hung_up = time.time()
        status = _exit_status(pid, 60)
    finally:
        with contextlib.suppress(OSError):
            os.close(master)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    run_path = metrics()[0].parent
    _wait(lambda: RunDir.open(run_path).info.get("status") == "completed", 120, "the detached trainer to finish")
    run = RunDir.open(run_path)
    later = [r for r in run.metrics() if "loss" in r and r["time"] > hung_up + 3]
    assert later, "nothing was trained after the hang-up"
    assert load_checkpoint(run.latest_path).step == run.info["step"] == max(int(r["step"]) for r in run.metrics())
    log = (run_path / "train.log").read_text()
    assert "detached trainer: " in log and "completed at step" in log
    assert [r.status for r in list_runs(tmp_path / "models")] == ["completed"]


STUCK_APP = """
import sys, threading, time
import tuirnn.launch
tuirnn.launch.plan_run = lambda *args, **kwargs: threading.Event().wait()  # a read that never returns
sys.argv = ["tuirnn", "--config", sys.argv[1]]
from tuirnn.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("keys", [b"qy", b"\x03y"])
def test_quitting_ends_the_process_within_seconds_whatever_the_worker_is_stuck_in(
        tmp_path: Path, nietzsche_path: Path, keys: bytes) -> None:
    from tuirnn.tui.app import EXIT_DEADLINE_S, GRACEFUL_EXIT_S

    config_file = tmp_path / "tiny.toml"
    save_toml(tiny_config(nietzsche_path, max_steps=60), config_file)
    code = STUCK_APP.replace("sys.argv[1]", repr(str(config_file)))
    pid, master, screen = _spawn_app(tmp_path, config_file, code=code)
    try:
        _wait(lambda: b"Start" in b"".join(screen), 60, "the first frame")
        os.write(master, b"s")
        _wait(lambda: b"loading" in b"".join(screen), 30, "the stuck start")
        shown = len(b"".join(screen))
        os.write(master, keys[:1])
        _wait(lambda: b"Save and quit" in b"".join(screen)[shown:], 30, "the quit question")
        asked = time.monotonic()
        os.write(master, keys[1:])
        status = _exit_status(pid, EXIT_DEADLINE_S + GRACEFUL_EXIT_S + 10)
        assert time.monotonic() - asked < EXIT_DEADLINE_S + GRACEFUL_EXIT_S + 5
    finally:
        os.close(master)
    assert os.WIFEXITED(status)


SCREEN_KEYS = ((b"\x1bOR", b"hyperparameters"), (b"\x1bOS", b"prompt"), (b"\x1b[15~", b"modified"),
               (b"\x1b[17~", b"Heatmap"), (b"\x1bOP", b"Every"), (b"\x1b", b"Heatmap"), (b"\x1bOQ", b"Start"))
"""F3..F6 (Model, Generate, Runs, Sweep), F1 (Help), Escape, F2 (Train), each with a word its screen shows."""


@pytest.mark.parametrize(("locale", "ascii_only"), [({}, True), ({"LANG": "C.UTF-8"}, False)])
def test_without_a_utf8_locale_every_screen_is_drawn_in_ascii(tmp_path: Path, nietzsche_path: Path,
                                                              locale: dict[str, str], ascii_only: bool) -> None:
    """No locale variables at all, as on a bare SSH login (Python then sets LC_CTYPE=C.UTF-8 for itself)."""
    config_file = tmp_path / "tiny.toml"
    save_toml(tiny_config(nietzsche_path, max_steps=60), config_file)
    pid, master, screen = _spawn_app(tmp_path, config_file, locale)
    try:
        _wait(lambda: b"Start" in b"".join(screen), 60, "the first frame")
        os.write(master, b"s")  # train, so the sparklines, charts and the run's row have something to draw
        _wait(lambda: [r.status for r in list_runs(tmp_path / "models")] == ["completed"], 60, "training to finish")
        for key, word in SCREEN_KEYS:
            shown = len(b"".join(screen))
            os.write(master, key)
            _wait(lambda shown=shown, word=word: word in b"".join(screen)[shown:], 30, f"the screen after {key!r}")
            _wait_until_quiet(screen, timeout=3)
        os.write(master, b"\x03")
        _exit_status(pid, 60)
    finally:
        os.close(master)
    output = b"".join(screen)
    shown = sorted({char for char in output.decode("utf-8", "replace") if not char.isascii()})
    assert output.isascii() is ascii_only, shown

"""Steering a run that another process trains: pause, unpause, save now, stop and save.

The channel is a directory in the run, `<run>/.control/`. A client writes one command as `<id>.cmd`
(atomically); the trainer's control thread picks it up within a fraction of a second, hands it to the
trainer's `TrainingControl` and answers with `<id>.ack` once it has taken effect (paused, resumed, saved,
stopping). Files, not a socket: they work wherever the run directory does (a deep path, a network disk),
need no server to be listening when written, and a command to a dead trainer is seen for what it is
because the training lock is no longer held. Nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tuirnn.events import CheckpointSaved, Event, Failed, Finished, Paused, Resumed, TrainingControl
from tuirnn.live import LiveBeacon, read_live
from tuirnn.locks import is_held
from tuirnn.paths import PathError, open_no_follow
from tuirnn.runs import TRAINING_LOCK_FILE, RunDir, RunError, live_status

CONTROL_DIR = ".control"
COMMANDS = ("pause", "unpause", "save", "stop")
POLL_S = 0.2
"""How often the trainer looks for commands."""
HEARTBEAT_S = 1.0
MAX_COMMAND_BYTES = 1024
ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
DEFAULT_TIMEOUT_S = 60.0


class NotTraining(RunError):
    """The run has no live trainer to take a command."""

    exit_code = 1


class NoAnswer(RunError):
    """The trainer holds the run but did not answer in time."""

    exit_code = 1


def control_dir(run_path: Path) -> Path:
    """The run's command directory, made if missing; never a symlink (a planted one is refused)."""
    path = Path(run_path) / CONTROL_DIR
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        raise PathError(f"{path} is not a directory; remote control is off for this run")
    return path


def _write_json(path: Path, value: dict[str, object]) -> None:
    """Write, then rename into place: a reader sees the whole file or none."""
    temp = path.with_name(f".{path.name}.tmp")
    fd = open_no_follow(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(value, handle)
    os.replace(temp, path)


def _read_json(path: Path) -> dict[str, object] | None:
    """A small JSON object from a regular file, or None (missing, a link, too big, not JSON)."""
    try:
        fd = open_no_follow(path, os.O_RDONLY)
    except (OSError, PathError):
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        data = handle.read(MAX_COMMAND_BYTES + 1)
    try:
        value = json.loads(data) if len(data) <= MAX_COMMAND_BYTES else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# ----- the trainer's side ------------------------------------------------------------------------------
@dataclass
class _Pending:
    id: str
    command: str


@dataclass
class ControlServer:
    """Run beside a trainer (a context manager around its loop): takes commands, writes the heartbeat.

    `observe` is the trainer's subscriber: it marks commands done as their effect is seen (called on the
    training thread, it only appends); this thread does all the file work."""

    run_path: Path
    control: TrainingControl
    beacon: LiveBeacon = field(init=False)
    _pending: list[_Pending] = field(default_factory=list, init=False)
    _answers: list[tuple[str, bool, str]] = field(default_factory=list, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _done: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _inbox: Path | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.beacon = LiveBeacon(self.run_path)

    def __enter__(self) -> ControlServer:
        self.beacon.remove()
        try:
            self._inbox = control_dir(self.run_path)
            for stale in self._inbox.iterdir():  # commands and answers meant for an earlier trainer
                with contextlib.suppress(OSError):
                    stale.unlink()
        except (OSError, PathError):
            self._inbox = None  # training goes on; only remote control is off
        self.beacon.write()
        self._thread = threading.Thread(target=self._serve, name="tuirnn-control", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        ended = "the run ended before the command took effect"
        with self._lock:
            self._answers += [(p.id, False, ended) for p in self._pending]
            self._pending.clear()
        self._write_answers()
        self.beacon.remove()
        if self._inbox is not None:
            with contextlib.suppress(OSError):  # left only if a last answer waits there for its reader
                self._inbox.rmdir()

    def observe(self, event: Event) -> None:
        self.beacon(event)
        wanted = {Paused: "pause", Resumed: "unpause"}.get(type(event))
        if isinstance(event, CheckpointSaved) and event.kind == "latest":
            wanted = "save"
        ended = isinstance(event, (Finished, Failed))
        if wanted is None and not ended:
            return
        with self._lock:
            for pending in list(self._pending):
                if ended or pending.command == wanted:
                    self._answers.append((pending.id, True, _done_text(pending.command, event)))
                    self._pending.remove(pending)

    def _serve(self) -> None:
        last_beat = time.monotonic()
        while not self._done.wait(POLL_S):
            self._take_commands()
            with self._lock:
                answering = bool(self._answers)
            if answering or time.monotonic() - last_beat >= HEARTBEAT_S:  # an answer finds the heartbeat current
                self.beacon.write()
                last_beat = time.monotonic()
            self._write_answers()

    def _take_commands(self) -> None:
        if self._inbox is None:
            return
        try:
            names = sorted(entry.name for entry in os.scandir(self._inbox) if entry.name.endswith(".cmd"))
        except OSError:
            return
        for name in names:
            path = self._inbox / name
            request = _read_json(path)
            with contextlib.suppress(OSError):
                path.unlink()
            command_id = name.removesuffix(".cmd")
            if request is None or not ID_PATTERN.match(command_id):
                continue
            self._apply(command_id, str(request.get("command", "")))

    def _apply(self, command_id: str, command: str) -> None:
        control, info = self.control, self.beacon.info
        answer: tuple[bool, str] | None = None
        if command not in COMMANDS:
            answer = (False, f"unknown command {command!r}")
        elif control.stop_requested:
            answer = (False, "the run is already stopping")
        elif command == "pause":
            if control.paused:
                answer = (True, f"already paused at step {info.step:,}")
            else:
                control.pause()
        elif command == "unpause":
            if not control.paused:
                answer = (True, f"not paused: training at step {info.step:,}")
            else:
                control.resume()
        elif command == "save":
            control.request_save()
        else:
            control.stop()
            self.beacon.stopping()
            answer = (True, f"stopping after step {info.step:,} and saving a checkpoint")
        with self._lock:
            if answer is None:
                self._pending.append(_Pending(command_id, command))
            else:
                self._answers.append((command_id, *answer))

    def _write_answers(self) -> None:
        with self._lock:
            answers, self._answers = self._answers, []
        if self._inbox is None:
            return
        for command_id, ok, message in answers:
            with contextlib.suppress(OSError, PathError):
                _write_json(self._inbox / f"{command_id}.ack", {"ok": ok, "message": message})


def _done_text(command: str, event: Event) -> str:
    if isinstance(event, (Finished, Failed)):
        return f"the run ended ({getattr(event, 'reason', 'failed')}) before the command took effect"
    step = getattr(event, "step", 0)
    return {"pause": f"paused at step {step:,}", "unpause": f"training again from step {step:,}",
            "save": f"checkpoint saved at step {step:,}"}[command]


# ----- the client's side -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Answer:
    ok: bool
    message: str


def send_command(run_path: Path, command: str, timeout: float = DEFAULT_TIMEOUT_S) -> Answer:
    """Give `command` to the process that trains the run at `run_path` and wait for its answer; a stop
    also waits until the trainer has saved and let go of the run. NotTraining when nobody trains it."""
    if command not in COMMANDS:
        raise RunError(f"unknown command {command!r}: use one of {', '.join(COMMANDS)}")
    run = RunDir.open(run_path)
    _require_trainer(run)
    inbox = control_dir(run.path)
    command_id = uuid.uuid4().hex
    request, answer_path = inbox / f"{command_id}.cmd", inbox / f"{command_id}.ack"
    _write_json(request, {"command": command, "pid": os.getpid(), "time": time.time()})
    deadline = time.monotonic() + timeout
    try:
        answer = _wait_for_answer(run, answer_path, deadline)
    finally:
        for leftover in (request, answer_path):  # an untaken command must not act later, unasked
            with contextlib.suppress(OSError):
                leftover.unlink()
    if command == "stop" and answer.ok:
        return _wait_for_stop(run, deadline)
    return answer


def _require_trainer(run: RunDir) -> None:
    if not is_held(run.path / TRAINING_LOCK_FILE):
        status = live_status(run.path, run.info)
        raise NotTraining(f"{run.name} is not training (status: {status}); nothing to control")


def _wait_for_answer(run: RunDir, answer_path: Path, deadline: float) -> Answer:
    while True:
        reply = _read_json(answer_path)
        if reply is not None:
            return Answer(bool(reply.get("ok")), str(reply.get("message", "")))
        if not is_held(run.path / TRAINING_LOCK_FILE):
            raise NotTraining(f"{run.name} stopped training before it answered")
        if time.monotonic() >= deadline:
            raise NoAnswer(f"{run.name}'s trainer did not answer in time (it may be validating or saving); "
                           "the command was withdrawn")
        time.sleep(0.05)


def _wait_for_stop(run: RunDir, deadline: float) -> Answer:
    """After a stop was taken: wait for the trainer to save and let go, then say where it stopped."""
    while is_held(run.path / TRAINING_LOCK_FILE):
        if time.monotonic() >= deadline:
            live = read_live(run.path)
            where = f" (at step {live.step:,})" if live else ""
            raise NoAnswer(f"{run.name} is still stopping{where}; it saves before it lets go")
        time.sleep(0.05)
    info = RunDir.open(run.path).info
    return Answer(True, f"stopped at step {int(info.get('step', 0)):,}; checkpoint saved "
                        f"(status: {live_status(run.path, info)})")

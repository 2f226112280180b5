"""Handing a run to a trainer that needs no terminal, so it outlives the app that started it.

The app stops its own trainer (which saves an exact, resumable checkpoint and lets go of the run), then
starts `tuirnn train --resume RUN` in a session of its own, with nothing read from or written to the
terminal: its output goes to `<run>/train.log`. A resume continues the same curve (the random state, the
optimizer, the carried state and a time budget's plan are in the checkpoint and run.json), so the run
ends where it would have. No torch here: the new process imports it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tuirnn.locks import is_held
from tuirnn.paths import open_no_follow
from tuirnn.runs import TRAINING_LOCK_FILE

TRAIN_LOG = "train.log"
HANG_UP_CHOICES = ("detach", "stop")
"""What the app does when its terminal goes away while it trains: hand the run over, or stop and save."""
HANG_UP_ENV = "TUIRNN_ON_HANG_UP"


def start_detached_trainer(run_path: Path, data_dir: Path) -> int:
    """Start the detached trainer for the run at `run_path` (which nobody may hold now); its pid."""
    run_path = Path(run_path).resolve()
    log_fd = open_no_follow(run_path / TRAIN_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        command = [sys.executable, "-m", "tuirnn", "--data-dir", str(Path(data_dir).resolve()), "train",
                   "--resume", str(run_path)]
        os.write(log_fd, f"{time.strftime('%Y-%m-%d %H:%M:%S')} detached trainer: {' '.join(command)}\n".encode())
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_fd, stderr=subprocess.STDOUT,
                                   start_new_session=True, close_fds=True)
    finally:
        os.close(log_fd)
    threading.Thread(target=process.wait, name="detached-trainer-reaper", daemon=True).start()
    return process.pid


def wait_until_trained_elsewhere(run_path: Path, timeout: float) -> bool:
    """Whether some process holds the run's training lock within `timeout` seconds (the detached trainer
    takes it once torch is imported and the checkpoint read)."""
    deadline = time.monotonic() + timeout
    while not is_held(Path(run_path) / TRAINING_LOCK_FILE):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True

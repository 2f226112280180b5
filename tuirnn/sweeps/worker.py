"""The body of a local worker process: one trial, its messages put on the driver's queue.

Ctrl-C and a terminal hang-up reach every process in the terminal's group, so workers ignore them and
let the driver decide; a stop flag (pruned, or the sweep stopped) and the driver's death both become a
normal Trainer stop, which saves a checkpoint the resumed sweep continues from.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

from tuirnn.events import TrainingControl
from tuirnn.paths import open_no_follow
from tuirnn.sweeps.trial import TrialJob, run_trial, stderr_log


def main(job: TrialJob, messages: Any, stop: Any) -> None:
    """`messages` is a multiprocessing Queue, `stop` a multiprocessing Event (both from the spawn context)."""
    for sig in (signal.SIGINT, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, signal.SIG_IGN)
    log = stderr_log(job.run_dir)
    log.parent.mkdir(parents=True, exist_ok=True)
    # Python's and native libraries' messages alike (file descriptor 2); a planted symlink is not followed
    fd = open_no_follow(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.dup2(fd, 2)
    os.close(fd)
    import torch

    torch.set_num_threads(job.threads)
    control = TrainingControl()
    parent = os.getppid()

    def watch() -> None:
        while not stop.wait(0.2):
            if os.getppid() != parent:  # the driver was killed: nobody reads the queue any more
                messages.cancel_join_thread()
                break
        control.stop()

    threading.Thread(target=watch, name="sweep-stop-watch", daemon=True).start()
    run_trial(job, messages.put, control)

"""The Ray engine: the same trials, run by Ray Tune on a local Ray or a cluster (`--address`).

Ray prints to the terminal and installs signal handlers, so its driver runs in a child process of its own
(`python -m tuirnn.sweeps.ray_driver`, see ray_driver.py) whose output goes to <sweep>/ray-driver.log. The
child streams the trials' plain messages (trial.py) back over a pipe as JSON lines; this process records
them in the sweep directory and publishes the same events as the local engine. Ray is imported only in
the child, so this module loads without it and says how to install it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import signal
import subprocess
import sys
from pathlib import Path

from tuirnn.config import ConfigError
from tuirnn.sweeps.engine import SweepEngine
from tuirnn.sweeps.events import SweepEnded
from tuirnn.sweeps.sweepdir import SweepDir
from tuirnn.sweeps.trial import Message

LOG_FILE = "ray-driver.log"
POLL_S = 0.2
EXIT_WAIT_S = 120.0
"""Ray takes a while to shut its processes down; a driver still there after this is killed."""


def require_ray() -> None:
    if importlib.util.find_spec("ray") is None:
        raise ConfigError("the ray engine needs Ray: pip install 'tuirnn[ray]' (or 'ray[tune]>=2.40')")


class RayEngine(SweepEngine):
    def __init__(self, sweep: SweepDir, workers: int | None = None, address: str | None = None,
                 data_dir: Path | None = None, cpus: int | None = None):
        require_ray()
        super().__init__(sweep, data_dir)
        self.workers, self.address, self.cpus = workers, address, cpus
        self._fatal = ""

    def _command(self, write_fd: int) -> list[str]:
        command = [sys.executable, "-m", "tuirnn.sweeps.ray_driver", str(self.sweep.path.resolve()),
                   "--fd", str(write_fd), "--data-dir", str(self.data_dir)]
        for flag, value in (("--address", self.address), ("--workers", self.workers), ("--cpus", self.cpus)):
            if value:
                command += [flag, str(value)]
        return command

    def run(self) -> SweepEnded:
        for record in self.sweep.unfinished():
            record.status = "queued"
        self.sweep.save()
        read_fd, write_fd = os.pipe()
        env = {**os.environ, "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1"}  # progress results lack val_loss
        with open(self.sweep.path / LOG_FILE, "ab") as log:
            driver = subprocess.Popen(self._command(write_fd), pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        os.close(write_fd)
        try:
            self._read(read_fd, driver)
        except BaseException:
            driver.send_signal(signal.SIGINT)
            raise
        finally:
            os.close(read_fd)
            try:
                driver.wait(EXIT_WAIT_S)
            except subprocess.TimeoutExpired:
                driver.kill()
                driver.wait()
        if self._fatal:
            raise ConfigError(f"the Ray driver failed: {self._fatal} (details in {self.sweep.path / LOG_FILE})")
        return self._finish()

    def _read(self, read_fd: int, driver: subprocess.Popen[bytes]) -> None:
        pending = b""
        interrupted = False
        with selectors.DefaultSelector() as selector:
            selector.register(read_fd, selectors.EVENT_READ)
            while True:
                if self.stopping and not interrupted:
                    driver.send_signal(signal.SIGINT)  # Tune stops its trials and returns from fit()
                    interrupted = True
                if not selector.select(POLL_S):
                    continue
                chunk = os.read(read_fd, 1 << 16)
                if not chunk:
                    return
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self._on_message(json.loads(line))

    def _on_message(self, message: Message) -> None:
        kind = message["kind"]
        if kind == "fatal":
            self._fatal = message["error"]
            return
        if kind == "launch":
            launched = self.sweep.find(message["trial"]) or self.sweep.add_trial(message["number"], message["params"])
            self._launched(launched)
            return
        record = self.sweep.find(message["trial"])
        if record is None or record.status != "running":
            return
        if kind == "end":
            self._ended(record, "queued" if message["status"] == "stopped" else message["status"], message)
        elif kind == "gone":  # Tune ended the trial without its end message: a crash, ASHA, or our stop
            status = "failed" if message["error"] else "queued" if self.stopping else "pruned"
            self._ended(record, status, None, "the trial's Ray worker failed" if message["error"] else "")
        else:
            self._progress(message)

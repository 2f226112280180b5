"""The default engine: up to K trials at once on this machine, one spawned process per trial.

A process per trial gives each its own torch threads and CUDA context, and lets a crashed or out-of-memory
trial fail alone. Workers stream plain dicts over one queue; the driver (this object, on the thread that
calls `run()`) records them, asks the Optuna pruner at each evaluation, and stops a pruned trial through
its stop flag, which the worker turns into a normal Trainer stop.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirnn.sweeps import capacity
from tuirnn.sweeps.engine import SweepEngine
from tuirnn.sweeps.events import SweepEnded
from tuirnn.sweeps.planner import Planner
from tuirnn.sweeps.sweepdir import SweepDir, TrialRecord
from tuirnn.sweeps.trial import Message, stderr_log
from tuirnn.sweeps.worker import main as worker_main

POLL_S = 0.2
EXIT_WAIT_S = 30.0


@dataclass
class _Slot:
    record: TrialRecord
    process: Any
    stop: Any
    pruned: bool = False


@dataclass
class _Capacity:
    """Trials at once and threads per trial; on a GPU `ramp` sets them from the trials' measured throughput."""

    trials: int
    threads: int
    ramp: capacity.ThroughputRamp | None = None
    cores: int = field(default_factory=capacity.cpu_cores)

    def measured(self, message: Message, running: set[str]) -> None:
        if self.ramp is not None:
            self.ramp.observe(message, running)
            self.trials = self.ramp.trials
            self.threads = max(1, self.cores // self.trials)


class LocalEngine(SweepEngine):
    def __init__(self, sweep: SweepDir, workers: int | None = None, data_dir: Path | None = None):
        super().__init__(sweep, data_dir)
        self.workers = workers
        self._slots: dict[str, _Slot] = {}
        self._exiting: list[Any] = []

    def _capacity(self) -> _Capacity:
        from tuirnn.devices import pick_device

        definition = self.sweep.definition
        if not self.workers and pick_device(definition.base.train.device).type == "cuda":
            return _Capacity(1, capacity.cpu_cores(), ramp=capacity.ThroughputRamp())
        slots = capacity.cpu_slots(definition.trial_count, capacity.largest_trial_bytes(definition), self.workers)
        return _Capacity(slots.trials, slots.threads)

    def run(self) -> SweepEnded:
        planner = Planner(self.sweep.definition, self.sweep.trials)
        waiting = sorted(self.sweep.unfinished(), key=lambda r: r.number)
        for interrupted in waiting:
            interrupted.status = "queued"
        limits = self._capacity()
        context = multiprocessing.get_context("spawn")
        messages = context.Queue()
        try:
            while True:
                while not self.stopping and len(self._slots) < limits.trials:
                    record = waiting.pop(0) if waiting else self._new_trial(planner)
                    if record is None:
                        break
                    self._start(context, messages, record, limits.threads)
                if not self._slots:
                    break
                self._pump(messages, planner, limits)
        finally:
            self._shutdown()
        return self._finish()

    def _new_trial(self, planner: Planner) -> TrialRecord | None:
        asked = planner.ask()
        return self.sweep.add_trial(*asked) if asked else None

    def _start(self, context: Any, messages: Any, record: TrialRecord, threads: int) -> None:
        stop = context.Event()
        self._launched(record)
        process = context.Process(target=worker_main, args=(self._job(record, threads), messages, stop),
                                  name=f"tuirnn-sweep-{record.id}", daemon=True)
        process.start()
        self._slots[record.id] = _Slot(record, process, stop)

    def _pump(self, messages: Any, planner: Planner, limits: _Capacity) -> None:
        with contextlib.suppress(queue.Empty):
            self._on_message(messages.get(timeout=POLL_S), planner, limits)
        if self.stopping:
            for slot in self._slots.values():
                slot.stop.set()
        self._exiting = [process for process in self._exiting if process.is_alive()]
        for slot in list(self._slots.values()):
            if not slot.process.is_alive():
                self._drain(messages, planner, limits)  # its last messages may still be in the pipe
                if slot.record.id in self._slots:  # no end message: it crashed, or went down with a stopping sweep
                    del self._slots[slot.record.id]
                    if self.stopping:
                        self._ended(slot.record, "queued", None)
                    else:
                        planner.tell(slot.record.number, "failed", None)
                        self._ended(slot.record, "failed", None,
                                    f"the trial's process exited unexpectedly (exit code {slot.process.exitcode}; "
                                    f"its messages are in {stderr_log(self.sweep.trial_path(slot.record))})")

    def _drain(self, messages: Any, planner: Planner, limits: _Capacity) -> None:
        while True:
            try:
                self._on_message(messages.get_nowait(), planner, limits)
            except queue.Empty:
                return

    def _on_message(self, message: Message, planner: Planner, limits: _Capacity) -> None:
        slot = self._slots.get(message["trial"])
        if slot is None:
            return
        record = slot.record
        if message["kind"] == "end":
            status = message["status"]
            if status == "stopped":  # asked to stop: pruned, or the whole sweep is stopping and resumes later
                status = "pruned" if slot.pruned else "queued"
            del self._slots[record.id]
            self._exiting.append(slot.process)
            if status != "queued":
                planner.tell(record.number, status, message.get(self.sweep.definition.metric))
            self._ended(record, status, message)
            return
        self._progress(message)
        if message["kind"] == "step":
            limits.measured(message, set(self._slots))
        elif (message["kind"] == "eval" and not slot.pruned and message["step"] < record.total_steps
              and planner.report(record.number, message["step"], message["val_loss"])):
            slot.pruned = True
            slot.stop.set()

    def _shutdown(self) -> None:
        """Wait for exiting workers; terminate any still running (only after an error in the driver)."""
        for slot in self._slots.values():
            slot.process.terminate()
        for process in self._exiting + [slot.process for slot in self._slots.values()]:
            process.join(EXIT_WAIT_S)
            if process.is_alive():
                process.kill()
        self._slots.clear()
        self._exiting.clear()

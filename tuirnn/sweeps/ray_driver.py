"""The Ray driver process started by RayEngine: runs the sweep's remaining trials with Ray Tune.

A Tune Searcher hands out the points of the same Optuna planner the local engine uses (interrupted trials
first); a function trainable runs `run_trial` and passes each message to `tune.report`; Ray's
ASHAScheduler prunes when pruning is on, comparing val_loss at each evaluation by training step; trials get
a fraction of a GPU each when the cluster has GPUs. Every trial message goes to the engine over a pipe.

Tune pickles its searcher and callbacks, so they keep the driver's state (pipe, planner) in a module
global rather than in themselves: there is one driver per process.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import Searcher

from tuirnn.sweeps.planner import Planner
from tuirnn.sweeps.sweepdir import SweepDir, TrialRecord
from tuirnn.sweeps.trial import Message, TrialJob

TRIALS_PER_GPU = 2
"""Default trials sharing one GPU; small character models rarely fill one."""


@dataclass
class _Driver:
    sweep: SweepDir
    planner: Planner
    waiting: list[TrialRecord]
    data_dir: str
    pipe: TextIO
    threads: int = 1

    def send(self, message: Message) -> None:
        self.pipe.write(json.dumps(message) + "\n")


_driver: _Driver | None = None


def _state() -> _Driver:
    assert _driver is not None, "the Ray driver is not running"
    return _driver


class PlannerSearcher(Searcher):
    """Tune's view of the planner: interrupted trials first, then new points, then FINISHED."""

    def __init__(self) -> None:
        super().__init__()
        self.trials: dict[str, TrialRecord] = {}
        self.ends: dict[str, Message] = {}

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        driver = _state()
        if driver.waiting:
            record = driver.waiting.pop(0)
        else:
            asked = driver.planner.ask()
            if asked is None:
                return Searcher.FINISHED  # type: ignore[return-value]
            record = driver.sweep.add_trial(*asked)
        self.trials[trial_id] = record
        driver.send({"kind": "launch", "trial": record.id, "number": record.number, "params": record.params})
        path = driver.sweep.trial_path(record).resolve()
        return asdict(TrialJob(record.id, record.config, str(path), driver.data_dir, driver.threads))

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        message = json.loads(result["message"])
        if message["kind"] == "end":
            self.ends[trial_id] = message

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
        record = self.trials.pop(trial_id, None)
        if record is None:
            return
        driver = _state()
        end = self.ends.pop(trial_id, None)
        if end is None:  # stopped by ASHA or by the engine, or its worker died
            driver.send({"kind": "gone", "trial": record.id, "error": error})
            driver.planner.tell(record.number, "failed" if error else "pruned", None)
        elif end["status"] != "stopped":
            driver.planner.tell(record.number, end["status"], end.get(driver.sweep.definition.metric))


class ForwardMessages(tune.Callback):
    def on_trial_result(self, iteration: int, trials: Any, trial: Any, result: dict[str, Any], **info: Any) -> None:
        if "message" in result:
            _state().send(json.loads(result["message"]))


def _trainable(job: dict[str, Any]) -> None:
    """One trial; each message becomes a Tune result, with step and val_loss at the top for ASHA."""
    import torch

    from tuirnn.events import TrainingControl
    from tuirnn.sweeps.trial import run_trial

    torch.set_num_threads(job["threads"])

    def report(message: Message) -> None:
        result: dict[str, Any] = {"message": json.dumps(message)}
        if message["kind"] == "eval":
            result.update(step=message["step"], val_loss=message["val_loss"])
        tune.report(result)

    run_trial(TrialJob(**job), report, TrainingControl())


def drive(driver: _Driver, address: str | None, workers: int | None, cpus: int | None) -> None:
    global _driver
    _driver = driver
    definition = driver.sweep.definition
    to_run = len(driver.waiting) + definition.trial_count - len(driver.sweep.trials)
    if to_run == 0:
        return
    ray.init(address=address, num_cpus=None if address else cpus, include_dashboard=False,
             logging_level=logging.WARNING, log_to_driver=False)
    try:
        resources = ray.cluster_resources()  # type: ignore[no-untyped-call]
        gpus = resources.get("GPU", 0) if definition.base.train.device in ("auto", "cuda") else 0
        concurrent = workers or (int(gpus * TRIALS_PER_GPU) if gpus else int(resources.get("CPU", 1)))
        concurrent = max(1, min(concurrent, to_run))
        driver.threads = max(1, int(resources.get("CPU", 1)) // concurrent)
        share: dict[str, float] = {"cpu": driver.threads}
        if gpus:
            share["gpu"] = min(1.0, gpus / concurrent)
        scheduler = None
        if definition.pruning == "asha":
            scheduler = ASHAScheduler(time_attr="step", metric="val_loss", mode="min", max_t=2**62,
                                      grace_period=max(1, definition.base.train.eval_every), reduction_factor=3)
        tuner = tune.Tuner(
            tune.with_resources(_trainable, share),
            tune_config=tune.TuneConfig(search_alg=PlannerSearcher(), scheduler=scheduler, num_samples=to_run,
                                        max_concurrent_trials=concurrent,
                                        trial_name_creator=lambda trial: trial.trial_id,
                                        trial_dirname_creator=lambda trial: trial.trial_id),
            run_config=tune.RunConfig(name="tune", storage_path=str(driver.sweep.path.resolve() / "ray"), verbose=0,
                                      callbacks=[ForwardMessages()], failure_config=tune.FailureConfig(max_failures=0)),
        )
        tuner.fit()
    finally:
        ray.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tuirnn.sweeps.ray_driver", description="The Ray sweep driver.")
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--fd", type=int, required=True, help="pipe to write JSON-line messages to")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--address")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--cpus", type=int)
    args = parser.parse_args(argv)
    with open(args.fd, "w", encoding="utf-8", buffering=1) as pipe:
        try:
            sweep = SweepDir.open(args.sweep, claim=False)  # the engine that started this process holds the lock
            waiting = sorted(sweep.unfinished(), key=lambda r: r.number)
            driver = _Driver(sweep, Planner(sweep.definition, sweep.trials), waiting, args.data_dir, pipe)
            drive(driver, args.address, args.workers, args.cpus)
        except Exception as exc:  # noqa: BLE001  (one line for the engine; the traceback goes to the log)
            logging.exception("the Ray sweep driver failed")
            pipe.write(json.dumps({"kind": "fatal", "error": f"{type(exc).__name__}: {exc}"}) + "\n")
            return 1
    return 0


if __name__ == "__main__":  # run the package's module, so Ray pickles `_trainable` and the classes by reference
    from tuirnn.sweeps import ray_driver

    sys.exit(ray_driver.main())

"""What an interactive setup asks to run (a definition, how many trials at once, on which engine), and whether
that engine can run here. `tuirnn.sweeps.engine.make_engine` makes the engine."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tuirnn.config import ConfigError
from tuirnn.sweeps import capacity
from tuirnn.sweeps.definition import SweepDefinition


@dataclass(frozen=True)
class SweepPlan:
    definition: SweepDefinition
    workers: int | None
    """Trials at once; None lets the engine choose from the cores and memory."""
    engine: str
    """One of tuirnn.sweeps.engine.ENGINES: `local` (processes on this machine) or `ray`."""

    @property
    def key(self) -> str:
        """Identifies a check's answer, so a stale one (the setup changed since) is dropped."""
        return json.dumps([self.definition.to_dict(), self.workers], sort_keys=True, default=str)

    @property
    def timing_key(self) -> str:
        """A timing holds for the same trials (base config and axes) and threads per trial."""
        return self.key

    def slots(self) -> capacity.Slots:
        d = self.definition
        return capacity.cpu_slots(d.trial_count, capacity.largest_trial_bytes(d), self.workers)


def engine_problem(engine: str) -> str | None:
    """Why `engine` cannot run on this machine (Ray is not installed), or None when it can."""
    if engine == "ray":
        from tuirnn.sweeps.ray_engine import require_ray

        try:
            require_ray()
        except ConfigError as exc:
            return str(exc)
    return None

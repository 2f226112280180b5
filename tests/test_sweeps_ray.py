"""The Ray engine runs the same tiny sweep on a local Ray (2 CPUs) and writes the same result schema as
the local engine. Skipped where Ray is not installed; CI installs it through the dev extra."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_sweeps import read_csv, text_file, write_sweep  # noqa: F401  (text_file is a fixture)

from tuirnn.sweeps.definition import load_sweep
from tuirnn.sweeps.events import TrialEvaluated, TrialProgress, TrialStarted
from tuirnn.sweeps.sweepdir import SweepDir

pytest.importorskip("ray")


def test_ray_engine_runs_the_tiny_sweep_with_the_same_results(tmp_path: Path, text_file: Path) -> None:  # noqa: F811
    from tuirnn.sweeps.ray_engine import RayEngine

    definition = load_sweep(write_sweep(tmp_path, text_file, "lr = [0.01, 0.003]\n"))
    sweep = SweepDir.create(tmp_path / "sweep", definition)
    engine = RayEngine(sweep, workers=2, cpus=2)
    events: list[object] = []
    engine.subscribe(events.append)
    ended = engine.run()

    assert ended.counts == {"done": 2} and not ended.stopped
    for kind in (TrialStarted, TrialProgress, TrialEvaluated):
        assert any(isinstance(e, kind) for e in events)
    rows = read_csv(sweep.path / "results.csv")
    assert list(rows[0]) == ["trial", "status", "lr", "last_loss", "val_loss", "val_bpc", "best_val_loss", "steps",
                             "seconds", "run_dir", "error"]
    assert sorted(r["lr"] for r in rows) == ["0.003", "0.01"]
    for row in rows:
        assert row["status"] == "done" and row["steps"] == "20"
        assert float(row["last_loss"]) > 0 and float(row["val_loss"]) > 0 and float(row["val_bpc"]) > 0
        assert (sweep.path / row["run_dir"] / "metrics.jsonl").exists()
    assert json.loads((sweep.path / "results.json").read_text())["best_trial"] in {r["trial"] for r in rows}

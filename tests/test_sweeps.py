"""Sweeps: definitions and their checks, the planner, the local engine (one process per trial), kill and
resume, failing trials, and the CLI. Trials are tiny (GRU 8-16 hidden, seq 16, batch 8, 20 steps) on a
generated text, so most of the time is the workers' start-up."""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tuirnn.config import ConfigError, with_overrides
from tuirnn.events import Failed, Finished
from tuirnn.sweeps import cli as sweep_cli
from tuirnn.sweeps.definition import load_sweep, parse_sweep, sweep_preset
from tuirnn.sweeps.events import TrialEnded, TrialProgress, TrialStarted
from tuirnn.sweeps.local import LocalEngine
from tuirnn.sweeps.planner import Planner
from tuirnn.sweeps.sweepdir import SweepDir
from tuirnn.sweeps.trial import end_message, stderr_log
from tuirnn.sweeps.validation import check_sweep

TINY = """
[sweep]
strategy = "grid"
metric = "last_loss"
[model]
cell = "gru"
layers = 1
hidden_size = 8
embedding_size = 8
dropout = 0.0
[data]
corpus = "{corpus}"
seq_len = 16
[train]
batch_size = 8
max_steps = 20
log_every = 5
eval_every = 10
eval_max_chars = 2000
sample_every = 0
device = "cpu"
[axes]
"""

HARNESS = """
import argparse, sys
from tuirnn.sweeps import cli
parser = argparse.ArgumentParser(prog="tuirnn")
cli.add_parser(parser.add_subparsers(dest="command"))
sys.exit(cli.run(parser.parse_args(sys.argv[1:])))
"""


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    rng = random.Random(0)
    words = ["the", "model", "learns", "a", "sequence", "of", "characters", "and", "predicts", "next", "one"]
    path = tmp_path / "text.txt"
    path.write_text(" ".join(rng.choice(words) for _ in range(6000)) + "\n", encoding="utf-8")
    return path


def write_sweep(tmp_path: Path, corpus: Path, axes: str, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(TINY.format(corpus=corpus) + axes, encoding="utf-8")
    return path


def parse_cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tuirnn")
    sweep_cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["sweep", *argv])


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# ---- definitions, checks and presets ------------------------------------------------------------------


def test_study_layers_preset_reproduces_the_study() -> None:
    definition = sweep_preset("study-layers")
    assert (definition.strategy, definition.metric, definition.trial_count) == ("grid", "last_loss", 4)
    configs = [definition.config_for(point) for point in definition.points()]
    assert sorted(c.model.layers for c in configs) == [1, 2, 3, 4]
    for c in configs:
        assert (c.model.cell, c.model.hidden_size, c.model.dropout) == ("lstm", 512, 0.3)
        assert (c.data.seq_len, c.data.stride, c.data.layout, c.train.batch_size) == (42, 42, "windows", 64)
        assert (c.train.optimizer, c.train.lr, c.train.epochs) == ("adam", 1e-3, 60)


def test_study_grid_preset_is_the_studys_63_point_grid() -> None:
    definition = sweep_preset("study-grid")
    assert definition.trial_count == 63
    configs = [definition.config_for(point) for point in definition.points()]
    assert {(c.model.hidden_size, c.model.dropout) for c in configs} == {
        (h, d) for h in (256, 384, 512, 640, 768, 896, 1024) for d in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)}
    settings = {(c.model.layers, c.model.cell, c.train.lr, c.train.epochs, c.train.batch_size) for c in configs}
    assert settings == {(2, "lstm", 1e-3, 60, 64)}
    assert check_sweep(definition).errors == []


def test_invalid_axis_values_are_rejected_with_the_setting_named(text_file: Path) -> None:
    definition = parse_sweep({"axes": {"hidden_size": [0, 8], "dropout": [0.1, 1.5]}}, "bad")
    check = check_sweep(definition)
    assert any(e.startswith("hidden_size=0: hidden_size must be between") for e in check.errors)
    assert any(e.startswith("dropout=1.5: dropout must be in [0, 1)") for e in check.errors)
    with pytest.raises(ConfigError, match="hidden_size=0"):
        check.raise_errors()
    for axes, message in (({"hidden_size": ["big"]}, "not a valid int"), ({"hiden_size": [8]}, "not a setting"),
                          ({"dropout": {"start": 0.1, "stop": 0.85, "step": 0.1}}, "whole number of steps"),
                          ({"cell": {"start": 1, "stop": 2}}, "numeric setting"), ({"layers": 2}, "list of values")):
        with pytest.raises(ConfigError, match=message):
            parse_sweep({"axes": axes}, "bad")
    with pytest.raises(ConfigError, match="trials"):
        parse_sweep({"sweep": {"strategy": "tpe"}, "axes": {"lr": [0.1, 0.2]}}, "bad")


def test_duplicate_points_and_no_op_combinations_are_flagged() -> None:
    axes = {"hidden_size": [8, 8, 16], "layers": [1, 2]}
    check = check_sweep(parse_sweep({"model": {"dropout": 0.3}, "axes": axes}, "x"))
    assert check.errors == []
    assert any("hidden_size lists 8 more than once" in w for w in check.warnings)
    assert any("repeat another point" in w for w in check.warnings)
    assert any("dropout has no effect with 1 layer" in w and "layers=1" in w for w in check.warnings)


def test_sweep_toml_with_base_preset_overrides_and_ranges(tmp_path: Path) -> None:
    path = tmp_path / "search.toml"
    path.write_text('[sweep]\nstrategy = "tpe"\ntrials = 5\nmetric = "val_loss"\npruning = "asha"\n'
                    '[base]\npreset = "tiny"\n[train]\nmax_steps = 30\n'
                    '[axes]\nlr = [0.001, 0.003]\nhidden_size = "16..64 step 16"\n', encoding="utf-8")
    definition = load_sweep(path)
    assert (definition.name, definition.strategy, definition.pruning) == ("search", "tpe", "asha")
    assert definition.trial_count == 5
    assert definition.base.model.cell == "gru" and definition.base.train.max_steps == 30
    assert definition.axes[1].values == (16, 32, 48, 64)
    with pytest.raises(ConfigError, match="unknown sweep preset"):
        load_sweep("no-such-sweep")


def test_planner_grid_visits_every_point_once_and_resumes_without_repeats(tmp_path: Path) -> None:
    definition = parse_sweep({"axes": {"hidden_size": [8, 16], "lr": [0.01, 0.003]}}, "grid")
    sweep = SweepDir.create(tmp_path / "s", definition)
    planner = Planner(definition, sweep.trials)
    for _ in range(2):
        record = sweep.add_trial(*planner.ask())
        record.status, record.last_loss = "done", 1.0
    resumed = Planner(definition, sweep.trials)  # as after a restart: rebuilt from the records
    while (asked := resumed.ask()) is not None:
        sweep.add_trial(*asked)
    points = [tuple(r.params.values()) for r in sweep.trials]
    assert sorted(points) == sorted((h, lr) for h in (8, 16) for lr in (0.01, 0.003))
    assert [r.number for r in sweep.trials] == [0, 1, 2, 3]


def test_planner_samples_from_the_axes_and_prunes_a_poor_trial() -> None:
    axes = {"dropout": {"start": 0.1, "stop": 0.5, "step": 0.1}, "cell": ["gru", "lstm"]}
    definition = parse_sweep({"sweep": {"strategy": "tpe", "trials": 6, "pruning": "asha"}, "axes": axes}, "t")
    planner = Planner(definition, [])
    decisions = []
    for value in (1.0, 1.1, 1.2, 1.3, 9.0):
        number, params = planner.ask()
        assert params["dropout"] in (0.1, 0.2, 0.3, 0.4, 0.5) and params["cell"] in ("gru", "lstm")
        decisions.append(planner.report(number, 10, value))
        planner.tell(number, "pruned" if decisions[-1] else "done", value)
    assert decisions[0] is False and decisions[-1] is True
    assert planner.ask() is not None and planner.ask() is None  # 6 trials in all


def test_trial_outcomes_map_to_sweep_statuses() -> None:
    assert end_message("t0", Finished(20, "completed", 1.0, 1.1, 1.1, None))["status"] == "done"
    assert end_message("t0", Finished(5, "stopped", 1.0, None, None, None))["status"] == "stopped"
    assert end_message("t0", Failed(7, "nan", "loss became nan", None))["status"] == "diverged"
    assert end_message("t0", Failed(0, "oom", "out of memory", None))["status"] == "failed"


# ---- the local engine ---------------------------------------------------------------------------------


def test_tiny_grid_runs_two_at_a_time_and_exports_results(tmp_path: Path, text_file: Path) -> None:
    definition = load_sweep(write_sweep(tmp_path, text_file, "hidden_size = [8, 16]\nlr = [0.01, 0.003]\n"))
    sweep = SweepDir.create(tmp_path / "sweep", definition)
    engine = LocalEngine(sweep, workers=2)
    events: list[object] = []
    engine.subscribe(events.append)
    ended = engine.run()

    assert ended.counts == {"done": 4} and not ended.stopped
    running, most = 0, 0
    for event in events:
        running += isinstance(event, TrialStarted) - isinstance(event, TrialEnded)
        most = max(most, running)
    assert most <= 2 and sum(isinstance(e, TrialStarted) for e in events) == 4
    assert any(isinstance(e, TrialProgress) for e in events)

    rows = read_csv(sweep.path / "results.csv")
    assert [r["status"] for r in rows] == ["done"] * 4
    assert {(r["hidden_size"], r["lr"]) for r in rows} == {(h, lr) for h in ("8", "16") for lr in ("0.01", "0.003")}
    for row in rows:
        assert float(row["last_loss"]) > 0 and float(row["val_loss"]) > 0
        assert float(row["val_bpc"]) == pytest.approx(float(row["val_loss"]) / 0.6931471805599453)
        assert (sweep.path / row["run_dir"] / "metrics.jsonl").exists()
    results = json.loads((sweep.path / "results.json").read_text())
    assert results["metric"] == "last_loss" and len(results["trials"]) == 4
    best = min(rows, key=lambda r: float(r["last_loss"]))
    assert results["best_trial"] == best["trial"]
    saved = json.loads((sweep.path / "sweep.json").read_text())
    assert all(t["config"]["model"]["hidden_size"] == t["params"]["hidden_size"] for t in saved["trials"])
    for record in sweep.trials:  # each trial process wrote its stderr beside its run, not to the terminal
        assert stderr_log(sweep.trial_path(record)).is_file()


def test_a_failing_trial_is_marked_failed_and_the_others_complete(tmp_path: Path, text_file: Path) -> None:
    missing = tmp_path / "missing.txt"
    definition = load_sweep(write_sweep(tmp_path, text_file, f'corpus = ["{text_file}", "{missing}"]\n'))
    sweep = SweepDir.create(tmp_path / "sweep", definition)
    ended = LocalEngine(sweep, workers=2).run()
    assert ended.counts == {"done": 1, "failed": 1}
    by_corpus = {r.params["corpus"]: r for r in sweep.trials}
    assert by_corpus[str(text_file)].status == "done"
    assert by_corpus[str(missing)].status == "failed" and "no corpus file" in by_corpus[str(missing)].error


def test_killed_sweep_resumes_only_the_unfinished_trials(tmp_path: Path, text_file: Path) -> None:
    toml = write_sweep(tmp_path, text_file, "lr = [0.01, 0.005, 0.003]\n")
    out = tmp_path / "sweep"
    driver = subprocess.Popen([sys.executable, "-c", HARNESS, "sweep", str(toml), "--workers", "1", "--out", str(out)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    done: list[dict] = []
    while not done and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
        try:
            done = [t for t in json.loads((out / "sweep.json").read_text())["trials"] if t["status"] == "done"]
        except (OSError, ValueError):
            continue
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    assert done, driver.stderr.read().decode() if driver.stderr else "no trial finished"
    before = {t["id"]: (out / "trials" / t["id"] / "metrics.jsonl").stat().st_mtime_ns for t in done}

    assert sweep_cli.run(parse_cli("--resume", str(out))) == 0
    sweep = SweepDir.open(out)
    assert [r.status for r in sweep.trials] == ["done"] * 3
    for record in sweep.trials:
        if record.id in before:  # finished before the kill: not run again
            assert record.attempts == 1
            assert (out / "trials" / record.id / "metrics.jsonl").stat().st_mtime_ns == before[record.id]
    assert sum(r.attempts for r in sweep.trials) <= 4  # at most the one interrupted trial ran twice
    assert len(read_csv(out / "results.csv")) == 3


# ---- the command line ---------------------------------------------------------------------------------


def test_cli_dry_run_prints_plan_and_cost(tmp_path: Path, text_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = write_sweep(tmp_path, text_file, "hidden_size = [8, 16]\nlr = [0.01, 0.003]\n")
    assert sweep_cli.run(parse_cli(str(toml), "--dry-run", "--max-steps", "12", "--workers", "2")) == 0
    out = capsys.readouterr().out
    assert "grid, 4 trials, metric last_loss" in out
    assert "cost: 48 steps in all" in out and "s/step" in out and "2 trial(s) at once" in out
    assert not (tmp_path / "models").exists()


def test_a_sweep_is_priced_per_trial_from_its_cheapest_and_dearest_measured_trials(tmp_path: Path,
                                                                                   text_file: Path) -> None:
    from tuirnn.sweeps.cost import Measured, Timing, corpus_loader, estimate_cost, work_per_step
    from tuirnn.sweeps.definition import load_sweep

    toml = write_sweep(tmp_path, text_file, "hidden_size = [8, 16, 32]\n")
    definition = load_sweep(toml)
    definition.base = with_overrides(definition.base, {"max_steps": 100, "eval_every": 50, "sample_every": 0})
    load = corpus_loader(tmp_path / "data")
    works = [work_per_step(definition.config_for(p), len(load(definition.base).vocab))
             for p in definition.listed_points()]
    cheap, dear = Measured(min(works), 0.01, 1.0, 0.2, 0.0), Measured(max(works), 0.03, 0.1, 0.6, 0.0)
    timing = Timing(start_s=2.0, points=(cheap, dear))
    middle = sorted(works)[1]
    between = (middle - cheap.work) / (dear.work - cheap.work)
    assert timing.at(middle).seconds_per_step == pytest.approx(0.01 + between * 0.02)
    assert timing.at(middle).setup_s == 1.0  # a fresh process's first model, whatever its size
    cost = estimate_cost(definition, load, workers=3, timing=timing)
    per_trial = [2.0 + 1.0 + 100 * timing.at(w).seconds_per_step + 3 * timing.at(w).evaluation_s for w in works]
    # each trial: start, setup, steps, two validations and the last; three at once, after the sweep's own start
    assert cost.seconds == pytest.approx(2.0 + max(per_trial))
    assert estimate_cost(definition, load, workers=1, timing=timing).seconds == pytest.approx(2.0 + sum(per_trial))
    assert estimate_cost(definition, load, workers=3).seconds is None  # nothing timed: no time said


def test_cli_rejects_bad_input_with_config_errors(tmp_path: Path, text_file: Path) -> None:
    toml = write_sweep(tmp_path, text_file, "hidden_size = [0, 8]\n")
    with pytest.raises(ConfigError, match="hidden_size=0"):
        sweep_cli.run(parse_cli(str(toml), "--dry-run"))
    with pytest.raises(ConfigError, match="unknown sweep preset"):
        sweep_cli.run(parse_cli("nope"))
    with pytest.raises(ConfigError, match="--resume continues"):
        sweep_cli.run(parse_cli("study-grid", "--resume", str(tmp_path)))
    with pytest.raises(ConfigError, match="--workers"):
        sweep_cli.run(parse_cli("study-grid", "--workers", "0"))


def test_trials_at_once_follow_cores_and_memory_on_a_cpu() -> None:
    from tuirnn.sweeps import capacity

    assert capacity.cpu_slots(10, 2**20, cores=8, memory=2**40) == capacity.Slots(8, 1)
    assert capacity.cpu_slots(3, 2**20, cores=8, memory=2**40) == capacity.Slots(3, 2)
    assert capacity.cpu_slots(10, 2**30, cores=8, memory=3 * (2**30 + capacity.PROCESS_BYTES)).trials == 3
    assert capacity.cpu_slots(10, 2**20, workers=2, cores=8) == capacity.Slots(2, 4)


def _step(trial: str, rate: float, **extra: int) -> dict:
    return {"kind": "step", "trial": trial, "chars_per_s": rate, **extra}


def test_gpu_trials_at_once_double_while_throughput_rises_then_settle_on_the_best() -> None:
    from tuirnn.sweeps import capacity
    from tuirnn.sweeps.local import _Capacity

    gpu = _Capacity(1, 16, ramp=capacity.ThroughputRamp(), cores=16)
    memory = {"gpu_peak_bytes": 2**30 - capacity.CUDA_CONTEXT_BYTES, "gpu_free_bytes": 10 * 2**30}
    gpu.measured(_step("a", 100.0, **memory), {"a"})
    assert gpu.ramp.ceiling == 10 and gpu.trials == 1  # the measured trial plus 9 more would fit
    gpu.measured(_step("a", 100.0), {"a"})
    assert (gpu.trials, gpu.threads) == (2, 8)
    gpu.measured(_step("a", 90.0), {"a", "b"})
    gpu.measured(_step("a", 90.0), {"a", "b"})
    assert gpu.trials == 2  # b has not reported twice yet
    gpu.measured(_step("b", 90.0), {"a", "b"})
    gpu.measured(_step("b", 90.0), {"a", "b"})
    assert gpu.trials == 4  # 180 chars/s >= 1.1 x 100
    running = {"a", "b", "c", "d"}
    for trial in sorted(running) * 2:
        gpu.measured(_step(trial, 48.0), running)
    assert (gpu.trials, gpu.threads, gpu.ramp.settled) == (2, 8, True)  # 192 < 1.1 x 180: back to 2
    gpu.measured(_step("a", 1000.0), running)
    assert gpu.trials == 2


def test_gpu_trials_at_once_stop_at_what_memory_holds() -> None:
    from tuirnn.sweeps import capacity

    ramp = capacity.ThroughputRamp()
    ramp.observe(_step("a", 10.0, gpu_peak_bytes=4 * 2**30, gpu_free_bytes=6 * 2**30), {"a"})
    ramp.observe(_step("a", 10.0), {"a"})
    assert ramp.ceiling == 2 and ramp.trials == 2
    for trial in ["a", "b", "a", "b"]:
        ramp.observe(_step(trial, 10.0), {"a", "b"})
    assert (ramp.trials, ramp.settled) == (2, True)


@pytest.mark.parametrize("strategy", ["random", "tpe"])
def test_planner_resume_does_not_propose_finished_points_again(tmp_path: Path, strategy: str) -> None:
    definition = parse_sweep({"sweep": {"strategy": strategy, "trials": 6},
                              "axes": {"lr": {"start": 0.0001, "stop": 0.01, "step": 0.0001}}}, "resume")
    assert definition.strategy == strategy
    sweep = SweepDir.create(tmp_path / "s", definition)
    planner = Planner(definition, sweep.trials)
    for _ in range(3):
        record = sweep.add_trial(*planner.ask())
        record.status, record.last_loss = "done", float(record.params["lr"])
    finished = [r.params for r in sweep.trials]
    resumed = Planner(definition, sweep.trials)
    proposed = [resumed.ask()[1] for _ in range(3)]
    assert not any(params in finished for params in proposed)

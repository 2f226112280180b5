"""A time budget: durations as people write them, the planning arithmetic, and a trainer that fits its
steps, validations and samples into the budget with the schedule ending there (on a simulated clock,
so the test is exact and fast whatever the machine's load)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import tiny_config, write_text

from tuirnn import training
from tuirnn.budget import EVALUATIONS, Costs, evaluation_chars, parse_duration, plan, probe_seconds
from tuirnn.catalog import open_corpus
from tuirnn.cli import main
from tuirnn.config import with_overrides
from tuirnn.events import Evaluated, Finished, Sampled, StepMetrics
from tuirnn.runs import RunDir
from tuirnn.train_step import TrainStep


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("5m", 300), ("5 min", 300), ("1.5h", 5400),
                                               ("1h30m", 5400), (" 2m ", 120), (".5m", 30)])
def test_durations_read_as_people_write_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "5x", "five minutes", "5m-", "-5m"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_the_cli_takes_a_time_and_refuses_nonsense(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--time", "5m", "--dry-run"]) == 0
    capsys.readouterr()
    assert main(["train", "--time", "soon", "--dry-run"]) == 2
    assert "time_budget: 'soon' is not a valid float" in capsys.readouterr().err
    assert main(["train", "--time", "200h", "--dry-run"]) == 2
    assert "time_budget must be between 0 (none) and 7 days" in capsys.readouterr().err


@pytest.mark.parametrize("budget", [20.0, 60.0, 300.0, 3600.0])
def test_the_plan_fills_the_budget_with_about_ten_validations(budget: float) -> None:
    costs = Costs(seconds_per_step=0.05, evaluation_s=0.4, sample_s=0.1)
    elapsed, step = probe_seconds(budget) + 0.5, 40
    cadence = plan(budget, elapsed, step, costs)
    evaluations = (cadence.total_steps - 1) // cadence.eval_every - step // cadence.eval_every + 1
    samples = (cadence.total_steps - 1) // cadence.sample_every - step // cadence.sample_every + 1
    spent = (elapsed + (cadence.total_steps - step) * costs.seconds_per_step
             + evaluations * costs.evaluation_s + samples * costs.sample_s)
    assert budget - 2 * costs.evaluation_s <= spent <= budget  # within one step and one validation of it
    assert EVALUATIONS - 1 <= evaluations <= EVALUATIONS + 1


def test_a_later_plan_keeps_the_spacing() -> None:
    first = plan(60, 2, 20, Costs(0.05, 0.4, 0.1))
    later = plan(60, 30, first.eval_every * 4, Costs(0.04, 0.4, 0.1), spacing=first)
    assert (later.eval_every, later.sample_every) == (first.eval_every, first.sample_every)
    assert later.total_steps > first.total_steps  # faster steps: more of them fit


def test_validation_text_shrinks_to_fit_a_short_budget() -> None:
    assert evaluation_chars(200_000, 1.0, 300) == 200_000  # 1 s of 300: within 1%
    assert evaluation_chars(200_000, 1.0, 20) == 40_000  # 0.2 s affordable
    assert evaluation_chars(200_000, 50.0, 20) == 20_000  # never below the minimum
    assert evaluation_chars(5_000, 50.0, 20) == 5_000


class SimulatedTime:
    """A clock the test moves: a step, a validation and a sample each take a fixed simulated time."""

    def __init__(self) -> None:
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now

    def time(self) -> float:
        return 1.7e9 + self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimulatedTime:
    simulated = SimulatedTime()
    monkeypatch.setattr(training, "time", simulated)

    def costing(seconds: float, original):  # type: ignore[no-untyped-def]
        def run(*args, **kwargs):  # type: ignore[no-untyped-def]
            simulated.now += seconds
            return original(*args, **kwargs)
        return run

    monkeypatch.setattr(TrainStep, "run", costing(0.05, TrainStep.run))
    monkeypatch.setattr(training.Trainer, "evaluate", costing(0.4, training.Trainer.evaluate))
    monkeypatch.setattr(training.Trainer, "_sample", costing(0.1, training.Trainer._sample))
    return simulated


@pytest.mark.parametrize("budget", [30.0, 120.0])
def test_a_budgeted_run_ends_at_its_budget_with_its_schedule(clock: SimulatedTime, tmp_path: Path,
                                                            budget: float) -> None:
    corpus = open_corpus(str(write_text(tmp_path / "text.txt", 30_000)), tmp_path / "data")
    config = with_overrides(tiny_config(corpus.source), {"time_budget": budget, "schedule": "cosine",
                                                         "max_steps": 0, "log_every": 10, "lr": 0.01})
    run = RunDir.create(tmp_path / "run", config, corpus.vocab, {})
    trainer = training.Trainer(config, corpus, run)
    events: list[object] = []
    trainer.subscribe(events.append)
    started = clock.now
    result = trainer.run()
    assert isinstance(result, Finished) and result.reason == "completed"
    assert budget * 0.97 <= clock.now - started <= budget * 1.01
    metrics = [e for e in events if isinstance(e, StepMetrics)]
    assert metrics[0].eta_s == pytest.approx(budget - (metrics[0].elapsed_s or 0), abs=1.0)  # right from the start
    assert metrics[-1].step == metrics[-1].total_steps == result.step
    assert metrics[-1].lr == pytest.approx(0.001, rel=0.1)  # the cosine schedule reached its end at the budget
    assert EVALUATIONS - 1 <= sum(isinstance(e, Evaluated) for e in events) <= EVALUATIONS + 2
    assert EVALUATIONS - 1 <= sum(isinstance(e, Sampled) for e in events) <= EVALUATIONS + 2
    planned = RunDir.open(run.path).info["planned"]
    assert planned["total_steps"] == result.step and planned["budget_s"] == budget


def test_a_resumed_budgeted_run_keeps_its_plan(clock: SimulatedTime, tmp_path: Path) -> None:
    corpus = open_corpus(str(write_text(tmp_path / "text.txt", 30_000)), tmp_path / "data")
    config = with_overrides(tiny_config(corpus.source), {"time_budget": 30.0, "max_steps": 0})
    run = RunDir.create(tmp_path / "run", config, corpus.vocab, {})
    first = training.Trainer(config, corpus, run)
    first.subscribe(lambda event: first.control.stop() if isinstance(event, Evaluated) and event.step > 50 else None)
    stopped = first.run()
    assert isinstance(stopped, Finished) and stopped.reason == "stopped"
    planned = RunDir.open(run.path).info["planned"]
    resumed = training.Trainer(config, corpus, RunDir.open(run.path), resume=True).run()
    assert isinstance(resumed, Finished) and resumed.reason == "completed"
    assert resumed.step == planned["total_steps"]


def test_a_pause_spends_none_of_the_budget(clock: SimulatedTime, tmp_path: Path) -> None:
    import threading

    corpus = open_corpus(str(write_text(tmp_path / "text.txt", 30_000)), tmp_path / "data")
    config = with_overrides(tiny_config(corpus.source), {"time_budget": 30.0, "max_steps": 0})
    trainer = training.Trainer(config, corpus, RunDir.create(tmp_path / "run", config, corpus.vocab, {}))
    paused = threading.Event()

    def pause_once(event: object) -> None:
        if isinstance(event, Evaluated) and event.step > 40 and not paused.is_set():
            paused.set()
            trainer.control.pause()

            def away() -> None:  # ten minutes pass while the run waits
                clock.now += 600
                trainer.control.resume()
            threading.Timer(0.2, away).start()

    trainer.subscribe(pause_once)
    started = clock.now
    result = trainer.run()
    assert paused.is_set() and isinstance(result, Finished) and result.reason == "completed"
    assert 630 * 0.97 <= clock.now - started <= 630 * 1.01  # 30 s of training around a 600 s pause


def test_a_resume_with_another_budget_carries_what_was_spent(clock: SimulatedTime, tmp_path: Path) -> None:
    corpus = open_corpus(str(write_text(tmp_path / "text.txt", 30_000)), tmp_path / "data")
    config = with_overrides(tiny_config(corpus.source), {"time_budget": 30.0, "max_steps": 0})
    run = RunDir.create(tmp_path / "run", config, corpus.vocab, {})
    first = training.Trainer(config, corpus, run)
    first.subscribe(lambda event: first.control.stop() if isinstance(event, Evaluated) and event.step > 50 else None)
    started = clock.now
    assert first.run().reason == "stopped"  # type: ignore[union-attr]
    spent = RunDir.open(run.path).info["planned"]["spent_s"]
    longer = with_overrides(config, {"time_budget": 60.0})
    resumed = training.Trainer(longer, corpus, RunDir.open(run.path), resume=True).run()
    assert isinstance(resumed, Finished) and resumed.reason == "completed"
    assert 0 < spent < 30
    assert 60 * 0.97 <= clock.now - started <= 60 * 1.02  # both attempts together: the new budget
    assert RunDir.open(run.path).info["planned"]["budget_s"] == 60.0


def test_a_damaged_plan_in_run_json_is_one_line(clock: SimulatedTime, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    corpus_file = write_text(tmp_path / "text.txt", 30_000)
    corpus = open_corpus(str(corpus_file), tmp_path / "data")
    config = with_overrides(tiny_config(corpus.source), {"time_budget": 30.0, "max_steps": 0})
    run = RunDir.create(tmp_path / "run", config, corpus.vocab, {})
    trainer = training.Trainer(config, corpus, run)
    trainer.subscribe(lambda event: trainer.control.stop() if isinstance(event, Evaluated) and event.step > 50
                      else None)
    trainer.run()
    RunDir.open(run.path).update_info(planned={"total_steps": "many"})
    assert main(["--data-dir", str(tmp_path / "data"), "train", "--resume", str(run.path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "".join(err) and "run.json's time-budget plan is damaged" in err[-1]


def test_the_shown_speed_leaves_out_the_warm_up_and_averages_recent_training() -> None:
    from tuirnn.throughput import SPEED_WINDOW_S, Progress

    progress, now = Progress(0.0), 0.0

    def interval(steps: int, seconds: float, excluded: float = 0.0) -> float:
        nonlocal now
        progress.steps, progress.excluded_s = steps, excluded
        now += seconds + excluded
        rate = progress.rate(now)
        progress.reset(now)
        return rate

    assert interval(1, 2.0) == 2.0  # only the first step so far: it is all there is
    assert interval(10, 0.1) == pytest.approx(0.01)  # the slow first step (warm-up) no longer counts
    assert interval(10, 0.3, excluded=5.0) == pytest.approx(0.02)  # a validation's 5 s are not training
    for _ in range(int(SPEED_WINDOW_S) + 2):
        interval(100, 1.0)  # 10 ms a step for longer than the window
    assert progress.seconds_per_step == pytest.approx(0.01)  # the older, slower intervals have left it

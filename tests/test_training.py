"""The Trainer: events, control from another thread, NaN handling, broken subscribers and exact resume."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as real_F
from helpers import tiny_config, tiny_flags, write_text

from tuirnn import train_step
from tuirnn.catalog import open_corpus
from tuirnn.checkpoint import load_checkpoint
from tuirnn.cli import main
from tuirnn.config import ConfigError, RunConfig, TrainConfig, with_overrides
from tuirnn.corpus import Corpus
from tuirnn.events import (
    CheckpointSaved,
    Evaluated,
    Event,
    Failed,
    Finished,
    Paused,
    Resumed,
    Sampled,
    Started,
    StepMetrics,
    TrainingControl,
)
from tuirnn.optimization import lr_factor
from tuirnn.runs import RunDir, RunInUse, delete_run
from tuirnn.training import Trainer


@pytest.fixture
def words(tmp_path: Path) -> Path:
    return write_text(tmp_path / "words.txt", 1200)


@pytest.fixture
def corpus(words: Path, tmp_path: Path) -> Corpus:
    return open_corpus(str(words), tmp_path / "data")


def _trainer(tmp_path: Path, config: RunConfig, corpus: Corpus, name: str = "run") -> tuple[Trainer, list[Event]]:
    run = RunDir.create(tmp_path / name, config, corpus.vocab, {"corpus": corpus.name})
    trainer = Trainer(config, corpus, run)
    events: list[Event] = []
    trainer.subscribe(events.append)
    return trainer, events


def test_events_of_a_complete_run(tmp_path: Path, corpus: Corpus) -> None:
    config = tiny_config(corpus.source, max_steps=9, log_every=2, eval_every=4, sample_every=4, sample_length=15)
    trainer, events = _trainer(tmp_path, config, corpus)
    result = trainer.run()
    assert isinstance(result, Finished) and result.reason == "completed" and result.step == 9
    assert isinstance(events[0], Started) and events[0].start_step == 0 and events[0].total_steps == 9
    assert events[-1] == result
    assert [e.step for e in events if isinstance(e, StepMetrics)] == [1, 2, 4, 5, 6, 8, 9]  # 1 and 5: early
    assert [e.step for e in events if isinstance(e, Evaluated)] == [4, 8, 9]
    assert [e.step for e in events if isinstance(e, Sampled)] == [4, 8, 9]
    assert all(len(e.text) == 15 for e in events if isinstance(e, Sampled))
    saved = [(e.step, e.kind) for e in events if isinstance(e, CheckpointSaved)]
    assert (9, "latest") in saved and (4, "best") in saved and saved.count((4, "latest")) == 1
    run = RunDir.open(trainer.run_dir.path)
    assert [r["step"] for r in run.samples()] == [4, 8, 9]
    assert run.info["status"] == "completed" and run.info["best_val_loss"] == result.best_val_loss
    assert load_checkpoint(run.latest_path).step == 9


def test_training_without_a_run_directory_writes_nothing(tmp_path: Path, corpus: Corpus) -> None:
    before = sorted(tmp_path.rglob("*"))
    result = Trainer(tiny_config(corpus.source, max_steps=3), corpus).run()
    assert isinstance(result, Finished) and result.step == 3 and result.val_loss is not None
    assert sorted(tmp_path.rglob("*")) == before


def test_invalid_settings_are_refused_up_front(corpus: Corpus) -> None:
    with pytest.raises(ConfigError, match="hidden_size"):
        Trainer(tiny_config(corpus.source, hidden_size=0), corpus)
    with pytest.raises(ConfigError, match="run directory"):
        Trainer(tiny_config(corpus.source), corpus, resume=True)


def test_too_short_corpus_fails_as_an_event(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_text("just a little text, not enough for one batch of sixteen characters by eight rows", "utf-8")
    corpus = open_corpus(str(path), tmp_path / "data")
    result = Trainer(tiny_config(path), corpus).run()
    assert isinstance(result, Failed) and result.kind == "error" and "too short" in result.message


def test_lr_schedules() -> None:
    train = TrainConfig(schedule="cosine", warmup_steps=10, lr=1.0)
    assert lr_factor(train, 0, 110) == pytest.approx(0.1)
    assert lr_factor(train, 9, 110) == pytest.approx(1.0)
    assert lr_factor(train, 10, 110) == pytest.approx(1.0)
    assert lr_factor(train, 60, 110) == pytest.approx(0.55)
    assert lr_factor(train, 110, 110) == pytest.approx(0.1)
    linear = TrainConfig(schedule="linear")
    assert [lr_factor(linear, s, 10) for s in (0, 5, 10)] == pytest.approx([1.0, 0.55, 0.1])
    assert lr_factor(TrainConfig(schedule="constant", warmup_steps=5), 0, 10) == 1.0


def test_pause_save_resume_stop_from_another_thread(tmp_path: Path, corpus: Corpus) -> None:
    config = tiny_config(corpus.source, max_steps=1_000_000, log_every=1)
    trainer, events = _trainer(tmp_path, config, corpus)
    seen = {kind: threading.Event() for kind in ("step3", "paused", "saved", "moved")}
    marks: dict[str, int] = {}

    def watch(event: Event) -> None:
        if isinstance(event, StepMetrics) and event.step >= 3:
            seen["step3"].set()
        if isinstance(event, StepMetrics) and "resumed_at" in marks and event.step > marks["resumed_at"]:
            seen["moved"].set()
        if isinstance(event, Paused):
            seen["paused"].set()
        if isinstance(event, CheckpointSaved) and event.kind == "latest":
            seen["saved"].set()

    trainer.subscribe(watch)
    results: list[Finished | Failed] = []
    thread = threading.Thread(target=lambda: results.append(trainer.run()), daemon=True)
    thread.start()
    try:
        assert seen["step3"].wait(60)
        trainer.control.pause()
        assert seen["paused"].wait(60)
        paused_at = trainer.step
        assert [e for e in events if isinstance(e, Paused)] == [Paused(paused_at)]

        trainer.control.request_save()  # "save now" while paused saves and stays paused
        assert seen["saved"].wait(60)
        assert load_checkpoint(trainer.run_dir.latest_path).step == paused_at
        time.sleep(0.2)
        assert trainer.step == paused_at
        assert not any(isinstance(e, Resumed) for e in events)

        marks["resumed_at"] = paused_at
        trainer.control.resume()
        assert seen["moved"].wait(60)
        trainer.control.stop()
        thread.join(60)
    finally:
        trainer.control.stop()
        thread.join(60)
    [result] = results
    assert isinstance(result, Finished) and result.reason == "stopped"
    assert result.step == trainer.step > paused_at
    assert Resumed(paused_at) in events
    assert events[-1] == result
    run = RunDir.open(trainer.run_dir.path)
    assert load_checkpoint(run.latest_path).step == result.step
    assert run.info["status"] == "stopped" and run.info["step"] == result.step


class _PoisonedLoss:
    """Stands in for torch.nn.functional in the training step: losses turn NaN from call `nan_from`,
    and `hooks` run at given calls (to request a save at an exact step)."""

    def __init__(self, nan_from: int, hooks: dict[int, Any] | None = None):
        self.nan_from = nan_from
        self.hooks = hooks or {}
        self.calls = 0

    def cross_entropy(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        loss = real_F.cross_entropy(*args, **kwargs)
        if "reduction" in kwargs:  # evaluation
            return loss
        self.calls += 1
        if self.calls in self.hooks:
            self.hooks[self.calls]()
        return loss * float("nan") if self.calls >= self.nan_from else loss


def test_nan_loss_fails_and_keeps_the_good_checkpoint(tmp_path: Path, corpus: Corpus,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train_step, "F", _PoisonedLoss(nan_from=8))
    config = tiny_config(corpus.source, max_steps=20, eval_every=3)
    trainer, events = _trainer(tmp_path, config, corpus)
    result = trainer.run()
    assert isinstance(result, Failed) and result.kind == "nan" and result.step == 8
    assert "last good checkpoint is kept" in result.message
    assert events[-1] == result
    run = RunDir.open(trainer.run_dir.path)
    for path, step in ((run.latest_path, 6), (run.best_path, None)):
        checkpoint = load_checkpoint(path)
        assert step is None or checkpoint.step == step
        assert all(torch.isfinite(t).all() for t in checkpoint.model.values())
    assert run.info["status"] == "failed" and "NaN" not in str(run.info.get("best_val_loss"))
    losses = [r["loss"] for r in run.metrics() if "loss" in r]
    assert len(losses) == 7 and all(math.isfinite(x) for x in losses)


def test_nan_between_reports_never_overwrites_the_good_checkpoint(tmp_path: Path, corpus: Corpus,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The loss is read every log_every steps; a save asked for in between must not store NaN weights."""
    control = TrainingControl()
    monkeypatch.setattr(train_step, "F", _PoisonedLoss(nan_from=6, hooks={2: control.request_save,
                                                                         8: control.request_save}))
    config = tiny_config(corpus.source, max_steps=20, log_every=10)  # read at steps 1, 2, 5 (early), then 10
    run = RunDir.create(tmp_path / "run", config, corpus.vocab, {})
    result = Trainer(config, corpus, run, control=control).run()
    assert isinstance(result, Failed) and result.kind == "nan" and result.step == 8
    checkpoint = load_checkpoint(run.latest_path)
    assert checkpoint.step == 2
    assert all(torch.isfinite(t).all() for t in checkpoint.model.values())


def test_cli_reports_nan_in_one_line(tmp_path: Path, words: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(train_step, "F", _PoisonedLoss(nan_from=3))
    rc = main(["train", "--corpus", str(words), *tiny_flags(), "--out", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert rc == 1
    [line] = [line for line in captured.err.splitlines() if line.strip()]
    assert line.startswith("tuirnn: training failed at step 3: loss became nan")


def test_a_failing_subscriber_does_not_stop_training(tmp_path: Path, corpus: Corpus) -> None:
    config = tiny_config(corpus.source, max_steps=5, eval_every=2, sample_every=2)
    run = RunDir.create(tmp_path / "run", config, corpus.vocab, {})
    trainer = Trainer(config, corpus, run)
    calls: list[Event] = []

    def broken(event: Event) -> None:
        calls.append(event)
        raise RuntimeError("display went away")

    events: list[Event] = []
    trainer.subscribe(broken)
    trainer.subscribe(events.append)
    result = trainer.run()
    assert isinstance(result, Finished) and result.reason == "completed" and result.step == 5
    assert calls == events and [e.step for e in events if isinstance(e, StepMetrics)] == [1, 2, 3, 4, 5]
    logged = (run.path / "errors.log").read_text(encoding="utf-8")  # written down once, not swallowed
    assert logged.count("failed (the work goes on") == 1 and "RuntimeError: display went away" in logged


def test_resume_needs_the_same_vocabulary(tmp_path: Path, corpus: Corpus) -> None:
    config = tiny_config(corpus.source, max_steps=3)
    trainer, _ = _trainer(tmp_path, config, corpus)
    trainer.run()
    other_text = tmp_path / "other.txt"
    other_text.write_text("XYZ xyz 0123456789 " * 100, encoding="utf-8")
    other = open_corpus(str(other_text), tmp_path / "data")
    result = Trainer(config, other, RunDir.open(trainer.run_dir.path), resume=True).run()
    assert isinstance(result, Failed) and "differ from the run's vocabulary" in result.message


def test_a_run_being_trained_elsewhere_is_refused_and_left_alone(tmp_path: Path, corpus: Corpus) -> None:
    config = tiny_config(corpus.source, max_steps=3)
    trainer, _ = _trainer(tmp_path, config, corpus)
    trainer.run()
    run = RunDir.open(trainer.run_dir.path)
    before = {p.name: p.read_bytes() for p in run.path.iterdir()}
    with run.training_lock():  # as if another process were training it
        result = Trainer(config, corpus, RunDir.open(run.path), resume=True).run()
        with pytest.raises(RunInUse):
            delete_run(run.path, run.path.parent)
    assert isinstance(result, Failed) and "being trained by another process" in result.message
    assert {p.name: p.read_bytes() for p in run.path.iterdir()} == before
    resumed = Trainer(with_overrides(config, {"max_steps": 5}), corpus, RunDir.open(run.path), resume=True).run()
    assert isinstance(resumed, Finished) and resumed.step == 5  # the lock is gone with its holder


def test_resume_needs_the_same_text(tmp_path: Path, corpus: Corpus) -> None:
    config = tiny_config(corpus.source, max_steps=3)
    trainer, _ = _trainer(tmp_path, config, corpus)
    trainer.run()
    run = RunDir.open(trainer.run_dir.path)
    run.update_info(corpus_sha256=corpus.sha256)
    shuffled = tmp_path / "shuffled.txt"
    text = corpus.vocab.decode(corpus.ids.tolist())
    shuffled.write_text(text[len(text) // 2:] + text[: len(text) // 2], encoding="utf-8")
    other = open_corpus(str(shuffled), tmp_path / "data")
    assert other.vocab == corpus.vocab
    result = Trainer(config, other, run, resume=True).run()
    assert isinstance(result, Failed) and "differs from the one this run was trained on" in result.message


def _step_losses(run_path: Path) -> list[tuple[int, float, float]]:
    return [(r["step"], r["loss"], r["last_loss"]) for r in RunDir.open(run_path).metrics() if "loss" in r]


def _assert_same_training(uninterrupted: Path, resumed: Path, steps: int) -> None:
    expected, got = _step_losses(uninterrupted), _step_losses(resumed)
    assert [s for s, _, _ in expected] == [s for s, _, _ in got] == list(range(1, steps + 1))
    for (step, loss, last), (_, loss2, last2) in zip(expected, got, strict=True):
        assert loss2 == pytest.approx(loss, rel=1e-6, abs=1e-7), f"step {step}"
        assert last2 == pytest.approx(last, rel=1e-6, abs=1e-7), f"step {step}"
    a, b = load_checkpoint(uninterrupted / "latest.safetensors"), load_checkpoint(resumed / "latest.safetensors")
    assert a.step == b.step == steps
    for name, tensor in a.model.items():
        assert torch.allclose(tensor, b.model[name], rtol=1e-5, atol=1e-6), name
    assert all(torch.allclose(x, y, atol=1e-6) for x, y in zip(a.carried_state, b.carried_state, strict=True))


RESUME_CASES = {
    "lstm-streams-dropout": {"cell": "lstm", "layers": 2, "hidden_size": 24, "dropout": 0.3, "eval_every": 4,
                             "sample_every": 5},
    "gru-windows-all": {"cell": "gru", "layers": 2, "dropout": 0.2, "output_dropout": True, "layout": "windows",
                        "stride": 8, "targets": "all", "eval_every": 5},
    # short windows, so the carried state still shapes the last position's loss
    "rnn-windows-last": {"cell": "rnn", "layers": 1, "dropout": 0.25, "output_dropout": True, "layout": "windows",
                         "seq_len": 4, "stride": 1, "targets": "last", "optimizer": "adamw", "weight_decay": 0.01,
                         "clip_norm": 0.5},
}


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_resume_reproduces_the_uninterrupted_curve(tmp_path: Path, words: Path, case: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    flags = ["--corpus", str(words), *tiny_flags(**RESUME_CASES[case]), "--carry-state"]
    whole, halves = tmp_path / "whole", tmp_path / "halves"
    assert main(["train", *flags, "--max-steps", "12", "--out", str(whole)]) == 0
    assert main(["train", *flags, "--max-steps", "6", "--out", str(halves)]) == 0
    assert load_checkpoint(halves / "latest.safetensors").step == 6
    assert main(["train", "--resume", str(halves), "--max-steps", "12"]) == 0
    capsys.readouterr()
    _assert_same_training(whole, halves, 12)
    assert load_checkpoint(whole / "latest.safetensors").carried_state  # the carried state was part of it


def test_a_resume_that_lengthens_a_decaying_run_says_the_decay_moves(tmp_path: Path, words: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["train", "--corpus", str(words), *tiny_flags(schedule="cosine"), "--max-steps", "4",
                 "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--max-steps", "8"]) == 0
    assert "cosine learning-rate decay now spans the new length" in capsys.readouterr().err
    assert main(["train", "--resume", str(run), "--max-steps", "8"]) == 0  # same length: nothing to say
    assert "decay" not in capsys.readouterr().err


def test_stop_and_resume_reproduce_a_scheduled_run(tmp_path: Path, corpus: Corpus) -> None:
    config = tiny_config(corpus.source, cell="lstm", layers=2, dropout=0.2, schedule="cosine", warmup_steps=3,
                         max_steps=14)
    whole, _ = _trainer(tmp_path, config, corpus, "whole")
    assert isinstance(whole.run(), Finished)

    first, _ = _trainer(tmp_path, config, corpus, "halves")
    first.subscribe(lambda e: first.control.stop() if isinstance(e, StepMetrics) and e.step == 7 else None)
    stopped = first.run()
    assert isinstance(stopped, Finished) and stopped.reason == "stopped" and stopped.step == 7
    second = Trainer(config, corpus, RunDir.open(tmp_path / "halves"), resume=True)
    started: list[Event] = []
    second.subscribe(started.append)
    assert isinstance(second.run(), Finished)
    assert isinstance(started[0], Started) and started[0].start_step == 7
    _assert_same_training(tmp_path / "whole", tmp_path / "halves", 14)


def test_the_validation_watch_notices_overfitting_once_and_runs_out_of_patience() -> None:
    from tuirnn.validation_watch import ValidationWatch

    watch = ValidationWatch(patience=3)
    assert not watch.observe(10, True, 2.0)
    assert not watch.observe(20, True, 1.8)  # a new best: nothing to say
    assert not watch.observe(30, False, 1.9)  # one validation up, training loss up too: not yet
    assert watch.observe(40, False, 1.6)  # two up while training loss fell below its value at the best
    assert not watch.observe(50, False, 1.5)  # said once
    assert watch.out_of_patience and watch.best_step == 20
    assert not ValidationWatch(patience=0).out_of_patience


def test_patience_stops_a_run_that_no_longer_improves_and_keeps_the_best(
        tmp_path: Path, corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted = iter([3.0, 2.5, 2.6, 2.7, 2.8, 2.9, 3.0, 3.1])
    monkeypatch.setattr(Trainer, "evaluate", lambda self, model, batches: next(scripted))
    config = tiny_config(corpus.source, max_steps=40, eval_every=2, patience=3)
    run = RunDir.create(tmp_path / "run", config, corpus.vocab, {})
    events: list[Event] = []
    trainer = Trainer(config, corpus, run)
    trainer.subscribe(events.append)
    result = trainer.run()
    assert isinstance(result, Finished) and result.reason == "early-stopped" and result.step == 10
    assert [e.step for e in events if isinstance(e, Evaluated)] == [2, 4, 6, 8, 10]  # no extra final one
    assert load_checkpoint(run.best_path).step == 4 and load_checkpoint(run.latest_path).step == 10
    assert RunDir.open(run.path).info["status"] == "early-stopped"


def test_the_cli_says_when_a_run_overfits(capsys: pytest.CaptureFixture[str]) -> None:
    from tuirnn.console import PlainReporter
    from tuirnn.events import Overfitting

    PlainReporter()(Overfitting(step=800, val_loss=1.52, best_val_loss=1.41, best_step=400, train_loss=1.1,
                                train_loss_at_best=1.3))
    out = capsys.readouterr().out
    assert out.startswith("warning: overfitting: at step 800 validation loss is 1.5200, up from its best 1.4100")
    assert "training loss fell from 1.3000 to 1.1000" in out


def test_the_trainer_says_once_when_validation_rises_while_training_loss_falls(
        tmp_path: Path, corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuirnn.events import Overfitting

    scripted = iter([3.0, 3.1, 3.2, 3.3, 3.4, 3.5, 3.6, 3.7, 3.8, 3.9, 4.0])
    monkeypatch.setattr(Trainer, "evaluate", lambda self, model, batches: next(scripted))
    config = tiny_config(corpus.source, max_steps=40, eval_every=4, log_every=2, lr=0.01)
    trainer = Trainer(config, corpus, RunDir.create(tmp_path / "run", config, corpus.vocab, {}))
    events: list[Event] = []
    trainer.subscribe(events.append)
    assert isinstance(trainer.run(), Finished)
    [said] = [e for e in events if isinstance(e, Overfitting)]
    assert said.best_step == 4 and said.step >= 12 and said.train_loss < said.train_loss_at_best
    assert said.val_loss > said.best_val_loss


def test_patience_counts_on_after_a_resume(tmp_path: Path, corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    scripted = iter([3.0, 2.5, 2.6, 2.7, 2.8, 2.9, 3.0])
    monkeypatch.setattr(Trainer, "evaluate", lambda self, model, batches: next(scripted))
    config = tiny_config(corpus.source, max_steps=40, eval_every=2, patience=3)
    run = RunDir.create(tmp_path / "run", config, corpus.vocab, {})
    first = Trainer(config, corpus, run)
    first.subscribe(lambda event: first.control.stop() if isinstance(event, Evaluated) and event.step == 8 else None)
    assert first.run().reason == "stopped"  # type: ignore[union-attr]
    resumed = Trainer(config, corpus, RunDir.open(run.path), resume=True).run()  # two without a best so far
    assert isinstance(resumed, Finished) and resumed.reason == "early-stopped" and resumed.step == 10

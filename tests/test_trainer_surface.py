"""The Trainer's surface for a UI: a prepare step that sets the device and the model, and generators over a
copy of the live weights, safe to use on another thread while training goes on."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from helpers import tiny_config, write_text

from tuirnn.catalog import open_corpus
from tuirnn.events import Event, StepMetrics, TrainingControl
from tuirnn.generation_record import WeightsOrigin
from tuirnn.runs import RunDir
from tuirnn.sampling_settings import SamplingSettings
from tuirnn.training import Trainer


@pytest.fixture
def trainer(tmp_path: Path) -> Trainer:
    corpus = open_corpus(str(write_text(tmp_path / "words.txt", 1200)), tmp_path / "data")
    config = tiny_config(corpus.source, max_steps=1_000_000, log_every=5)
    run = RunDir.create(tmp_path / "run", config, corpus.vocab, {"corpus": corpus.name})
    return Trainer(config, corpus, run, control=TrainingControl())


def test_prepare_builds_the_seeded_model_once(trainer: Trainer) -> None:
    with pytest.raises(RuntimeError, match="before prepare"):
        _ = trainer.device
    assert trainer.live_generator() is None  # no weights yet
    model = trainer.prepare()
    assert trainer.device == torch.device("cpu")
    assert trainer.prepare() is model
    torch.manual_seed(trainer.config.train.seed)
    again = type(model)(trainer.config.model, len(trainer.corpus.vocab))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values(),
                                                 strict=True))


def test_live_generator_copies_the_weights_while_training_goes_on(trainer: Trainer) -> None:
    logged = threading.Event()

    def on_event(event: Event) -> None:
        if isinstance(event, StepMetrics) and event.step >= 10:
            logged.set()

    trainer.subscribe(on_event)
    worker = threading.Thread(target=trainer.run)
    worker.start()
    try:
        assert logged.wait(60)
        generator = trainer.live_generator()
        assert generator is not None
        origin = generator.origin
        assert origin is not None and origin.checkpoint == "live weights" and origin.step >= 10
        assert trainer.run_dir is not None
        assert origin == WeightsOrigin(str(trainer.run_dir.path), "live weights", origin.step)
        copied = {name: value.clone() for name, value in generator.model.state_dict().items()}
        text = generator.generate("the ", SamplingSettings(length=20, seed=3), drop_unknown=True)
        assert len(text) == 20
        logged.clear()
        assert logged.wait(60)  # training went on: the live weights moved, the copy did not
    finally:
        trainer.control.stop()
        worker.join(60)
    assert generator.model is not trainer.prepare()
    assert all(torch.equal(copied[name], value) for name, value in generator.model.state_dict().items())
    assert any(not torch.equal(copied[name], value) for name, value in trainer.prepare().state_dict().items())

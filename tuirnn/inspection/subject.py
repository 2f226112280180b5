"""The model being explored: a run's best weights (its latest where it has not validated yet), loaded through
the checkpoint module's checked loader, as generation loads them."""

from __future__ import annotations

from dataclasses import dataclass

from tuirnn.corpus import Vocabulary
from tuirnn.models import CharRNN
from tuirnn.runs import RunDir
from tuirnn.sampling import Generator, generator_for_run


@dataclass(frozen=True)
class Subject:
    run: RunDir
    generator: Generator
    fell_back: bool
    """The best weights were asked for, but the run has none yet: these are its latest."""

    @property
    def model(self) -> CharRNN:
        return self.generator.model

    @property
    def vocab(self) -> Vocabulary:
        return self.generator.vocab

    @property
    def checkpoint(self) -> str:
        """Which weights, as `best (step 1200)`."""
        origin = self.generator.origin
        assert origin is not None
        return f"{origin.checkpoint.removesuffix('.safetensors')} (step {origin.step})"


def open_subject(run: RunDir, which: str = "best") -> Subject:
    """The run's weights on the CPU, where recording runs (see activations)."""
    generator = generator_for_run(run, which, "cpu")
    generator.model.eval()
    assert generator.origin is not None
    return Subject(run, generator, which == "best" and generator.origin.checkpoint != run.best_path.name)

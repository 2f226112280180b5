"""Streaming generation: the hidden state is carried, so each new character costs one step of the model.

Sampling draws from a private CPU generator seeded per call: the same model, prompt, settings and seed
give the same text on the same device, and the global RNG (and so a training run) is never disturbed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from tuirnn.checkpoint import (
    CheckpointError,
    intact_step,
    load_checkpoint,
    load_weights,
)
from tuirnn.corpus import Vocabulary
from tuirnn.cpu_step import single_step
from tuirnn.devices import pick_device
from tuirnn.generation_record import WeightsOrigin
from tuirnn.models import CharRNN
from tuirnn.runs import RunDir
from tuirnn.sampling_settings import GeneratedChar, SamplingSettings, new_seed


def _filter(probs: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    if 0 < top_k < probs.numel():
        threshold = torch.topk(probs, top_k).values[-1]
        probs = torch.where(probs >= threshold, probs, torch.zeros_like(probs))
    if top_p < 1.0:
        ordered, order = torch.sort(probs, descending=True)
        cumulative = torch.cumsum(ordered, 0) / ordered.sum()
        keep = cumulative - ordered / ordered.sum() < top_p  # always keeps the most likely one
        probs = torch.zeros_like(probs).scatter(0, order, ordered * keep)
    return probs


def _draw(probs: torch.Tensor, rng: torch.Generator, noise: torch.Tensor) -> int:
    """`torch.multinomial(probs, 1, generator=rng)` without its checks, which cost more than the draw:
    the same exponential noise from the same generator, so the same seed draws the same characters."""
    return int(torch.argmax(torch.div(probs, noise.exponential_(generator=rng), out=noise)))


class Generator:
    """Streams characters from a trained model; `seed` holds the seed of the latest `stream` call."""

    def __init__(self, model: CharRNN, vocab: Vocabulary, device: torch.device | str = "cpu", top_n: int = 5):
        self.model = model
        self.vocab = vocab
        self.device = torch.device(device)
        self.top_n = top_n
        self.seed: int | None = None
        self.dropped: list[str] = []
        self.origin: WeightsOrigin | None = None
        """Which run, checkpoint and step the weights are, for records of what was generated."""

    def prompt_ids(self, prompt: str, drop_unknown: bool = False) -> list[int]:
        self.dropped = self.vocab.unknown(prompt) if drop_unknown else []
        ids = self.vocab.encode(prompt, drop_unknown=drop_unknown)
        if not ids:  # prime with a space (or any character) so the first draw has a distribution
            ids = [self.vocab.chars.index(" ") if " " in self.vocab else 0]
        return ids

    @torch.no_grad()
    def stream(self, prompt: str, settings: SamplingSettings, drop_unknown: bool = False) -> Iterator[GeneratedChar]:
        settings.check()
        ids = self.prompt_ids(prompt, drop_unknown)
        self.seed = None if settings.greedy else (settings.seed if settings.seed is not None else new_seed())
        rng = torch.Generator(device="cpu")
        if self.seed is not None:
            rng.manual_seed(self.seed)
        was_training = self.model.training
        self.model.eval()
        try:
            inputs = torch.tensor([ids], dtype=torch.long, device=self.device)
            logits, state = self.model(inputs, None, last_only=True)
            hidden = list((state[0] if isinstance(state, tuple) else state).unbind(0))
            cells = list(state[1].unbind(0)) if isinstance(state, tuple) else None
            step = single_step(self.model, self.device, hidden, cells)
            logits = logits[0].float().cpu()
            probs = torch.softmax(logits, dim=-1)
            noise = torch.empty_like(probs)
            for _ in range(settings.length):
                if settings.greedy:
                    drawn_from = probs
                    choice = int(torch.argmax(probs))
                else:
                    shaped = (probs if settings.temperature == 1.0
                              else torch.softmax(logits / settings.temperature, dim=-1))
                    drawn_from = _filter(shaped, settings.top_k, settings.top_p)
                    choice = _draw(drawn_from, rng, noise)
                # argmax and the draw take a NaN where multinomial would raise
                probability = float(probs[choice])
                if math.isnan(probability) or (drawn_from is not probs and math.isnan(float(drawn_from[choice]))):
                    raise CheckpointError("the model's outputs are not numbers (NaN or overflowing): "
                                          "its weights are broken")
                logits = step(choice)[0].float().cpu()
                next_probs = torch.softmax(logits, dim=-1)  # once: for the top-n and the next draw
                yield GeneratedChar(self.vocab.chars[choice], probability, self._top(next_probs))
                probs = next_probs
        finally:
            self.model.train(was_training)

    def _top(self, probs: torch.Tensor) -> tuple[tuple[str, float], ...]:
        if not self.top_n:
            return ()
        values, indices = torch.topk(probs, min(self.top_n, probs.numel()))
        return tuple((self.vocab.chars[int(i)], float(v)) for v, i in zip(values, indices, strict=False))

    def generate(self, prompt: str, settings: SamplingSettings, drop_unknown: bool = False) -> str:
        return "".join(c.char for c in self.stream(prompt, settings, drop_unknown))


def generator_for_run(run: RunDir, which: str = "best", device: str = "auto") -> Generator:
    """Load a run's `best` (or `latest`) weights into a model ready to generate; a damaged checkpoint is
    refused, naming the other one when that one is intact."""
    torch_device = pick_device(device)
    path = run.checkpoint_for(which)
    try:
        checkpoint = load_checkpoint(path, torch_device, run.vocab)
    except CheckpointError as exc:
        other, other_path = ("latest", run.latest_path) if path == run.best_path else ("best", run.best_path)
        step = intact_step(other_path, run.vocab) if other_path != path else None
        hint = f"; {other_path.name} (step {step}) is intact: generate from it with --checkpoint {other}"
        raise CheckpointError(f"{exc}{hint if step is not None else ''}") from None
    model = CharRNN(run.config.model, len(run.vocab)).to(torch_device)
    load_weights(model, checkpoint.model, path)
    generator = Generator(model, run.vocab, torch_device)
    generator.origin = WeightsOrigin(str(run.path), path.name, checkpoint.step)
    return generator

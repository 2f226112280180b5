"""The same prompt and seed drawn at several temperatures, side by side: what the temperature alone changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tuirnn.sampling_settings import SamplingSettings

if TYPE_CHECKING:
    from tuirnn.sampling import Generator

STRIP_TEMPERATURES = (0.2, 0.5, 1.0, 1.2)


@dataclass(frozen=True)
class TemperatureSample:
    temperature: float
    text: str


def temperature_strip(generator: Generator, prompt: str, seed: int, length: int,
                      temperatures: tuple[float, ...] = STRIP_TEMPERATURES) -> list[TemperatureSample]:
    """One text per temperature, each drawn with `seed` after `prompt` (characters the model lacks dropped)."""
    return [TemperatureSample(t, generator.generate(prompt, SamplingSettings(length, t, seed=seed), drop_unknown=True))
            for t in temperatures]

"""What a generation asks for and what it yields: torch-free, so a UI can hold them before torch loads."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

MAX_LENGTH = 10_000_000
"""Characters one generation may ask for: hours of streaming, and still a readable number."""
MIN_TEMPERATURE = 1e-4
"""Below it, dividing a model's logits by the temperature could overflow; it is greedy in all but name."""


@dataclass(frozen=True)
class SamplingSettings:
    length: int = 300
    temperature: float = 1.0
    top_k: int = 0
    """Keep only the k most likely characters; 0 keeps all."""
    top_p: float = 1.0
    """Keep the smallest set of characters whose probability reaches p; 1.0 keeps all."""
    greedy: bool = False
    seed: int | None = None
    """None picks a fresh seed, reported by the generator."""

    def check(self) -> None:
        if not 0 <= self.length <= MAX_LENGTH:
            raise ValueError(f"length must be between 0 and {MAX_LENGTH:,}")
        if not self.greedy and not (math.isfinite(self.temperature) and self.temperature >= MIN_TEMPERATURE):
            raise ValueError(f"temperature must be a number of at least {MIN_TEMPERATURE:g} (or use greedy)")
        if self.top_k < 0:
            raise ValueError("top_k must not be negative (0 keeps all characters)")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError("top_p must be in (0, 1]")
        if self.seed is not None and not 0 <= self.seed < 2**63:
            raise ValueError("seed must be a non-negative integer")


@dataclass(frozen=True)
class GeneratedChar:
    char: str
    probability: float
    """The probability the model gave this character (before temperature and filtering)."""
    top: tuple[tuple[str, float], ...]
    """The most likely next characters after this one, with their probabilities."""


def new_seed() -> int:
    return secrets.randbelow(2**31)

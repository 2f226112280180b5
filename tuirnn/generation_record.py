"""What a saved generation records, so that it can be made again: which weights, and every prompt, setting
and seed, continuations included. Torch-free: the app builds records before and while torch works."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tuirnn.atomic import atomic_write_bytes
from tuirnn.sampling_settings import SamplingSettings

RECORD_SUFFIX = ".json"
"""The record sits beside the text: `story.txt` and `story.txt.json`."""


LIVE_WEIGHTS = "live weights"
"""The checkpoint name of weights copied from a model being trained."""


@dataclass(frozen=True)
class WeightsOrigin:
    """Where the weights came from."""

    run: str
    """The run directory."""
    checkpoint: str
    """The checkpoint's file name, or `live weights` for a copy of a model being trained."""
    step: int


@dataclass(frozen=True)
class Segment:
    """One generation: the text it was primed with, its settings (with the seed actually used) and what it
    drew. A continuation is a later segment whose prompt is all the text before it."""

    prompt: str
    settings: SamplingSettings
    text: str


@dataclass
class GenerationRecord:
    origin: WeightsOrigin
    segments: list[Segment] = field(default_factory=list)
    device: str = "cpu"
    """Where it ran: the same seed gives the same text on the same kind of device."""

    @property
    def text(self) -> str:
        """The whole text: the last segment's prompt (all that came before it) and what it drew."""
        if not self.segments:
            return ""
        last = self.segments[-1]
        return last.prompt + last.text

    def to_dict(self) -> dict[str, Any]:
        return {"format": "tuirnn-generation/1", "origin": asdict(self.origin), "device": self.device,
                "segments": [{"prompt": s.prompt, "settings": asdict(s.settings), "text": s.text}
                             for s in self.segments],
                "reproduce": [reproduce_command(self.origin, s) for s in self.segments]}


def reproduce_command(origin: WeightsOrigin, segment: Segment) -> str | None:
    """The `tuirnn generate` command that draws this segment again from the same checkpoint file; None for
    live weights, which no file holds (the record still names the run and step they were copied at)."""
    if origin.checkpoint == LIVE_WEIGHTS:
        return None
    s = segment.settings
    which = "latest" if origin.checkpoint.startswith("latest") else "best"
    parts = ["tuirnn", "generate", shlex.quote(origin.run), "--checkpoint", which,
             "--prompt", shlex.quote(segment.prompt), "--length", str(s.length)]
    if s.greedy:
        parts.append("--greedy")
    else:
        parts += ["--temperature", repr(s.temperature), "--seed", str(s.seed)]
        if s.top_k:
            parts += ["--top-k", str(s.top_k)]
        if s.top_p < 1.0:
            parts += ["--top-p", repr(s.top_p)]
    return " ".join(parts)


def save_generation(path: Path, record: GenerationRecord) -> Path:
    """Write the text to `path` and its record beside it (both atomically); returns the record's path."""
    path = Path(path)
    atomic_write_bytes(path, record.text.encode("utf-8"))
    record_path = path.with_name(path.name + RECORD_SUFFIX)
    atomic_write_bytes(record_path, (json.dumps(record.to_dict(), indent=1, ensure_ascii=False) + "\n").encode())
    return record_path

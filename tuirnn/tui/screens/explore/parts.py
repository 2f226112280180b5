"""The Explore screen's pieces that hold no screen state: what a worker is asked and answers, and the two widgets
the text is drawn in. Kept apart so the screen module holds only the screen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from tuirnn.inspection.palette import DIVERGING, SURPRISAL, Band
from tuirnn.tui.screens.explore.render import Marks

if TYPE_CHECKING:
    from tuirnn.inspection.gates import GateSaturation
    from tuirnn.inspection.recording import Recording
    from tuirnn.inspection.subject import Subject
    from tuirnn.inspection.surprise import Surprise
    from tuirnn.inspection.temperature import TemperatureSample
    from tuirnn.inspection.units import UnitScore


@dataclass(frozen=True)
class Request:
    run_path: Path
    source: str
    offset: int | None
    """Where in the corpus; None: where validation starts."""
    length: int
    text: str
    """The generated or typed text, for those sources."""


@dataclass(frozen=True)
class Explored:
    subject: Subject
    recording: Recording
    surprise: Surprise | None
    gates: list[GateSaturation]
    where: str
    offset: int | None
    corpus_length: int | None
    baselines: dict[int, float] | None
    dropped: tuple[str, ...]


class ExploreDone(Message):
    def __init__(self, request: Request, result: Explored | None, error: str | None = None):
        super().__init__()
        self.request = request
        self.result = result
        self.error = error


class RankDone(Message):
    def __init__(self, key: tuple[object, ...], scores: list[UnitScore], error: str | None = None):
        super().__init__()
        self.key = key
        self.scores = scores
        self.error = error


class StripDone(Message):
    def __init__(self, key: tuple[object, ...], samples: list[TemperatureSample], error: str | None = None):
        super().__init__()
        self.key = key
        self.samples = samples
        self.error = error


class TextView(VerticalScroll, inherit_bindings=False):
    """The text: arrows move the screen's cursor instead of scrolling, and the view follows the cursor."""


class Painted(Static):
    """Draws with the scales' colours, the cursor and a marked span as explore.tcss styles them (the 16-colour
    theme has its own)."""

    COMPONENT_CLASSES = {
        *(f"painted--diverging-{i}" for i in range(len(DIVERGING))),
        *(f"painted--surprisal-{i}" for i in range(len(SURPRISAL))),
        "painted--cursor", "painted--span",
    }

    def marks(self, scale: tuple[Band, ...]) -> Marks:
        name = "diverging" if scale is DIVERGING else "surprisal"
        style = self.get_component_rich_style
        bands = [style(f"painted--{name}-{i}", partial=True) for i in range(len(scale))]
        return Marks(bands, style("painted--cursor", partial=True), style("painted--span", partial=True))

"""Generate's read-outs: the generated text marked by how sure the model was, its legend, and the next
character's top choices.

Only unlikely characters are marked (two levels), so a half-trained model's text stays text rather than a
rainbow; the prompt and the start of each continuation are marked apart from them. The marks are
component classes styled in generate.tcss, where the 16-colour theme gets its own, and the legend is drawn
with the same classes, so it matches the text in every theme.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from tuirnn.sampling_settings import GeneratedChar

UNLIKELY, UNSURE = 0.1, 0.3
"""Probabilities below which a drawn character is marked unlikely, or unsure."""
CONTINUES = "»"
"""Drawn where a continuation (c) starts; not part of the text."""
SHOWN = {" ": "␠", "\n": "⏎", "\t": "⇥"}
"""How the top choices show characters that would otherwise be invisible."""
EIGHTHS = " ▏▎▍▌▋▊▉"


class Shaded(Widget):
    """A widget that draws with the generated text's marks (styled in generate.tcss)."""

    COMPONENT_CLASSES = {"shaded--prompt", "shaded--unsure", "shaded--unlikely", "shaded--continues"}

    def mark(self, name: str) -> Style:
        """A mark's whole style (a tint is blended over the background here: a partial style would drop its
        transparency)."""
        return self.get_component_rich_style(f"shaded--{name}")

    def mark_of(self, probability: float) -> Style:
        if probability < UNLIKELY:
            return self.mark("unlikely")
        return self.mark("unsure") if probability < UNSURE else Style()


class ShadedText(Shaded):
    """The prompt, then each generation it was continued with (c) and the one being drawn, each character
    marked by its probability; `hint` while there is nothing."""

    DEFAULT_CSS = """
    ShadedText {
        height: auto;
    }
    """

    def __init__(self, hint: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.hint = hint
        self.prompt = ""
        self.parts: Sequence[Sequence[GeneratedChar]] = ()

    def show(self, prompt: str, parts: Sequence[Sequence[GeneratedChar]]) -> None:
        self.prompt, self.parts = prompt, parts
        self.refresh(layout=True)

    def render(self) -> Text:
        if not self.prompt and not any(self.parts):
            return Text(self.hint, style="dim")
        text = Text().append(self.prompt, style=self.mark("prompt"))
        for number, part in enumerate(self.parts):
            if number:
                text.append(CONTINUES, style=self.mark("continues"))
            run, run_style = "", Style()
            for char in part:  # characters with the same mark become one span
                style = self.mark_of(char.probability)
                if style != run_style:
                    text.append(run, style=run_style)
                    run, run_style = "", style
                run += char.char
            text.append(run, style=run_style)
        return text


class ShadeLegend(Shaded):
    """What the marks in the text mean, drawn with the very same styles."""

    DEFAULT_CSS = """
    ShadeLegend {
        height: auto;
    }
    """

    def render(self) -> Text:
        text = Text()
        text.append("prompt", style=self.mark("prompt")).append("\n")
        text.append(f"p<{UNLIKELY:g}", style=self.mark("unlikely")).append(" unlikely\n")
        text.append(f"p<{UNSURE:g}", style=self.mark("unsure")).append(" unsure\n")
        return text.append(CONTINUES, style=self.mark("continues")).append(" continued")


def bar(fraction: float, width: int) -> str:
    """A bar `fraction` of `width` cells long, to an eighth of a cell; nothing for zero."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[rest] if rest else "")


class TopChoices(Widget):
    """The most likely next characters after the last one drawn: the character, its probability and a bar.

    Laid out for the width the widget has, so the character never gives way to the bar, and a probability
    shown as 0.00 draws no bar.
    """

    DEFAULT_CSS = """
    TopChoices {
        height: auto;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.choices: Sequence[tuple[str, float]] = ()

    def show(self, choices: Sequence[tuple[str, float]]) -> None:
        self.choices = choices
        self.refresh(layout=True)

    def render(self) -> Text:
        text = Text("next char", style="bold", no_wrap=True, overflow="crop")
        width = max(1, self.size.width - 8)
        for char, probability in self.choices:
            label = SHOWN.get(char, char if char.isprintable() else "?")
            shown = round(probability, 2)
            text.append("\n").append(label + " " * max(1, 3 - cell_len(label)), style="bold")
            text.append(f"{shown:.2f} ").append(bar(shown, width))
        return text

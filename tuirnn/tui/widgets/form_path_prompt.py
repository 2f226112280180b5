"""A small modal asking for a file path: Enter accepts, Escape cancels (dismisses with None)."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label


class PathPrompt(ModalScreen[Path | None]):
    DEFAULT_CSS = """
    PathPrompt {
        align: center middle;
        & > #path-dialog {
            width: 70;
            max-width: 100%;
            height: auto;
            border: round $accent;
            background: $surface;
            padding: 0 1;
        }
        & #path-hint { color: $text-muted; }
    }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, default: str) -> None:
        super().__init__()
        self.title_text = title
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="path-dialog"):
            yield Label(self.title_text)
            yield Input(self.default, placeholder="path/to/file.toml", id="path-input")
            yield Label("Enter to accept, Escape to cancel", id="path-hint")
        yield Footer()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        self.dismiss(Path(text).expanduser() if text else None)

    def action_cancel(self) -> None:
        self.dismiss(None)

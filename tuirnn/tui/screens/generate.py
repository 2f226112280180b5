"""The generate screen (being built)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class GenerateScreen(Screen[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Generate")
        yield Footer()

"""Navigation keys never type into a field: a screen shown again with its focus in a text field moves the
focus to a harmless widget, where digits switch screens and letters run the screen's keys."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Input, TextArea

TYPING = (Input, TextArea)
"""Widgets that take printable keys as text."""


def leave_text_fields(screen: Screen[None], home: str) -> None:
    """Focus `home` (a selector) if the focus is in a text field."""
    if isinstance(screen.focused, TYPING):
        screen.query_one(home).focus()

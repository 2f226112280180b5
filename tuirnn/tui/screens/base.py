"""What every main screen shares: Help and Quit first in its footer, so that at 80 columns, where the
footer has room for a few keys only, a newcomer still sees how to find every key and how to leave."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen


class AppScreen(Screen[None]):
    BINDINGS = [
        Binding("f1,question_mark", "app.help", "Help", id="screen-help"),
        Binding("q", "app.quit_app", "Quit", id="screen-quit"),
    ]

"""Help generated from the key bindings of the screen it was opened over, and the app's own."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

INTRO = (
    "tuirnn trains character-level recurrent language models. Set the model on the Model screen, "
    "start it on the Train screen, play with it on Generate, browse saved runs on Runs, compare many "
    "settings at once on Sweep and look inside a trained network on Explore. "
    "Every action has a key; Ctrl+P opens the command palette."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,question_mark,q", "dismiss", "Close help")]

    def __init__(self, over: Screen[object]):
        super().__init__()
        self.over = over

    def _table(self) -> Table:
        """The screen's bindings, then the app's, one row per action with all of its keys."""
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("key", no_wrap=True)
        table.add_column("action")
        table.add_column("where", no_wrap=True)
        screen_name = type(self.over).__name__.removesuffix("Screen")
        for node, where in ((self.over, screen_name), (self.app, "everywhere")):
            keys_by_action: dict[tuple[str, str], list[str]] = {}
            for binding in Binding.make_bindings(type(node).BINDINGS):  # the node's own, not inherited
                if binding.description:
                    entry = keys_by_action.setdefault((binding.action, binding.description), [])
                    entry.append(self.app.get_key_display(binding))
            for (_, description), keys in keys_by_action.items():
                table.add_row(" / ".join(dict.fromkeys(keys)), description, where)
        return table

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(f"[b]Help: {type(self.over).__name__.removesuffix('Screen')} screen[/b]\n{INTRO}\n")
            yield Static(self._table())
        yield Footer()

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
    "start it on the Train screen, play with it on Generate, and browse saved runs on Runs. "
    "Every action has a key; Ctrl+P opens the command palette."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,question_mark,q", "dismiss", "Close help")]

    def __init__(self, over: Screen):
        super().__init__()
        self.over = over

    def _table(self) -> Table:
        table = Table(box=None, expand=True, show_header=True, header_style="bold")
        table.add_column("key", no_wrap=True)
        table.add_column("action")
        table.add_column("where", no_wrap=True)
        seen: set[tuple[str, str]] = set()
        for key, active in self.over.active_bindings.items():
            binding: Binding = active.binding
            if not binding.description:
                continue
            where = "everywhere" if active.node is self.app else type(self.over).__name__.removesuffix("Screen")
            entry = (binding.description, where)
            if entry in seen:
                continue
            seen.add(entry)
            keys = [self.app.get_key_display(b) for k, b in self._bindings_for(active.node, binding.action)]
            table.add_row(" / ".join(dict.fromkeys(keys)) or key, binding.description, where)
        return table

    @staticmethod
    def _bindings_for(node: object, action: str) -> list[tuple[str, Binding]]:
        found = []
        for key, bindings in node._bindings.key_to_bindings.items():  # type: ignore[attr-defined]
            found.extend((key, b) for b in bindings if b.action == action)
        return found

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(f"[b]Help: {type(self.over).__name__.removesuffix('Screen')} screen[/b]\n{INTRO}\n")
            yield Static(self._table())
        yield Footer()

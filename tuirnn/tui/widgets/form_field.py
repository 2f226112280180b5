"""One row of a settings form: label and widget side by side, the setting's error right under them.

A row per setting keeps a long form usable at 80x24; the error line only takes space while it is shown.
The row itself has a `:focus-within` style: Textual restyles a focus change only below an ancestor that
has one, so without it the label would keep its highlight after focus moved on.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Checkbox, Label


class FormField(Vertical):
    DEFAULT_CSS = """
    FormField {
        height: auto;
        border-left: blank;
        &.-invalid { border-left: thick $error; }
        & > .form-row { height: auto; }
        & .form-label { width: 18; color: $text-muted; }
        &:focus-within { background: $boost; }
        &:focus-within .form-label { color: $accent; text-style: bold; }
        &.-invalid .form-label { color: $text-error; }
        & .form-error { display: none; color: $text-error; }
        &.-invalid .form-error { display: block; }
    }
    """

    def __init__(self, label: str, widget: Widget, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.widget = widget
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="form-row"):
            yield Label(self.label, classes="form-label")
            yield self.widget
        yield Label("", classes="form-error", markup=False)

    def show_error(self, message: str | None) -> None:
        """Flag the row and its widget (the `-invalid` class), with the message under them.

        Unchanged rows are left alone: the whole form is re-checked on every keystroke, and each update
        would lay the form out again."""
        if message == self.error:
            return
        self.error = message
        self.set_class(bool(message), "-invalid")
        self.widget.set_class(bool(message), "-invalid")
        self.query_one(".form-error", Label).update(f"✗ {message}" if message else "")

    def on_click(self, event: events.Click) -> None:
        """A click on the label focuses the widget, as a click on an HTML label would."""
        if event.widget is not None and event.widget.has_class("form-label"):
            self.widget.focus()


class OnOffCheckbox(Checkbox):
    """A compact checkbox that also says `on` or `off`: its mark alone shows the state only by colour."""

    DEFAULT_CSS = """
    OnOffCheckbox { width: auto; }
    """

    def __init__(self, value: bool, *, id: str | None = None) -> None:
        super().__init__("on" if value else "off", value, compact=True, id=id)

    def watch_value(self) -> None:
        super().watch_value()
        self.label = "on" if self.value else "off"

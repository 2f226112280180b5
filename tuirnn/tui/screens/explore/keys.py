"""The Explore screen's keys, in the footer's order; related pairs share a compact group."""

from __future__ import annotations

from textual.binding import Binding, BindingType

VIEW = Binding.Group("View", compact=True)
UNIT = Binding.Group("Unit", compact=True)
LAYER = Binding.Group("Layer", compact=True)
VALUE = Binding.Group("Value", compact=True)
PROBE = Binding.Group("Probe", compact=True)
TEXT = Binding.Group("Text", compact=True)
LENGTH = Binding.Group("Len", compact=True)

BINDINGS: list[BindingType] = [
    Binding("left_square_bracket", "view(-1)", "Previous view", group=VIEW, id="exp-view-previous"),
    Binding("right_square_bracket", "view(1)", "Next view", group=VIEW, id="exp-view-next"),
    Binding("u", "unit(1)", "Next unit", group=UNIT, id="exp-unit-next"),
    Binding("U", "unit(-1)", "Previous unit", group=UNIT, id="exp-unit-previous"),
    Binding("y", "layer(1)", "Next layer", group=LAYER, id="exp-layer-next"),
    Binding("Y", "layer(-1)", "Previous layer", group=LAYER, id="exp-layer-previous"),
    Binding("v", "value(1)", "Next value (h, c, gates)", group=VALUE, id="exp-value-next"),
    Binding("V", "value(-1)", "Previous value", group=VALUE, id="exp-value-previous"),
    Binding("f", "probe(1)", "Next probe", group=PROBE, id="exp-probe-next"),
    Binding("F", "probe(-1)", "Previous probe", group=PROBE, id="exp-probe-previous"),
    Binding("m", "mark", "Mark span (probe)", id="exp-mark"),
    Binding("enter", "jump", "Colour by the ranked unit", id="exp-jump"),
    Binding("e", "source", "Text source", id="exp-source"),
    Binding("pageup", "move_text(-1)", "Earlier corpus text", group=TEXT, id="exp-text-earlier"),
    Binding("pagedown", "move_text(1)", "Later corpus text", group=TEXT, id="exp-text-later"),
    Binding("minus", "length(-1)", "Shorter text", group=LENGTH, id="exp-length-down"),
    Binding("equals_sign", "length(1)", "Longer text", group=LENGTH, id="exp-length-up"),
    Binding("n", "new_seed", "New seed (temperatures)", id="exp-seed"),
    Binding("i", "type_text", "Type a text", id="exp-type"),
    Binding("escape", "leave_text", "Done typing", show=False),
    Binding("left", "cursor(-1)", "Cursor left", show=False, id="exp-cursor-left"),
    Binding("right", "cursor(1)", "Cursor right", show=False, id="exp-cursor-right"),
    Binding("up", "cursor_row(-1)", "Cursor up", show=False, id="exp-cursor-up"),
    Binding("down", "cursor_row(1)", "Cursor down", show=False, id="exp-cursor-down"),
    Binding("home", "cursor_to(0)", "Text start", show=False, id="exp-cursor-home"),
    Binding("end", "cursor_to(-1)", "Text end", show=False, id="exp-cursor-end"),
]

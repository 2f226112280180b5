"""The Explore screen's keys, in the footer's order; related pairs share a compact group."""

from __future__ import annotations

from textual.binding import Binding, BindingType

UNIT = Binding.Group("Unit", compact=True)
LAYER = Binding.Group("Layer", compact=True)
QUANTITY = Binding.Group("Qty", compact=True)
PROBE = Binding.Group("Probe", compact=True)
TEXT = Binding.Group("Text", compact=True)
LENGTH = Binding.Group("Len", compact=True)

BINDINGS: list[BindingType] = [
    Binding("a", "view('activations')", "Activations", id="exp-activations"),
    Binding("s", "view('surprise')", "Surprise", id="exp-surprise"),
    Binding("u", "view('units')", "Units", id="exp-units"),
    Binding("g", "view('gates')", "Gates", id="exp-gates"),
    Binding("t", "view('temperatures')", "Temperatures", id="exp-temperatures"),
    Binding("n", "unit(1)", "Next unit", group=UNIT, id="exp-unit-next"),
    Binding("N", "unit(-1)", "Previous unit", group=UNIT, id="exp-unit-previous"),
    Binding("l", "layer(1)", "Next layer", group=LAYER, id="exp-layer-next"),
    Binding("L", "layer(-1)", "Previous layer", group=LAYER, id="exp-layer-previous"),
    Binding("k", "quantity(1)", "Next quantity (h, c, gates)", group=QUANTITY, id="exp-quantity-next"),
    Binding("K", "quantity(-1)", "Previous quantity", group=QUANTITY, id="exp-quantity-previous"),
    Binding("p", "probe(1)", "Next probe", group=PROBE, id="exp-probe-next"),
    Binding("P", "probe(-1)", "Previous probe", group=PROBE, id="exp-probe-previous"),
    Binding("m", "mark", "Mark span (probe)", id="exp-mark"),
    Binding("enter", "jump", "Colour by the ranked unit", id="exp-jump"),
    Binding("o", "source", "Text source", id="exp-source"),
    Binding("left_square_bracket", "move_text(-1)", "Earlier corpus text", group=TEXT, id="exp-text-earlier"),
    Binding("right_square_bracket", "move_text(1)", "Later corpus text", group=TEXT, id="exp-text-later"),
    Binding("minus", "length(-1)", "Shorter text", group=LENGTH, id="exp-length-down"),
    Binding("equals_sign", "length(1)", "Longer text", group=LENGTH, id="exp-length-up"),
    Binding("e", "new_seed", "New seed (temperatures)", id="exp-seed"),
    Binding("slash", "type_text", "Type a text", id="exp-type"),
    Binding("escape", "leave_text", "Done typing", show=False),
    Binding("left", "cursor(-1)", "Cursor left", show=False, id="exp-cursor-left"),
    Binding("right", "cursor(1)", "Cursor right", show=False, id="exp-cursor-right"),
    Binding("up", "cursor_row(-1)", "Cursor up", show=False, id="exp-cursor-up"),
    Binding("down", "cursor_row(1)", "Cursor down", show=False, id="exp-cursor-down"),
    Binding("home", "cursor_to(0)", "Text start", show=False, id="exp-cursor-home"),
    Binding("end", "cursor_to(-1)", "Text end", show=False, id="exp-cursor-end"),
]

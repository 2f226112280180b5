"""One meaning per key: across every screen and widget of the app, a key runs one action (a modal's own
y/n and the keys that leave or choose aside), and no Ctrl key of a screen is one a text field takes for
itself, where it would be lost while the field has the focus."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
from collections import defaultdict
from pathlib import Path

from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Input
from textual.widgets._footer import FooterKey
from tui_helpers import make_app

import tuirnn.tui

CONTEXT_KEYS = {"escape", "enter"}
"""Leaving a field or a detail, and choosing the highlighted row: what they act on is the place itself."""


def _app_classes() -> list[type[DOMNode]]:
    for module in pkgutil.walk_packages(tuirnn.tui.__path__, "tuirnn.tui."):
        importlib.import_module(module.name)
    found: dict[str, type[DOMNode]] = {}
    for name, module in list(__import__("sys").modules.items()):
        if not name.startswith("tuirnn.tui"):
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, DOMNode) and cls.__module__.startswith("tuirnn.tui"):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(found.values())


def _bindings() -> list[tuple[str, Binding]]:
    """(class name, binding) for every binding of the app's screens and widgets, modals aside."""
    return [(cls.__name__, binding) for cls in _app_classes() if not issubclass(cls, ModalScreen)
            for binding in Binding.make_bindings(cls.__dict__.get("BINDINGS", []))]


def _meanings() -> dict[str, dict[str, list[str]]]:
    """key -> action name (without arguments or namespace) -> the classes that bind it."""
    meanings: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for owner, binding in _bindings():
        action = binding.action.split("(")[0].removeprefix("app.").removeprefix("screen.")
        meanings[binding.key][action].append(owner)
    return meanings


def test_every_key_means_one_thing_across_the_app() -> None:
    meanings = _meanings()
    assert {"s", "x", "r", "g", "ctrl+s"} <= meanings.keys()  # the scan found the screens' bindings
    clashes = {key: dict(actions) for key, actions in meanings.items()
               if key not in CONTEXT_KEYS and len(actions) > 1}
    assert clashes == {}


def test_shared_verbs_keep_their_key_on_every_screen_that_has_them() -> None:
    meanings = _meanings()
    assert set(meanings["r"]["resume"]) >= {"TrainScreen", "RunsScreen", "SweepScreen"}
    assert set(meanings["x"]["stop"]) >= {"TrainScreen", "SweepScreen"}
    assert set(meanings["ctrl+s"]["save"]) >= {"TrainScreen", "ModelScreen", "GenerateScreen", "SweepScreen"}
    assert set(meanings["g"]["generate"]) >= {"GenerateScreen", "RunsScreen", "TrialTable"}
    assert set(meanings["ctrl+t"]["start"]) >= {"ModelScreen", "SweepScreen"}


def test_no_screen_ctrl_key_is_taken_by_a_text_field() -> None:
    field_keys = {key for binding in Binding.make_bindings(Input.BINDINGS) for key in binding.key.split(",")}
    ours = {binding.key for _, binding in _bindings() if binding.key.startswith("ctrl+") and not binding.priority}
    assert ours and not ours & field_keys


def test_every_screen_footer_starts_with_help_and_quit_at_80_columns(tmp_path: Path) -> None:
    """Where the footer has room for a few keys only, a newcomer still sees how to find the rest and leave."""
    app = make_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            for key in ("f2", "f3", "f4", "f5", "f6", "f7"):
                await pilot.press(key)
                await pilot.pause()
                shown = [footer_key.description for footer_key in app.screen.query(FooterKey)]
                assert "Help" in shown[:3] and "Quit" in shown[:3], (app.current_mode, shown)

    asyncio.run(scenario())

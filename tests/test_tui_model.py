"""The Model & hyperparameters screen, driven by keys: live checks, presets, TOML files, downloads."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import http.server
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Label, ProgressBar, Select, Static
from tui_helpers import make_app, wait_for

from tuirnn import catalog
from tuirnn.config import RunConfig, load_toml
from tuirnn.sizing import parameter_count
from tuirnn.tui.app import TuirnnApp
from tuirnn.tui.screens.model import ModelScreen
from tuirnn.tui.screens.train import TrainScreen
from tuirnn.tui.widgets.form_field import FormField

SIZE = (80, 24)
OFFLINE_TEXT = "The quick brown fox jumps over the lazy dog.\nPack my box with five dozen liquor jugs!\n" * 50
"""Stands in for Python's docs, so that sizes and snapshots do not depend on the Python version."""


@pytest.fixture(autouse=True)
def fixed_offline_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "offline_text", lambda: OFFLINE_TEXT)
    monkeypatch.setenv("COLORTERM", "truecolor")  # the app picks its theme from the terminal


def run(app: TuirnnApp, scenario: Callable[[Pilot, ModelScreen], Awaitable[None]]) -> None:
    """Open the app at 80x24, press 2, wait for the vocabulary, then play `scenario`."""

    async def main() -> None:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            screen = await open_model(pilot)
            await scenario(pilot, screen)

    asyncio.run(main())


async def open_model(pilot: Pilot) -> ModelScreen:
    await pilot.press("2")
    screen = pilot.app.screen
    assert isinstance(screen, ModelScreen)
    await wait_for(pilot, lambda: screen.vocab_size is not None)
    return screen


async def tab_to(pilot: Pilot, widget_id: str) -> None:
    """Move focus with Tab or Shift+Tab, whichever way round the focus chain is shorter."""
    chain = [widget.id for widget in pilot.app.screen.focus_chain]
    here = chain.index(pilot.app.focused.id) if pilot.app.focused in pilot.app.screen.focus_chain else 0
    steps = (chain.index(widget_id) - here) % len(chain)
    if steps <= len(chain) // 2:
        await pilot.press(*["tab"] * steps)
    else:
        await pilot.press(*["shift+tab"] * (len(chain) - steps))
    assert pilot.app.focused is not None and pilot.app.focused.id == widget_id


async def type_into(pilot: Pilot, widget_id: str, text: str) -> None:
    """Tab to an input, clear it and type `text`."""
    await tab_to(pilot, widget_id)
    await pilot.press("end", "ctrl+u", *text)
    await pilot.pause()


def field(screen: ModelScreen, name: str) -> FormField:
    return screen.query_one(f"#field-{name}", FormField)


def shown(screen: ModelScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


def toasts(app: TuirnnApp) -> str:
    return "\n".join(str(toast.render()) for toast in app.screen.query("Toast"))


def test_key_2_opens_the_form_with_the_app_config(tmp_path: Path) -> None:
    async def scenario(pilot: Pilot, screen: ModelScreen) -> None:
        assert screen.query_one("#hidden_size", Input).value == str(RunConfig().model.hidden_size)
        assert screen.query_one("#cell", Select).value == "lstm"
        assert screen.vocab_size == len(set(OFFLINE_TEXT))
        assert f"{len(set(OFFLINE_TEXT))}" in shown(screen, "#model-size")
        assert "valid: applied" in shown(screen, "#model-notes")

    run(make_app(tmp_path), scenario)


def test_invalid_hidden_size_is_flagged_inline_and_cannot_start(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def scenario(pilot: Pilot, screen: ModelScreen) -> None:
        await type_into(pilot, "hidden_size", "0")
        assert field(screen, "hidden_size").has_class("-invalid")
        assert screen.query_one("#hidden_size", Input).has_class("-invalid")
        assert "between 1 and 16384" in str(field(screen, "hidden_size").query_one(".form-error", Label).content)
        assert "parameters  -" in shown(screen, "#model-size")
        assert app.config.model.hidden_size == RunConfig().model.hidden_size  # only a valid form reaches the app

        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.screen is screen and not app.feed.active
        assert "Cannot start: hidden size: " in toasts(app) and "hidden_size" not in toasts(app)  # the form's words

        await pilot.press("ctrl+u", *"128")
        await pilot.pause()
        assert not field(screen, "hidden_size").has_class("-invalid")
        assert app.config.model.hidden_size == 128
        expected = parameter_count(app.config.model, len(set(OFFLINE_TEXT)))
        assert f"parameters  {expected:,}" in shown(screen, "#model-size")

    run(app, scenario)


def test_apply_and_train_hands_the_valid_config_to_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(tmp_path)
    started: list[RunConfig] = []

    def start_training(resume_dir: Path | None = None) -> None:  # stands in for the trainer
        started.append(app.config)

    monkeypatch.setattr(app, "start_training", start_training)

    async def scenario(pilot: Pilot, screen: ModelScreen) -> None:
        await type_into(pilot, "layers", "3")
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert [c.model.layers for c in started] == [3]
        assert isinstance(app.screen, TrainScreen)

    run(app, scenario)


def test_choosing_a_preset_loads_it_into_the_form_and_the_app(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def scenario(pilot: Pilot, screen: ModelScreen) -> None:
        await tab_to(pilot, "preset")
        await pilot.press("enter", "down", "down", "down", "down", "down", "enter")  # (none), default, ... 5th
        await pilot.pause()
        assert screen.query_one("#preset", Select).value == "study-rnn2"
        assert screen.query_one("#hidden_size", Input).value == "512"
        assert screen.query_one("#cell", Select).value == "lstm"
        assert screen.query_one("#layers", Input).value == "2"
        assert screen.query_one("#layout", Select).value == "windows"
        c = app.config
        assert (c.preset, c.model.cell, c.model.layers, c.model.hidden_size) == ("study-rnn2", "lstm", 2, 512)
        assert (c.data.stride, c.data.targets) == (42, "all")  # settings the form does not show come too
        assert "The study's model 2" in str(screen.query_one("#preset-about", Label).content)

    run(app, scenario)


def test_dropout_with_one_layer_warns(tmp_path: Path) -> None:
    async def scenario(pilot: Pilot, screen: ModelScreen) -> None:
        assert "no effect" not in shown(screen, "#model-notes")
        await type_into(pilot, "layers", "1")
        assert "dropout has no effect with 1 layer" in shown(screen, "#model-notes")
        await tab_to(pilot, "output_dropout")
        await pilot.press("space")
        await pilot.pause()
        assert "no effect" not in shown(screen, "#model-notes")

    run(make_app(tmp_path), scenario)


def test_the_form_has_every_setting_of_the_command_line_and_says_what_needs_no_download(tmp_path: Path) -> None:
    from tuirnn.config import FIELDS

    app = make_app(tmp_path)

    async def scenario(pilot: Pilot, screen: ModelScreen) -> None:
        for name in FIELDS:
            if name != "corpus":  # chosen from a list (named corpora, default, a file) above the groups
                field(screen, name)
        await pilot.press("ctrl+g")
        await pilot.pause()
        assert "default needs no download" in toasts(app)

    run(app, scenario)


def test_save_and_load_toml_round_trip_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the path prompts start at ./tuirnn.toml; short paths type quickly
    app = make_app(tmp_path)
    (tmp_path / "x.toml").write_text("[model\nhidden_size = ", encoding="utf-8")  # not TOML
    (tmp_path / "y.toml").write_text('[model]\ncell = "gru2"\nlayers = 0\n', encoding="utf-8")  # invalid settings

    async def answer(pilot: Pilot, key: str, path: str | None = None) -> None:
        """Open the path prompt with `key`, type `path` (or keep the one offered) and press Enter."""
        await pilot.press(key)
        await pilot.pause()
        await pilot.press(*(("ctrl+u", *path) if path else ()), "enter")
        await pilot.pause()

    async def scenario(pilot: Pilot, screen: ModelScreen) -> None:
        await type_into(pilot, "hidden_size", "300")
        await type_into(pilot, "dropout", "0.25")
        await answer(pilot, "ctrl+s")
        assert load_toml(tmp_path / "tuirnn.toml").to_dict() == app.config.to_dict()
        saved = app.config.to_dict()

        await type_into(pilot, "hidden_size", "100")
        assert app.config.model.hidden_size == 100
        await answer(pilot, "ctrl+o")
        assert app.screen is screen
        assert screen.query_one("#hidden_size", Input).value == "300"
        assert screen.query_one("#dropout", Input).value == "0.25"
        assert app.config.to_dict() == saved

        await answer(pilot, "ctrl+s", "x.toml/z")  # below a file: cannot be written
        assert "Cannot save x.toml/z" in toasts(app)
        await answer(pilot, "ctrl+o", "x.toml")
        assert "not valid TOML" in toasts(app)
        assert app.config.to_dict() == saved

        await answer(pilot, "ctrl+o", "y.toml")  # loads, with its invalid settings flagged
        assert "not in the file, so at their defaults: hidden size, embedding size, dropout" in toasts(app)
        assert field(screen, "cell").has_class("-invalid") and field(screen, "layers").has_class("-invalid")
        assert "got 'gru2'" in shown(screen, "#model-notes")
        await pilot.press("ctrl+s")  # an invalid form is not saved
        assert "Cannot save: cell: must be one of" in toasts(app)
        assert app.config.to_dict() == saved

    run(app, scenario)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, bytes]]:
    """URL and bytes of a ~200 KB text file on a local HTTP server (several 64 KiB chunks)."""
    www = tmp_path / "www"
    www.mkdir()
    body = ("".join(f"line {i}: the rain in spain stays mainly in the plain\n" for i in range(4000))).encode()
    (www / "corpus.txt").write_bytes(body)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/corpus.txt", body
    finally:
        server.shutdown()
        server.server_close()


def add_corpus(monkeypatch: pytest.MonkeyPatch, url: str, sha256: str, chars: int) -> None:
    entry = catalog.NamedCorpus("testcorpus", url, "A served test text", sha256, chars - 10, chars + 10)
    monkeypatch.setitem(catalog.CATALOG, entry.name, entry)


async def choose_test_corpus(pilot: Pilot) -> None:
    await tab_to(pilot, "corpus")
    await pilot.press("enter", "down", "down", "down", "enter")  # default, nietzsche, tinyshakespeare, test
    await pilot.pause()
    assert pilot.app.screen.query_one("#corpus", Select).value == "testcorpus"


def test_download_that_fails_verification_shows_an_error(
    tmp_path: Path, served: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, body = served
    add_corpus(monkeypatch, url, "0" * 64, len(body))
    app = make_app(tmp_path)

    async def scenario(pilot: Pilot, screen: ModelScreen) -> None:
        await choose_test_corpus(pilot)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: screen.downloading is None and "✗" in shown(screen, "#download-label"))
        assert "checksum mismatch" in shown(screen, "#download-label")
        assert "Download failed" in toasts(app)
        assert not (tmp_path / "data" / "testcorpus.txt").exists()

    run(app, scenario)


def test_download_shows_progress_and_makes_the_corpus_usable(
    tmp_path: Path, served: tuple[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, body = served
    add_corpus(monkeypatch, url, hashlib.sha256(body).hexdigest(), len(body))
    app = make_app(tmp_path)

    async def scenario(pilot: Pilot, screen: ModelScreen) -> None:
        await choose_test_corpus(pilot)
        assert "not downloaded yet" in str(screen.query_one("#corpus-about", Label).content)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: screen.downloading is None)
        assert "✓ testcorpus downloaded" in shown(screen, "#download-label")
        bar = screen.query_one("#download-bar", ProgressBar)
        assert bar.total == bar.progress == len(body)
        assert (tmp_path / "data" / "testcorpus.txt").read_bytes() == body
        await wait_for(pilot, lambda: screen.vocab_size == len(set(body.decode())))
        assert app.config.data.corpus == "testcorpus"

    run(app, scenario)


# ----- snapshots ------------------------------------------------------------------------------------
def snapshot_setup(*keys: str) -> Callable[[Pilot], Awaitable[None]]:
    """Open the screen, wait for the vocabulary, stop cursors blinking (a snapshot must not depend on
    the moment it is taken), then press `keys`."""

    async def setup(pilot: Pilot) -> None:
        screen = await open_model(pilot)
        for widget in screen.query(Input):
            widget.cursor_blink = False
        await pilot.press(*keys)
        await pilot.pause()

    return setup


def test_snapshot_80x24(tmp_path: Path, snap_compare) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=snapshot_setup())


def test_snapshot_80x24_with_an_error_and_a_warning(tmp_path: Path, snap_compare) -> None:
    keys = ("tab",) * 6 + ("ctrl+u", "1", "tab", "ctrl+u", "0")  # layers 1, hidden size 0
    assert snap_compare(make_app(tmp_path), terminal_size=(80, 24), run_before=snapshot_setup(*keys))


def test_snapshot_120x40(tmp_path: Path, snap_compare) -> None:
    assert snap_compare(make_app(tmp_path), terminal_size=(120, 40), run_before=snapshot_setup())

"""Model & hyperparameters: a form over the shared configuration, checked as it is typed.

The form is a candidate: the current base configuration (the app's, a preset's or a loaded file's) with
the form's fields applied. Only a candidate that passes validation reaches `app.config`, so no screen can
start a run from an invalid form. Sizes and the vocabulary are computed without torch, the vocabulary
and downloads in thread workers so typing never waits on the disk or the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import (
    Checkbox,
    Footer,
    Header,
    Input,
    Label,
    ProgressBar,
    Select,
    Static,
)

from tuirnn.catalog import CATALOG, DEFAULT_ALIASES, fetch, list_corpora, open_corpus
from tuirnn.config import (
    FIELDS,
    PRESETS,
    ConfigError,
    RunConfig,
    get_field,
    load_toml,
    no_op_warnings,
    preset,
    save_toml,
    set_field,
    unset_in_toml,
    validation_errors,
)
from tuirnn.formatting import human_bytes
from tuirnn.sizing import estimate_size
from tuirnn.tui.focus import leave_text_fields
from tuirnn.tui.messages import DownloadProgress
from tuirnn.tui.screens.base import AppScreen
from tuirnn.tui.screens.model_form import SECTIONS, SETTINGS, choice_options, form_text, make_widget, short_message
from tuirnn.tui.widgets.form_field import FormField
from tuirnn.tui.widgets.form_path_prompt import PathPrompt

if TYPE_CHECKING:
    from tuirnn.tui.app import TuirnnApp

PLACEHOLDER_VOCAB = 100
"""Vocabulary size assumed for the size estimate until the chosen corpus has been read."""
FILE = "<file>"
"""The corpus choice that means "the path typed in the file field"."""
SIZE_FIELDS = ("cell", "layers", "hidden_size", "embedding_size", "batch_size", "seq_len")


class VocabLoaded(Message):
    """The vocabulary size of a corpus spec (None where it could not be read, with the reason)."""

    def __init__(self, key: tuple[str, bool, str], size: int | None, note: str) -> None:
        super().__init__()
        self.key = key
        self.size = size
        self.note = note


class ModelScreen(AppScreen):
    CSS_PATH = "model.tcss"
    BINDINGS = [
        Binding("ctrl+t", "start", "Apply & train", id="model-start"),
        Binding("ctrl+s", "save", "Save", id="model-save"),
        Binding("ctrl+o", "open", "Open", id="model-open"),
        Binding("ctrl+g", "download", "Get corpus", id="model-download"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.base = RunConfig()
        """Where the settings the form does not show come from."""
        self.candidate = RunConfig()
        self.errors: dict[str, str] = {}
        self.synced: dict[str, Any] = {}
        """The app configuration as this form last saw or set it, to notice changes made elsewhere."""
        self.vocab_size: int | None = None
        self.vocab_note = ""
        self.vocab_key: tuple[str, bool, str] | None = None
        self.downloading: str | None = None
        self.toml_path = "tuirnn.toml"
        self.widgets: dict[str, Input | Select[str] | Checkbox] = {}

    @property
    def tuirnn(self) -> TuirnnApp:
        return cast("TuirnnApp", self.app)

    # ----- layout ----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        config = self.tuirnn.config
        self.base = RunConfig.from_dict(config.to_dict())
        corpus_choice, corpus_path = self._corpus_choice(config.data.corpus)
        yield Header()
        with Horizontal(id="model-body"):
            with VerticalScroll(id="model-form"):
                yield FormField("preset", Select(
                    [(name, name) for name in PRESETS], prompt="(none)", compact=True, id="preset",
                    value=config.preset if config.preset in PRESETS else Select.NULL,
                ), id="field-preset")
                yield Label("", id="preset-about", classes="form-hint")
                yield Label("Data", classes="form-section")
                yield FormField("corpus", Select(self._corpus_options(), allow_blank=False, compact=True,
                                                 value=corpus_choice, id="corpus"), id="field-corpus")
                yield FormField("file path", Input(corpus_path, placeholder="path/to/text.txt", compact=True,
                                                   id="corpus_path"), id="field-corpus_path")
                yield Label("", id="corpus-about", classes="form-hint")
                for title, settings in SECTIONS:
                    if title != "Data":
                        yield Label(title, classes="form-section")
                    for setting in settings:
                        widget = make_widget(setting, get_field(config, setting.name))
                        self.widgets[setting.name] = widget
                        yield FormField(setting.label, widget, id=f"field-{setting.name}")
            with Vertical(id="model-side"):
                yield Static("", id="model-size")
                yield Static("", id="model-notes")
                with Vertical(id="download"):
                    yield Label("", id="download-label")
                    yield ProgressBar(show_eta=False, id="download-bar")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Model & hyperparameters"
        self.query_one("#model-side").border_title = "Size & checks"
        self.query_one("#download").display = False
        self._update()
        self.query_one("#preset").focus()

    def on_screen_resume(self) -> None:
        leave_text_fields(self, "#preset")
        self._refresh_corpus_options()
        if self.tuirnn.config.to_dict() != self.synced:
            self.fill(self.tuirnn.config)

    # ----- reading and filling the form ------------------------------------------------------------
    def _corpus_choice(self, spec: str) -> tuple[str, str]:
        if spec in DEFAULT_ALIASES:
            return "default", ""
        if spec in CATALOG:
            return spec, ""
        return FILE, spec

    def _corpus_options(self) -> list[tuple[str, str]]:
        options = [("default (offline)", "default")]
        for status in list_corpora(self.tuirnn.data_dir):
            if status.name in CATALOG:
                options.append((f"{status.name} {'✓' if status.available else '(not downloaded)'}", status.name))
        options.append(("a file…", FILE))
        return options

    def _refresh_corpus_options(self) -> None:
        select = self.query_one("#corpus", Select)
        with self.prevent(Select.Changed):
            value = select.value
            select.set_options(self._corpus_options())
            select.value = value

    def _form_values(self) -> dict[str, Any]:
        values = {name: widget.value for name, widget in self.widgets.items()}
        choice = self.query_one("#corpus", Select).value
        values["corpus"] = self.query_one("#corpus_path", Input).value.strip() if choice == FILE else choice
        return values

    def fill(self, config: RunConfig) -> None:
        """Show `config` in the form (without the change events that would reload a preset)."""
        self.base = RunConfig.from_dict(config.to_dict())
        choice, path = self._corpus_choice(config.data.corpus)
        with self.prevent(Input.Changed, Select.Changed, Checkbox.Changed):
            self.query_one("#preset", Select).value = config.preset if config.preset in PRESETS else Select.NULL
            self.query_one("#corpus", Select).value = choice
            self.query_one("#corpus_path", Input).value = path
            for setting in SETTINGS:
                value = get_field(config, setting.name)
                widget = self.widgets[setting.name]
                if isinstance(widget, Input):
                    widget.value = form_text(value)
                    continue
                if isinstance(widget, Select):
                    widget.set_options(choice_options(setting, value))
                widget.value = value
        self._update()

    def _candidate(self) -> tuple[RunConfig, dict[str, str]]:
        config = RunConfig.from_dict(self.base.to_dict())
        errors: dict[str, str] = {}
        for name, value in self._form_values().items():
            try:
                set_field(config, name, value)
            except ConfigError as exc:
                errors[name] = f"{name} needs a value" if value == "" and name != "sample_prompt" else str(exc)
        for name, message in validation_errors(config).items():
            errors.setdefault(name, message)
        return config, errors

    # ----- checking and showing --------------------------------------------------------------------
    def _update(self) -> None:
        """Re-check the form, flag fields, apply a valid candidate to the app, refresh the side panel."""
        self.candidate, self.errors = self._candidate()
        file_mode = self.query_one("#corpus", Select).value == FILE
        self.query_one("#field-corpus_path").display = file_mode
        for setting in SETTINGS:
            message = self.errors.get(setting.name)
            self.query_one(f"#field-{setting.name}", FormField).show_error(
                short_message(setting.name, message) if message else None)
        corpus_error = self.errors.get("corpus")
        self.query_one("#field-corpus_path", FormField).show_error(
            short_message("corpus", corpus_error) if corpus_error else None)
        if not self.errors:
            self.tuirnn.config = RunConfig.from_dict(self.candidate.to_dict())
            self.synced = self.tuirnn.config.to_dict()
        self._want_vocab()
        self._show_hints()
        self._show_side()

    def _show_hints(self) -> None:
        name = self.candidate.preset
        preset_about = self.query_one("#preset-about", Label)
        preset_about.update(PRESETS[name][0] if name in PRESETS else "")
        preset_about.display = name in PRESETS
        choice = self.query_one("#corpus", Select).value
        if choice in CATALOG:
            named = CATALOG[str(choice)]
            here = (Path(self.tuirnn.data_dir) / named.filename).is_file()
            about = named.description + ("" if here else "; not downloaded yet: ctrl+g gets it")
        elif choice == FILE:
            about = "a UTF-8 text file"
        else:
            about = "Python's own docs: always here, offline"
        self.query_one("#corpus-about", Label).update(about)

    def _show_side(self) -> None:
        config = self.candidate
        size = Text()
        vocab = self.vocab_size or PLACEHOLDER_VOCAB
        if any(name in self.errors for name in SIZE_FIELDS):
            size.append("parameters  ", "dim").append("-\n")
        else:
            estimate = estimate_size(config.model, vocab, config.train.batch_size, config.data.seq_len)
            size.append("parameters  ", "dim").append(f"{estimate.parameters:,}\n", "bold")
            size.append("train mem   ", "dim").append(f"~{human_bytes(estimate.training_bytes)}\n")
        size.append("vocabulary  ", "dim").append(str(vocab) if self.vocab_size else f"{vocab} (guess)")
        if self.vocab_note:
            size.append(f"\n{self.vocab_note}", "dim" if self.vocab_size else "yellow")
        self.query_one("#model-size", Static).update(size)

        notes = Text()
        if self.errors:
            count = len(self.errors)
            notes.append(f"✗ {count} error{'s' * (count > 1)}: not applied\n", "bold red")
            for message in self.errors.values():
                notes.append(f"• {message}\n", "red")
        else:
            notes.append("✓ valid: applied\n", "bold green")
        for warning in no_op_warnings(config):
            notes.append(f"! {warning}\n", "yellow")
        notes.rstrip()
        self.query_one("#model-notes", Static).update(notes)

    # ----- vocabulary ------------------------------------------------------------------------------
    def _want_vocab(self) -> None:
        data = self.candidate.data
        key = (data.corpus, data.newlines_to_spaces, data.encoding_errors)
        if key == self.vocab_key:
            return
        self.vocab_key = key
        self.vocab_size, self.vocab_note = None, ""
        if "corpus" not in self.errors:
            self.vocab_note = "reading the corpus..."
            self._load_vocab(key)

    @work(thread=True, exclusive=True, group="model-vocab")
    def _load_vocab(self, key: tuple[str, bool, str]) -> None:
        spec, newlines_to_spaces, encoding_errors = key
        if spec in CATALOG and not (Path(self.tuirnn.data_dir) / CATALOG[spec].filename).is_file():
            self.post_message(VocabLoaded(key, None, f"{spec} is not downloaded yet"))
            return
        try:
            corpus = open_corpus(spec, self.tuirnn.data_dir, newlines_to_spaces, encoding_errors)
        except (OSError, ValueError) as exc:
            self.post_message(VocabLoaded(key, None, str(exc)))
            return
        self.post_message(VocabLoaded(key, len(corpus.vocab), f"from {len(corpus):,} chars"))

    def on_vocab_loaded(self, message: VocabLoaded) -> None:
        if message.key != self.vocab_key:
            return  # a stale answer for a corpus no longer chosen
        self.vocab_size, self.vocab_note = message.size, message.note
        self._show_side()

    # ----- form events -----------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        self._update()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self._update()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "preset" and event.value != self.base.preset:
            self._choose_preset(event.value)
        else:
            self._update()
        if event.select.id == "corpus" and event.value == FILE:
            self.query_one("#corpus_path").focus()

    def _choose_preset(self, name: object) -> None:
        """Load the preset's values into the form; the corpus stays: a preset is a recipe, not data."""
        if name not in PRESETS:
            self.base.preset = ""
            self._update()
            return
        chosen = preset(str(name))
        chosen.data.corpus = self.candidate.data.corpus
        self.fill(chosen)

    # ----- actions ---------------------------------------------------------------------------------
    def action_start(self) -> None:
        self._update()
        if self.errors:
            self._error("Cannot start: " + self._errors_text(), title="Fix the form first")
            self._focus_first_error()
            return
        self.tuirnn.start_training()
        self.app.switch_mode("train")

    def _errors_text(self) -> str:
        """The form's errors as its labels name the settings, not as the code does."""
        return "; ".join(f"{FIELDS[name].label if name in FIELDS else name}: {short_message(name, message)}"
                         for name, message in self.errors.items())

    def _error(self, message: str, title: str = "") -> None:
        """Errors stay up long enough to read; no markup, as they quote paths and TOML."""
        self.notify(message, title=title, severity="error", timeout=10, markup=False)

    def _focus_first_error(self) -> None:
        for field in self.query(FormField):
            if field.has_class("-invalid"):
                field.widget.focus()
                return

    def action_save(self) -> None:
        self._update()
        if self.errors:
            self._error("Cannot save: " + self._errors_text(), title="Fix the form first")
            return
        self.app.push_screen(PathPrompt("Save the configuration as TOML to:", self.toml_path), self._save_to)

    def _save_to(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            save_toml(self.candidate, path)
        except OSError as exc:
            self._error(f"Cannot save {path}: {exc.strerror or exc}")
            return
        self.toml_path = str(path)
        self.notify(f"Saved {path}", markup=False)

    def action_open(self) -> None:
        self.app.push_screen(PathPrompt("Load a TOML configuration from:", self.toml_path), self._load_from)

    def _load_from(self, path: Path | None) -> None:
        if path is None:
            return
        try:
            config = load_toml(path)
        except (ValueError, TypeError) as exc:  # ConfigError, or a table that is not a table
            self._error(str(exc), title="Cannot load")
            return
        self.toml_path = str(path)
        self.fill(config)
        from_preset, unset = unset_in_toml(path)
        labels = [FIELDS[name].label for name in unset if name != "corpus"]
        shown = ", ".join(labels[:6]) + (f" and {len(labels) - 6} more" if len(labels) > 6 else "")
        where = f"preset {from_preset}'s values" if from_preset else "their defaults"
        reset = f"; not in the file, so at {where}: {shown}" if labels else ""
        self.notify(f"Loaded {path}{reset}", markup=False, timeout=10 if unset else 5)

    # ----- downloads -------------------------------------------------------------------------------
    def action_download(self) -> None:
        name = self.query_one("#corpus", Select).value
        if name not in CATALOG:
            what = "your own file" if name == FILE else f"{name}"
            self.notify(f"{what} needs no download; the named corpora to get are {', '.join(CATALOG)}.",
                        severity="warning")
            return
        if self.downloading:
            self.notify(f"{self.downloading} is still downloading.", severity="warning")
            return
        self.downloading = str(name)
        self.query_one("#download").display = True
        bar = self.query_one("#download-bar", ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one("#download-label", Label).update(f"getting {name}...")
        self._download(str(name))

    @work(thread=True, group="model-download")
    def _download(self, name: str) -> None:
        def progress(done: int, total: int | None) -> None:
            self.post_message(DownloadProgress(name, done, total))

        try:
            size = fetch(name, self.tuirnn.data_dir, progress=progress).stat().st_size
        except (OSError, ValueError) as exc:  # DownloadError and CorpusError are ValueErrors
            self.post_message(DownloadProgress(name, 0, None, error=str(exc)))
            return
        self.post_message(DownloadProgress(name, size, size, finished=True))

    def on_download_progress(self, message: DownloadProgress) -> None:
        label = self.query_one("#download-label", Label)
        bar = self.query_one("#download-bar", ProgressBar)
        if message.error is not None:
            self.downloading = None
            bar.display = False
            label.update(Text(f"✗ {message.error}", "red"))
            self._error(message.error, title="Download failed")
            return
        bar.update(total=message.total, progress=message.done)
        if message.finished:
            self.downloading = None
            label.update(Text(f"✓ {message.name} downloaded", "green"))
            self.notify(f"{message.name} downloaded")
            self._refresh_corpus_options()
            self.vocab_key = None  # the corpus can be read now
            self._update()
            return
        of_total = f" of {human_bytes(message.total)}" if message.total else ""
        label.update(f"{message.name}: {human_bytes(message.done)}{of_total}")

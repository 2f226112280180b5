"""The Model screen's form, as data: which settings it shows in which groups, and the widget for each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from textual.widgets import Checkbox, Input, Select

from tuirnn.config import FIELDS
from tuirnn.tui.widgets.form_field import OnOffCheckbox


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    kind: str
    """`int`, `float`, `bool` or `choice`."""
    choices: tuple[str, ...] = ()

    @classmethod
    def of(cls, name: str) -> Setting:
        """The form's view of a setting: label and choices as config.py describes it."""
        info = FIELDS[name]
        return cls(name, info.label, "choice" if info.choices else info.kind.__name__, info.choices)


FORM_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Data", ("layout", "seq_len", "newlines_to_spaces")),
    ("Model", ("cell", "layers", "hidden_size", "embedding_size", "dropout", "output_dropout")),
    ("Training", ("time_budget", "batch_size", "lr", "optimizer", "schedule", "clip_norm", "epochs", "max_steps",
                  "eval_every", "sample_every", "seed", "device", "precision", "cuda_graph")),
    ("More", ("patience", "warmup_steps", "weight_decay", "val_fraction", "stride", "targets", "carry_state",
              "encoding_errors", "log_every", "eval_max_chars", "sample_prompt", "sample_length", "sample_seed")),
)
"""Which settings the form shows, in which group and order: the common ones first, then every other setting
the command line has (the corpus is chosen above the groups)."""
SECTIONS: tuple[tuple[str, tuple[Setting, ...]], ...] = tuple(
    (title, tuple(Setting.of(name) for name in names)) for title, names in FORM_GROUPS)
SETTINGS = tuple(setting for _, settings in SECTIONS for setting in settings)


def short_message(name: str, message: str) -> str:
    """The message without the setting's name: it is shown under the setting's own label."""
    for prefix in (f"{name}: ", f"{name} "):
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def form_text(value: Any) -> str:
    """A number as the form shows it; repr keeps floats exact (1e-05, not 0.00001 rounded)."""
    return repr(value) if isinstance(value, float) else str(value)


def choice_options(setting: Setting, value: str) -> list[tuple[str, str]]:
    """The setting's choices, plus an unknown value from a file so that it is shown and flagged."""
    choices = setting.choices if value in setting.choices else (*setting.choices, value)
    return [(choice, choice) for choice in choices]


def make_widget(setting: Setting, value: Any) -> Input | Select[str] | Checkbox:
    if setting.kind == "bool":
        return OnOffCheckbox(bool(value), id=setting.name)
    if setting.kind == "choice":
        return Select(choice_options(setting, value), allow_blank=False, value=value, compact=True,
                      id=setting.name)
    kind: Literal["integer", "number", "text"] = (
        "integer" if setting.kind == "int" else "number" if setting.kind == "float" else "text")
    return Input(form_text(value), type=kind, compact=True, validate_on=[], id=setting.name)

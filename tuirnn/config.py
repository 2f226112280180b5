"""Run settings: typed dataclasses, validation, the study's presets and TOML/JSON I/O.

Kept free of torch so that the TUI can build and check a configuration before torch is imported.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuirnn.budget import DEFAULT_BUDGET_S, MAX_BUDGET_S, parse_duration
from tuirnn.errors import TuirnnError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CELLS = ("rnn", "gru", "lstm")
LAYOUTS = ("streams", "windows")
TARGETS = ("all", "last")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "linear")
ENCODING_ERRORS = ("strict", "replace", "latin-1")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "tf32", "bf16")


MAX_STEPS = 10**9
"""Far beyond any run this tool can finish, and small enough that step counts and ETAs stay readable."""
MAX_EPOCHS = 100_000


class ConfigError(TuirnnError):
    """A setting is invalid; the message says which and why."""


def setting(default: Any, label: str, help: str, choices: tuple[str, ...] = (),
            parse: Callable[[str], Any] | None = None) -> Any:
    """A settings field with what every face shows of it: the form's label, the one-line help (the CLI's
    --help, the form's tooltip), for a choice its choices, and how text other than a plain number reads
    (`5m` for a duration)."""
    return field(default=default, metadata={"label": label, "help": help, "choices": choices, "parse": parse})


@dataclass
class ModelConfig:
    cell: str = setting("lstm", "cell", "recurrent cell: rnn (tanh), gru or lstm", CELLS)
    layers: int = setting(2, "layers", "number of stacked recurrent layers")
    hidden_size: int = setting(384, "hidden size", "hidden units per layer")
    embedding_size: int = setting(64, "embedding size", "character embedding size")
    dropout: float = setting(0.1, "dropout", "dropout between layers (and before the output with output dropout)")
    output_dropout: bool = setting(False, "output dropout",
                                   "also apply dropout before the output layer, so one-layer models can be regularised")


@dataclass
class DataConfig:
    corpus: str = setting("default", "corpus", "named corpus (see `tuirnn data list`), 'default' (offline) or a "
                          "text file path")
    newlines_to_spaces: bool = setting(False, "newlines→spaces", "replace newlines with spaces, as the study did")
    encoding_errors: str = setting("strict", "encoding errors",
                                   "strict, replace or latin-1 for text that is not valid UTF-8", ENCODING_ERRORS)
    val_fraction: float = setting(0.1, "validation fraction", "held-out fraction at the end of the text")
    layout: str = setting("streams", "layout", "streams (B contiguous streams, the carried state stays the state "
                          "of the preceding text) or windows (the study's layout)", LAYOUTS)
    seq_len: int = setting(100, "sequence length", "characters per training sequence (BPTT length)")
    stride: int = setting(0, "stride", "window stride for the windows layout (0 = seq_len, non-overlapping)")
    targets: str = setting("all", "targets", "all positions (truncated BPTT) or only the last (windows layout)",
                           TARGETS)
    carry_state: bool = setting(True, "carry state", "keep the detached hidden state between batches")


@dataclass
class TrainConfig:
    batch_size: int = setting(64, "batch size", "sequences per batch")
    optimizer: str = setting("adam", "optimizer", "adam, adamw or sgd", OPTIMIZERS)
    lr: float = setting(4e-3, "learning rate", "learning rate (the peak, with a decaying schedule)")
    weight_decay: float = setting(0.0, "weight decay", "weight decay")
    schedule: str = setting("cosine", "schedule", "learning-rate schedule: constant, cosine or linear (both decay to a "
                            "tenth of the rate by the run's end)", SCHEDULES)
    warmup_steps: int = setting(0, "warmup steps", "linear warmup steps for the cosine and linear schedules")
    clip_norm: float = setting(5.0, "clip norm", "gradient clipping by global norm (0 disables)")
    epochs: int = setting(20, "epochs", "passes over the training text, where no time budget is set")
    max_steps: int = setting(0, "max steps", "stop after this many steps (0 = by the time budget, else by epochs)")
    time_budget: float = setting(DEFAULT_BUDGET_S, "time budget",
                                 "train for this long, as 90s, 5m or 1h (0 = by epochs): steps, validations and "
                                 "samples are planned to fit, and the schedule ends at it; on the command line and in "
                                 "TOML, giving epochs or max steps without it turns it off",
                                 parse=parse_duration)
    patience: int = setting(0, "patience", "stop when validation has not improved for this many validations, "
                            "keeping the best weights (0 = never)")
    log_every: int = setting(10, "log every", "steps between metric lines")
    eval_every: int = setting(200, "validate every", "steps between validation (and checkpoints); 0 = only at the end")
    eval_max_chars: int = setting(200_000, "validation chars", "cap on validation characters per evaluation")
    sample_every: int = setting(500, "sample every", "steps between samples (0 = none)")
    sample_prompt: str = setting("The ", "sample prompt", "prompt of the periodic samples")
    sample_length: int = setting(200, "sample length", "characters per periodic sample")
    sample_seed: int = setting(0, "sample seed", "seed of the periodic samples")
    seed: int = setting(1234, "seed", "random seed (initialisation, dropout)")
    device: str = setting("auto", "device", "auto, cpu, cuda or mps", DEVICES)
    precision: str = setting("auto", "GPU precision", "float precision on a CUDA GPU: auto (the faster of tf32 and "
                             "bf16, timed when a run starts), fp32, tf32 or bf16", PRECISIONS)
    cuda_graph: bool = setting(True, "CUDA graph",
                               "replay each training step from a CUDA graph on a CUDA GPU (falls back to plain steps)")


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    preset: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        config = cls(preset=str(raw.get("preset", "")))
        apply_tables(config, raw)
        return config

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


SECTIONS = ("model", "data", "train")


@dataclass(frozen=True)
class FieldInfo:
    """One setting: where it lives, its type, and what the CLI and the form say of it."""

    name: str
    section: str
    kind: type
    label: str
    help: str
    choices: tuple[str, ...]
    parse: Callable[[str], Any] | None


def _fields() -> dict[str, FieldInfo]:
    """Every setting by name; names are unique across sections."""
    found: dict[str, FieldInfo] = {}
    defaults = RunConfig()
    for section in SECTIONS:
        for f in dataclasses.fields(getattr(defaults, section)):
            kind = type(getattr(getattr(defaults, section), f.name))
            found[f.name] = FieldInfo(f.name, section, kind, f.metadata["label"], f.metadata["help"],
                                      f.metadata["choices"], f.metadata["parse"])
    return found


FIELDS = _fields()


def apply_tables(config: RunConfig, raw: dict[str, Any], where: str = "") -> None:
    """Set the [model], [data] and [train] tables of `raw` (parsed TOML or JSON) on `config`."""
    for section in SECTIONS:
        values = raw.get(section, {})
        if not isinstance(values, dict):
            raise ConfigError(f"{where}[{section}] must be a table of settings")
        for key, value in values.items():
            set_field(config, key, value, section=section)
    _epochs_end_the_budget(config, raw.get("train", {}))


def coerce(name: str, value: Any) -> Any:
    """Convert a value (possibly a string from the command line or a form) to the setting's type."""
    kind, parse = FIELDS[name].kind, FIELDS[name].parse
    try:
        if parse is not None and isinstance(value, str):
            return parse(value)
        if kind is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered in ("1", "true", "yes", "on"):
                    return True
                if lowered in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            if not isinstance(value, bool):  # TOML's 1 or 0.5 is not a yes or a no
                raise ValueError(value)
            return value
        if isinstance(value, bool):  # a bool is an int to Python, not a number to a person
            raise ValueError(value)
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            if isinstance(value, str):
                number = float(value.replace("_", ""))
                if not number.is_integer():
                    raise ValueError(value)
                return int(number)
            return int(value)
        if kind is float:
            return float(value)
        if not isinstance(value, str):
            raise ValueError(value)
        return value
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{name}: {value!r} is not a valid {kind.__name__}") from None


def set_field(config: RunConfig, name: str, value: Any, section: str | None = None) -> None:
    name = name.replace("-", "_")
    if name not in FIELDS or (section and FIELDS[name].section != section):
        where = f"[{section}] " if section else ""
        raise ConfigError(f"unknown setting {where}{name!r}")
    setattr(getattr(config, FIELDS[name].section), name, coerce(name, value))


def get_field(config: RunConfig, name: str) -> Any:
    return getattr(getattr(config, FIELDS[name].section), name)


def with_overrides(config: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """A copy of `config` with flat `name: value` overrides applied (epochs or max_steps without a time
    budget turn the budget off)."""
    updated = RunConfig.from_dict(config.to_dict())
    for name, value in overrides.items():
        set_field(updated, name, value)
    _epochs_end_the_budget(updated, overrides)
    return updated


def run_length(train: TrainConfig) -> str:
    """How a run's length is given: `steps` (max_steps), else `budget` (time_budget), else `epochs`."""
    if train.max_steps:
        return "steps"
    return "budget" if train.time_budget else "epochs"


def _epochs_end_the_budget(config: RunConfig, given: dict[str, Any]) -> None:
    """A run is measured in one way: asking for epochs or steps (and not for a time) turns the default
    budget off."""
    if ("epochs" in given or "max_steps" in given) and "time_budget" not in given:
        config.train.time_budget = 0.0


def _check_choice(errors: list[str], name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        errors.append(f"{name} must be one of {', '.join(choices)} (got {value!r})")


def validation_errors(config: RunConfig) -> dict[str, str]:
    """Every invalid setting, by name, with a message a person can act on."""
    m, d, t = config.model, config.data, config.train
    errors: dict[str, str] = {}

    def need(name: str, ok: bool, message: str) -> None:
        if not ok and name not in errors:
            errors[name] = f"{name} {message}"

    for name, value, choices in (
        ("cell", m.cell, CELLS),
        ("layout", d.layout, LAYOUTS),
        ("targets", d.targets, TARGETS),
        ("optimizer", t.optimizer, OPTIMIZERS),
        ("schedule", t.schedule, SCHEDULES),
        ("encoding_errors", d.encoding_errors, ENCODING_ERRORS),
        ("device", t.device, DEVICES),
        ("precision", t.precision, PRECISIONS),
    ):
        problems: list[str] = []
        _check_choice(problems, name, value, choices)
        if problems:
            errors[name] = problems[0]
    need("layers", 1 <= m.layers <= 16, "must be between 1 and 16")
    need("hidden_size", 1 <= m.hidden_size <= 16384, "must be between 1 and 16384")
    need("embedding_size", 1 <= m.embedding_size <= 16384, "must be between 1 and 16384")
    need("dropout", 0.0 <= m.dropout < 1.0, "must be in [0, 1)")
    need("val_fraction", 0.0 < d.val_fraction < 0.9, "must be in (0, 0.9)")
    need("seq_len", 1 <= d.seq_len <= 100_000, "must be between 1 and 100000")
    need("stride", 0 <= d.stride <= 100_000, "must be 0 (= seq_len) or positive, at most 100000")
    need("batch_size", 1 <= t.batch_size <= 1_000_000, "must be between 1 and 1000000")
    need("lr", 0.0 < t.lr < 10.0, "must be positive and below 10")
    need("weight_decay", 0.0 <= t.weight_decay < math.inf, "must be a finite, non-negative number")
    need("warmup_steps", 0 <= t.warmup_steps <= MAX_STEPS, f"must be between 0 and {MAX_STEPS:,}")
    need("clip_norm", 0.0 <= t.clip_norm < math.inf, "must be finite and not negative (0 disables clipping)")
    need("epochs", t.epochs >= 1 or t.max_steps > 0 or t.time_budget > 0,
         "must be at least 1 (or set max_steps or a time budget)")
    need("epochs", 0 <= t.epochs <= MAX_EPOCHS, f"must be between 0 and {MAX_EPOCHS:,}")
    need("max_steps", 0 <= t.max_steps <= MAX_STEPS, f"must be between 0 (all epochs) and {MAX_STEPS:,}")
    need("log_every", 1 <= t.log_every <= MAX_STEPS, f"must be between 1 and {MAX_STEPS:,}")
    need("eval_every", 0 <= t.eval_every <= MAX_STEPS, f"must be between 0 (only at the end) and {MAX_STEPS:,}")
    need("eval_max_chars", 1 <= t.eval_max_chars <= 10**10, "must be between 1 and 10,000,000,000")
    need("sample_every", 0 <= t.sample_every <= MAX_STEPS, f"must be between 0 (no samples) and {MAX_STEPS:,}")
    need("time_budget", 0 <= t.time_budget <= MAX_BUDGET_S, "must be between 0 (none) and 7 days")
    need("patience", 0 <= t.patience <= MAX_STEPS, f"must be between 0 (never stop early) and {MAX_STEPS:,}")
    need("sample_length", 0 <= t.sample_length <= 100_000, "must be between 0 and 100000")
    need("seed", 0 <= t.seed < 2**63, "must be a non-negative integer")
    need("sample_seed", 0 <= t.sample_seed < 2**63, "must be a non-negative integer")
    need("corpus", bool(d.corpus.strip()), "must name a corpus or a file")
    if d.layout == "streams":
        need("targets", d.targets == "all", "must be 'all' with the streams layout")
    return errors


def validate(config: RunConfig) -> RunConfig:
    errors = validation_errors(config)
    if errors:
        raise ConfigError("; ".join(errors.values()))
    return config


def no_op_warnings(config: RunConfig) -> list[str]:
    """Settings that are valid but do nothing, so a person is not misled by them."""
    m, d, t = config.model, config.data, config.train
    notes: list[str] = []
    if m.dropout > 0 and m.layers == 1 and not m.output_dropout:
        notes.append("dropout has no effect with 1 layer unless output_dropout is on")
    if d.layout == "streams" and d.stride not in (0, d.seq_len):
        notes.append("stride is ignored by the streams layout")
    if d.layout == "windows" and d.targets == "last" and d.carry_state and (d.stride or d.seq_len) != 1:
        notes.append("carry_state with windows/last targets: the carried state is not the state of "
                     "the preceding text (the study's layout)")
    if t.optimizer == "sgd" and t.weight_decay == 0 and t.lr < 1e-3:
        notes.append("plain SGD with a learning rate below 1e-3 will learn very slowly")
    if t.time_budget and t.max_steps:
        notes.append("the time budget is ignored: max_steps sets the run's length")
    if run_length(t) == "budget" and t.epochs != TrainConfig.epochs:
        notes.append("epochs is ignored: the time budget sets the run's length (a time budget of 0 trains by epochs)")
    if t.time_budget and not t.max_steps and (t.eval_every != TrainConfig.eval_every
                                              or t.sample_every != TrainConfig.sample_every):
        notes.append("eval_every and sample_every are planned by the time budget (about ten of each)")
    if t.schedule == "constant" and t.warmup_steps > 0:
        notes.append("warmup_steps applies only to the cosine and linear schedules")
    return notes


def _study(**overrides: Any) -> RunConfig:
    config = RunConfig()
    for name, value in overrides.items():
        set_field(config, name, value)
    return config


STUDY_RNN1: dict[str, Any] = {
    "time_budget": 0, "schedule": "constant",
    "cell": "rnn", "layers": 1, "hidden_size": 256, "embedding_size": 32, "dropout": 0.0, "newlines_to_spaces": True,
    "layout": "windows", "seq_len": 32, "stride": 1, "targets": "last", "carry_state": False, "batch_size": 15021,
    "optimizer": "adam", "lr": 1e-3, "clip_norm": 0.0, "epochs": 30, "eval_every": 0, "sample_every": 0,
}

PRESETS: dict[str, tuple[str, RunConfig]] = {
    "default": ("2-layer LSTM, 384 hidden, parallel streams, Adam 4e-3 with a cosine decay over a five-minute "
                "budget: what learned best in five minutes on a 2-core CPU", RunConfig(preset="default")),
    "tiny": (
        "1-layer GRU with 64 hidden units: seconds per epoch on a CPU, for trying things out",
        _study(cell="gru", layers=1, hidden_size=64, embedding_size=32, dropout=0.0, seq_len=64,
               batch_size=32, lr=2e-3, schedule="constant", epochs=2, time_budget=0, eval_every=100,
               sample_every=100),
    ),
    "study-rnn1": (
        "The study's model 1: vanilla RNN, overlapping 32-char windows, next char only, state reset",
        _study(**STUDY_RNN1),
    ),
    "study-rnn1_2": (
        "The study's model 1b: as study-rnn1 with batch 512 and the hidden state kept (detached)",
        _study(**{**STUDY_RNN1, "batch_size": 512, "carry_state": True}),
    ),
    "study-rnn2": (
        "The study's model 2: 2-layer LSTM, non-overlapping 42-char windows, loss at every position",
        _study(cell="lstm", layers=2, hidden_size=512, embedding_size=42, dropout=0.1,
               newlines_to_spaces=True, layout="windows", seq_len=42, stride=42, targets="all",
               carry_state=True, batch_size=64, optimizer="adam", lr=1e-3, schedule="constant", clip_norm=0.0,
               epochs=60, time_budget=0, eval_every=1000, sample_every=1000),
    ),
}
for _name, (_, _preset) in PRESETS.items():
    _preset.preset = _name


def preset(name: str) -> RunConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return RunConfig.from_dict(PRESETS[name][1].to_dict())


def unset_in_toml(path: Path) -> tuple[str, list[str]]:
    """(its preset, the settings it leaves out) of a configuration file that `load_toml` has read: what a
    loaded form shows from the preset (or the defaults) rather than from the file."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return "", []
    present = {key for table in raw.values() if isinstance(table, dict) for key in table}
    return str(raw.get("preset", "")), [name for name in FIELDS if name not in present]


def load_toml(path: Path) -> RunConfig:
    """Read a configuration file; a `preset` key starts from that preset, the tables override it."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    name = raw.get("preset", "")
    if not isinstance(name, str):
        raise ConfigError(f"{path}: preset must be a preset's name, like preset = \"tiny\" (got {name!r})")
    unknown = set(raw) - set(SECTIONS) - {"preset"}
    if unknown:
        raise ConfigError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}")
    config = preset(name) if name else RunConfig()
    apply_tables(config, raw, f"{path}: ")
    return config


def save_toml(config: RunConfig, path: Path) -> None:
    import tomli_w

    from tuirnn.atomic import atomic_write_bytes

    atomic_write_bytes(Path(path), tomli_w.dumps(config.to_dict()).encode("utf-8"))

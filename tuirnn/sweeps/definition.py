"""What a sweep is: a base RunConfig, axes of settings to vary, a search strategy and the measure to minimise.

Every axis is a finite list of values (a range `start..stop step s` is expanded), so the whole space is
always countable: the grid runs all of it, random and TPE sample `trials` points from it. Kept free of
torch and Optuna so a form can build and check a sweep cheaply.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuirnn.config import (
    FIELDS,
    SECTIONS,
    ConfigError,
    RunConfig,
    apply_tables,
    coerce,
    preset,
    with_overrides,
)
from tuirnn.paths import PathError, check_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

STRATEGIES = ("grid", "random", "tpe")
METRICS = ("last_loss", "val_loss")
"""`last_loss` is the loss of the last training batch (the study's measure); `val_loss` the final validation loss."""
PRUNING = ("none", "asha")
MAX_RANGE_VALUES = 10_000
MAX_LISTED_POINTS = 20_000
MAX_TRIALS = 10_000
"""More trials than anyone can run and read on one machine; a larger sweep is refused with a count."""
"""Larger spaces are sized and checked through the base config and each axis value alone."""
_RANGE_TEXT = re.compile(r"^\s*(\S+?)\s*\.\.\s*(\S+?)(?:\s+step\s+(\S+))?\s*$")


@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple[Any, ...]
    span: tuple[float, float, float] | None = None
    """(start, stop, step) when given as a range: tells TPE the values are ordered and evenly spaced."""

    def snap(self, value: Any) -> Any:
        """The axis value nearest to a sampled one, so float noise from a sampler never reaches a config."""
        if self.span is None:
            return value
        return min(self.values, key=lambda v: abs(v - value))

    def to_dict(self) -> dict[str, Any]:
        return {"values": list(self.values), "span": list(self.span) if self.span else None}


def range_axis(name: str, start: Any, stop: Any, step: Any = 1) -> Axis:
    """The inclusive range start, start+step, ..., stop, rounded so 0.1 + 2 * 0.1 is 0.3."""
    kind = FIELDS[name].kind
    if kind not in (int, float):
        raise ConfigError(f"axis {name}: a range needs a numeric setting, {name} is a {kind.__name__}")
    try:
        lo, hi, size = float(start), float(stop), float(step)
    except (TypeError, ValueError):
        raise ConfigError(f"axis {name}: range start, stop and step must be numbers") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(size)) or size <= 0 or hi < lo:
        raise ConfigError(f"axis {name}: a range needs start <= stop and a positive step "
                          f"(got {start}..{stop} step {step})")
    count = (hi - lo) / size
    if abs(count - round(count)) > 1e-6 or round(count) + 1 > MAX_RANGE_VALUES:
        raise ConfigError(f"axis {name}: {start}..{stop} is not a whole number of steps of {step} "
                          f"(or more than {MAX_RANGE_VALUES:,} values)")
    values = tuple(coerce(name, round(lo + i * size, 10)) for i in range(round(count) + 1))
    return Axis(name, values, (lo, hi, size))


def parse_axis(name: str, raw: Any) -> Axis:
    """A TOML axis: a list of values, a table {start, stop, step} or the text "start..stop step s"."""
    name = name.replace("-", "_")
    if name not in FIELDS:
        raise ConfigError(f"axis {name!r} is not a setting (see `tuirnn train --help`)")
    if isinstance(raw, list):
        if not raw:
            raise ConfigError(f"axis {name}: the list of values is empty")
        return Axis(name, tuple(coerce(name, value) for value in raw))
    if isinstance(raw, dict):
        unknown = set(raw) - {"start", "stop", "step"}
        if unknown or not {"start", "stop"} <= set(raw):
            raise ConfigError(f"axis {name}: a range table needs start and stop (and step), "
                              f"not {', '.join(sorted(raw))}")
        return range_axis(name, raw["start"], raw["stop"], raw.get("step", 1))
    if isinstance(raw, str) and (match := _RANGE_TEXT.match(raw)):
        return range_axis(name, match[1], match[2], match[3] or 1)
    raise ConfigError(f"axis {name}: give a list of values, a range {{start, stop, step}} or \"start..stop step s\" "
                      "(fixed settings belong in the base tables)")


@dataclass
class SweepDefinition:
    name: str
    base: RunConfig
    axes: tuple[Axis, ...]
    strategy: str = "grid"
    trials: int = 0
    """How many points random and TPE sample; the grid always runs every point."""
    metric: str = "val_loss"
    pruning: str = "none"
    seed: int = 0
    description: str = ""

    def __post_init__(self) -> None:
        try:  # the name becomes the sweep directory's name
            check_name(self.name, "sweep name")
        except PathError as exc:
            raise ConfigError(str(exc)) from None
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)} (got {self.strategy!r})")
        if self.metric not in METRICS:
            raise ConfigError(f"metric must be one of {', '.join(METRICS)} (got {self.metric!r})")
        if self.pruning not in PRUNING:
            raise ConfigError(f"pruning must be one of {', '.join(PRUNING)} (got {self.pruning!r})")
        if not self.axes:
            raise ConfigError("a sweep needs at least one axis in [axes]")
        names = [axis.name for axis in self.axes]
        if len(set(names)) != len(names):
            raise ConfigError("each setting can be one axis only")
        if self.strategy != "grid" and self.trials < 1:
            raise ConfigError(f"the {self.strategy} strategy needs trials >= 1 in [sweep]")

    @property
    def space_size(self) -> int:
        return math.prod(len(axis.values) for axis in self.axes)

    @property
    def trial_count(self) -> int:
        return self.space_size if self.strategy == "grid" else self.trials

    def points(self) -> list[dict[str, Any]]:
        """Every combination of axis values: the grid's trials, and the space random and TPE sample from."""
        names = [axis.name for axis in self.axes]
        combos = itertools.product(*(axis.values for axis in self.axes))
        return [dict(zip(names, combo, strict=True)) for combo in combos]

    def listed_points(self) -> list[dict[str, Any]]:
        """Every point when there are few enough to list, else just the base (the empty point)."""
        return self.points() if self.space_size <= MAX_LISTED_POINTS else [{}]

    def config_for(self, params: dict[str, Any]) -> RunConfig:
        return with_overrides(self.base, params)

    def with_base_overrides(self, overrides: dict[str, Any]) -> SweepDefinition:
        """A copy whose base takes command-line overrides (epochs, corpus, device, ...)."""
        return dataclasses.replace(self, base=with_overrides(self.base, overrides))

    def with_absolute_corpora(self) -> SweepDefinition:
        """Corpus files as absolute paths, so a sweep resumed from elsewhere, or a Ray worker, finds them."""
        from tuirnn.catalog import CATALOG, DEFAULT_ALIASES

        def absolute(spec: str) -> str:
            named = spec in CATALOG or spec in DEFAULT_ALIASES
            return spec if named else str(Path(spec).expanduser().resolve())

        axes = tuple(Axis(a.name, tuple(map(absolute, a.values))) if a.name == "corpus" else a for a in self.axes)
        return dataclasses.replace(self, base=with_overrides(self.base, {"corpus": absolute(self.base.data.corpus)}),
                                   axes=axes)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "strategy": self.strategy, "trials": self.trials,
                "metric": self.metric, "pruning": self.pruning, "seed": self.seed, "base": self.base.to_dict(),
                "axes": {axis.name: axis.to_dict() for axis in self.axes}}

    def to_toml(self) -> str:
        """The sweep as a file `tuirnn sweep FILE` (and the Sweep screen's Open) reads back as it is."""
        import tomli_w

        base = {section: table for section, table in self.base.to_dict().items() if section in SECTIONS}
        sweep = {"name": self.name, "description": self.description, "strategy": self.strategy,
                 "trials": self.trials, "metric": self.metric, "pruning": self.pruning, "seed": self.seed}
        axes = {axis.name: ({"start": axis.span[0], "stop": axis.span[1], "step": axis.span[2]} if axis.span
                            else list(axis.values)) for axis in self.axes}
        chosen = {"base": {"preset": self.base.preset}} if self.base.preset else {}
        return tomli_w.dumps({"sweep": sweep, **chosen, **base, "axes": axes})

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SweepDefinition:
        """Read back `to_dict` (sweep.json); values are checked again, so an edited file cannot smuggle junk in."""
        axes = []
        for name, axis in raw["axes"].items():
            parsed = parse_axis(name, list(axis["values"]))
            axes.append(Axis(parsed.name, parsed.values, tuple(axis["span"]) if axis.get("span") else None))
        return cls(str(raw["name"]), RunConfig.from_dict(raw["base"]), tuple(axes), str(raw["strategy"]),
                   int(raw["trials"]), str(raw["metric"]), str(raw["pruning"]), int(raw["seed"]),
                   str(raw.get("description", "")))


@dataclass(frozen=True)
class _Preset:
    description: str
    toml: str


SWEEP_PRESETS: dict[str, _Preset] = {
    "study-layers": _Preset(
        "The study's depth sweep: LSTM with 1 to 4 layers, 512 hidden, dropout 0.3, seq 42, batch 64, Adam 1e-3, "
        "60 epochs; measured by the last training batch's loss",
        """
        [sweep]
        strategy = "grid"
        metric = "last_loss"
        [base]
        preset = "study-rnn2"
        [model]
        dropout = 0.3
        [axes]
        layers = {start = 1, stop = 4, step = 1}
        """,
    ),
    "study-grid": _Preset(
        "The study's grid: 2-layer LSTM, hidden 256..1024 step 128 x dropout 0.1..0.9 step 0.1 (63 trials); "
        "measured by the last training batch's loss",
        """
        [sweep]
        strategy = "grid"
        metric = "last_loss"
        [base]
        preset = "study-rnn2"
        [model]
        layers = 2
        [axes]
        hidden_size = {start = 256, stop = 1024, step = 128}
        dropout = {start = 0.1, stop = 0.9, step = 0.1}
        """,
    ),
}


def parse_sweep(raw: dict[str, Any], name: str) -> SweepDefinition:
    """Build a sweep from parsed TOML: [sweep], [base] preset, [model]/[data]/[train] base settings, [axes]."""
    unknown = set(raw) - {"sweep", "base", "axes", *SECTIONS}
    if unknown:
        raise ConfigError(f"unknown table(s) {', '.join(sorted(unknown))}; expected sweep, base, axes, "
                          f"{', '.join(SECTIONS)}")
    sweep, base_table, axes_table = raw.get("sweep", {}), raw.get("base", {}), raw.get("axes", {})
    for title, table in (("sweep", sweep), ("base", base_table), ("axes", axes_table)):
        if not isinstance(table, dict):
            raise ConfigError(f"[{title}] must be a table")
    allowed = {"name", "description", "strategy", "trials", "metric", "pruning", "seed"}
    if set(sweep) - allowed:
        raise ConfigError(f"unknown [sweep] key(s) {', '.join(sorted(set(sweep) - allowed))}; "
                          f"expected {', '.join(sorted(allowed))}")
    if set(base_table) - {"preset"}:
        raise ConfigError("[base] takes only preset; put settings in [model], [data] and [train]")
    base = preset(base_table["preset"]) if base_table.get("preset") else RunConfig()
    apply_tables(base, raw)
    try:
        trials, seed = int(sweep.get("trials", 0)), int(sweep.get("seed", 0))
    except (TypeError, ValueError):
        raise ConfigError("[sweep] trials and seed must be whole numbers") from None
    return SweepDefinition(
        name=str(sweep.get("name", name)),
        base=base,
        axes=tuple(parse_axis(axis_name, value) for axis_name, value in axes_table.items()),
        strategy=str(sweep.get("strategy", "grid")),
        trials=trials,
        metric=str(sweep.get("metric", "val_loss")),
        pruning=str(sweep.get("pruning", "none")),
        seed=seed,
        description=str(sweep.get("description", "")),
    )


def sweep_preset(name: str) -> SweepDefinition:
    if name not in SWEEP_PRESETS:
        raise ConfigError(f"unknown sweep preset {name!r}; choose one of {', '.join(SWEEP_PRESETS)} "
                          "or give a .toml file")
    definition = parse_sweep(tomllib.loads(SWEEP_PRESETS[name].toml), name)  # TOML ignores the indentation
    definition.description = SWEEP_PRESETS[name].description
    return definition


def load_sweep(spec: str | Path) -> SweepDefinition:
    """A built-in preset by name, or a sweep TOML file."""
    if str(spec) in SWEEP_PRESETS:
        return sweep_preset(str(spec))
    path = Path(spec)
    if not path.exists() and path.suffix != ".toml":
        return sweep_preset(str(spec))  # raises the "unknown preset" message
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    try:
        return parse_sweep(raw, path.stem)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def describe_point(params: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in params.items())


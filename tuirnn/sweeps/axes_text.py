"""Sweep axes as lines of text, one axis a line, as the Sweep screen's setup form shows and reads them.

`name = a, b, c` or `name = start..stop step s`; `#` starts a comment. The values go through the sweep
definition's own parser, so typed axes are checked as a TOML sweep's are; a loaded sweep is written back
as text that parses to the same axes.
"""

from __future__ import annotations

from typing import Any

from tuirnn.config import ConfigError
from tuirnn.sweeps.definition import Axis, parse_axis


def value_label(value: Any) -> str:
    """An axis value as a short label: 0.1, not 0.1000000000000000055."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def number_text(value: float) -> str:
    """A number the axis parser reads back exactly (256, not 256.0; 0.1, not 0.1000000000000000055)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def axis_text(axis: Axis) -> str:
    if axis.span is not None:
        start, stop, step = map(number_text, axis.span)
        return f"{axis.name} = {start}..{stop} step {step}"
    values = (number_text(v) if isinstance(v, float) else str(v) for v in axis.values)
    return f"{axis.name} = {', '.join(values)}"


def parse_axes_text(text: str) -> tuple[list[Axis], list[str]]:
    """The axes of `text`, and an error for each line that is not one (numbered from 1)."""
    axes: list[Axis] = []
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, equals, values = (part.strip() for part in line.partition("="))
        if not (name and equals and values):
            errors.append(f"axes line {number}: write `name = a, b` or `name = start..stop step s`")
            continue
        raw: Any = values if ".." in values else [v.strip().strip("\"'") for v in values.strip("[]").split(",")]
        try:
            axes.append(parse_axis(name, raw))
        except ConfigError as exc:
            errors.append(f"axes line {number}: {exc}")
    return axes, errors

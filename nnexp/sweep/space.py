"""The search space: sample one trial's values and write them as Hydra overrides.

A sampled value becomes the text of a ``key=value`` override exactly as a user would type it
(floats at full ``repr`` precision, lists as ``[64,64]``, ``null``/``true``), so a trial's
override line re-creates its config bit for bit when pasted after ``python -m nnexp``.
Categorical choices that are lists are handed to Optuna as that override text (Optuna's
categorical values must be scalars).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nnexp.sweep.config import ParamSpec

MAX_GRID_POINTS = 10_000
_PLAIN = re.compile(r"^[A-Za-z0-9_./:+\-\[\],]+$")


@dataclass(frozen=True)
class Dimension:
    """A resolved :class:`ParamSpec`: the Optuna parameter ``name`` sets config ``key``."""

    name: str
    key: str
    type: str
    low: float | None
    high: float | None
    log: bool
    step: float | None
    choices: tuple[Any, ...]
    format: str | None
    is_group: bool = False

    @property
    def numeric(self) -> bool:
        return self.type in ("float", "int")


def resolve_space(space: Mapping[str, ParamSpec], groups: set[str]) -> list[Dimension]:
    """Turn the config's entries into :class:`Dimension` objects (no range checks here)."""
    dims = []
    for name, spec in space.items():
        kind = spec.type or ("categorical" if spec.choices is not None else "float")
        key = spec.key or name
        choices = tuple(
            override_value(c) if isinstance(c, list | dict) else c for c in (spec.choices or ())
        )
        low, high, step = spec.low, spec.high, spec.step
        if kind == "int":
            low, high = _maybe_int(low), _maybe_int(high)
            step = _maybe_int(step)
        dims.append(
            Dimension(
                name=name,
                key=key,
                type=kind,
                low=low,
                high=high,
                log=spec.log,
                step=step,
                choices=choices,
                format=spec.format,
                is_group=key in groups,
            )
        )
    return dims


def suggest(trial: Any, dim: Dimension) -> Any:
    """Ask the Optuna ``trial`` for this dimension's value."""
    if dim.type == "float":
        return trial.suggest_float(dim.name, dim.low, dim.high, log=dim.log, step=dim.step)
    if dim.type == "int":
        return trial.suggest_int(
            dim.name, int(dim.low), int(dim.high), log=dim.log, step=int(dim.step or 1)
        )
    return trial.suggest_categorical(dim.name, list(dim.choices))


def distribution(dim: Dimension) -> Any:
    """The Optuna distribution of ``dim`` (used to check an enqueued or stored value)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if dim.type == "float":
        return FloatDistribution(dim.low, dim.high, log=dim.log, step=dim.step)
    if dim.type == "int":
        return IntDistribution(int(dim.low), int(dim.high), log=dim.log, step=int(dim.step or 1))
    return CategoricalDistribution(list(dim.choices))


def to_override(dim: Dimension, value: Any) -> str:
    """``key=value`` for a sampled value (``format`` applied)."""
    text = override_value(value)
    if dim.format:
        text = dim.format.format(value=text)
    return f"{dim.key}={text}"


def override_value(value: Any) -> str:
    """A Python value as Hydra override text: ``0.001``, ``[64,64]``, ``null``, ``true``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(override_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{override_value(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if text == "" or (not _PLAIN.match(text) and not text.startswith(("'", '"'))):
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def candidate_values(dim: Dimension) -> list[Any]:
    """The values a dry run checks: both ends of a range, every categorical choice."""
    if dim.type == "categorical":
        return list(dim.choices)
    if dim.type == "int":
        return [int(dim.low), int(dim.high)]
    return [float(dim.low), float(dim.high)]


def grid_values(dim: Dimension) -> list[Any]:
    """The points a grid sampler visits; float ranges need ``step``."""
    from nnexp.errors import ConfigError

    if dim.type == "categorical":
        return list(dim.choices)
    step = dim.step if dim.step is not None else (1 if dim.type == "int" else None)
    if step is None:
        raise ConfigError(
            f"sweep.space.{dim.name}: sampler=grid needs a finite grid: give this float range a "
            f"step, or use choices"
        )
    count = math.floor((dim.high - dim.low) / step + 1e-9) + 1
    if count > MAX_GRID_POINTS:
        raise ConfigError(
            f"sweep.space.{dim.name}: sampler=grid would visit {count} points "
            f"(more than {MAX_GRID_POINTS}); give a larger step or use choices"
        )
    if dim.type == "int":
        return [int(dim.low) + i * int(step) for i in range(count)]
    return [float(dim.low) + i * step for i in range(count)]


def _maybe_int(value: float | None) -> Any:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value

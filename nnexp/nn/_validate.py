"""Small argument validators shared by the engine.

Every public constructor validates its arguments eagerly and raises ``ValueError`` naming the
bad value and the valid choices or range, so a typo in a config fails at construction time
with a message that says what to change, instead of producing NaNs ten epochs later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

DTYPES = {"float64": np.float64, "float32": np.float32}


def lookup(registry: Mapping[str, Any], name: Any, what: str) -> Any:
    """Return ``registry[name]``; unknown names raise ValueError listing the valid ones."""
    if not isinstance(name, str) or name not in registry:
        raise ValueError(f"unknown {what} {name!r}; valid: {', '.join(sorted(registry))}")
    return registry[name]


def number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Validate a finite real number in a (half-)open/closed interval and return it as float."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    bad = not math.isfinite(v)
    if low is not None and (v <= low if low_open else v < low):
        bad = True
    if high is not None and (v >= high if high_open else v > high):
        bad = True
    if bad:
        if low is not None and high is not None:
            rng = f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        elif low is not None:
            rng = f"{'>' if low_open else '>='} {low}"
        elif high is not None:
            rng = f"{'<' if high_open else '<='} {high}"
        else:
            rng = "finite"
        raise ValueError(f"{name} must be {rng}, got {value!r}")
    return v


def integer(name: str, value: Any, *, low: int | None = None) -> int:
    """Validate an integer (bools rejected) that is >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return int(value)


def seed_or_generator(name: str, value: Any) -> Any:
    """``value`` for ``numpy.random.default_rng``: a Generator, an int seed >= 0 (bools
    rejected) or None; anything else is a ValueError naming ``name`` and the valid forms."""
    if value is None or isinstance(value, np.random.Generator):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(
            f"{name} must be a numpy.random.Generator, an int seed >= 0 or None, got {value!r}"
        )
    return int(value)


def dtype(value: Any) -> np.dtype:
    """Accept np.float32/np.float64 (or their names / dtype objects); anything else is an error."""
    try:
        dt = np.dtype(value)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        raise ValueError(f"dtype must be one of float32, float64, got {value!r}")
    return dt


def no_extra_kwargs(what: str, kwargs: Mapping[str, Any], valid: tuple[str, ...]) -> None:
    """Unknown keyword arguments are a ValueError (not TypeError) listing the valid ones."""
    extra = sorted(set(kwargs) - set(valid))
    if extra:
        raise ValueError(
            f"unknown argument(s) {', '.join(extra)} for {what}; valid: "
            f"{', '.join(valid) if valid else '(none)'}"
        )

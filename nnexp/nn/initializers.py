"""Weight initialisers: ``init(shape, rng, **kw) -> float64 array``.

Weights are ``(fan_in, fan_out)`` (the engine computes ``x @ W``). Formulas follow
``torch.nn.init`` (mode ``fan_in`` for He/Kaiming, ``gain=1`` for Xavier/Glorot). Values are
drawn in float64 from the caller's Generator and cast by the model, so a float32 and a
float64 model built from the same seed start from the same weights up to rounding.

Biases are always initialised to zero (``zeros``): symmetry is already broken by the weights.
"""

from __future__ import annotations

import math

import numpy as np

from . import _validate as V


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) != 2:
        raise ValueError(f"initialisers expect a 2-D weight shape (fan_in, fan_out), got {shape}")
    return int(shape[0]), int(shape[1])


def normal(shape, rng: np.random.Generator, std: float = 0.01) -> np.ndarray:
    """N(0, std^2). Default std 0.01 (the classic 'small random numbers'); the tutorial's
    ``np.random.normal()`` corresponds to ``std=1.0``."""
    std = V.number("std", std, low=0.0, low_open=True)
    return rng.normal(0.0, std, size=shape)


def xavier_uniform(shape, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010): keeps the
    activation variance roughly constant forward and backward for tanh/sigmoid nets."""
    gain = V.number("gain", gain, low=0.0, low_open=True)
    fan_in, fan_out = _fans(shape)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape)


def xavier_normal(shape, rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    gain = V.number("gain", gain, low=0.0, low_open=True)
    fan_in, fan_out = _fans(shape)
    return rng.normal(0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def he_uniform(shape, rng: np.random.Generator) -> np.ndarray:
    """U(-b, b), b = sqrt(6 / fan_in) (He et al. 2015, ReLU gain sqrt 2, mode fan_in):
    compensates for ReLU zeroing half the units."""
    fan_in, _ = _fans(shape)
    b = math.sqrt(6.0 / fan_in)
    return rng.uniform(-b, b, size=shape)


def he_normal(shape, rng: np.random.Generator) -> np.ndarray:
    """N(0, 2 / fan_in)."""
    fan_in, _ = _fans(shape)
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)


def zeros(shape, rng: np.random.Generator | None = None) -> np.ndarray:
    """All zeros (biases). Draws nothing from ``rng``."""
    return np.zeros(shape)


INITIALIZERS = {
    "normal": normal,
    "xavier_uniform": xavier_uniform,
    "glorot_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "glorot_normal": xavier_normal,
    "he_uniform": he_uniform,
    "kaiming_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_normal": he_normal,
    "zeros": zeros,
}

_KWARGS = {normal: ("std",), xavier_uniform: ("gain",), xavier_normal: ("gain",)}


def get_initializer(name: str, **kwargs):
    """Return ``f(shape, rng) -> array`` for ``name``; unknown names/kwargs raise ValueError."""
    fn = V.lookup(INITIALIZERS, name, "initializer")
    V.no_extra_kwargs(f"initializer {name!r}", kwargs, _KWARGS.get(fn, ()))
    # validate eagerly (constructing the model should fail, not the first draw)
    for k, v in kwargs.items():
        V.number(k, v, low=0.0, low_open=True)

    def init(shape, rng):
        return fn(shape, rng, **kwargs)

    init.__name__ = name
    return init

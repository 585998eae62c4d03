"""Gradient clipping with torch's semantics, on a list of gradient arrays (in place).

* :func:`clip_grad_norm_` (``torch.nn.utils.clip_grad_norm_``, norm type 2): the global norm
  ``N = sqrt(sum of every squared gradient element)`` over all arrays; when
  ``max_norm / (N + 1e-6) < 1`` every gradient is multiplied by that coefficient. Returns
  ``N``, the norm *before* clipping (what torch returns and what a run logs as
  ``grad_norm``).
* :func:`clip_grad_value_` (``torch.nn.utils.clip_grad_value_``): every element clamped to
  ``[-clip_value, clip_value]``.

A list of views of one flat buffer (the MLP's ``grads``) is handled as that one buffer: one
BLAS dot product for the norm, one multiply for the scaling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .optimizers import flat_base


def _arrays(grads: Sequence[np.ndarray]) -> list[np.ndarray]:
    base = flat_base(grads)
    return [base] if base is not None else list(grads)


def global_norm(grads: Sequence[np.ndarray]) -> float:
    """``sqrt(sum_i ||g_i||^2)`` over all arrays (float, computed in the arrays' dtype)."""
    total = 0.0
    for g in _arrays(grads):
        flat = g.reshape(-1)
        total += float(np.dot(flat, flat))
    return math.sqrt(total)


def clip_grad_norm_(grads: Sequence[np.ndarray], max_norm: float) -> float:
    """Scale ``grads`` in place so their global norm is at most ``max_norm`` (torch's
    ``clip_coef = max_norm / (norm + 1e-6)``, applied when < 1); return the pre-clip norm."""
    norm = global_norm(grads)
    coef = float(max_norm) / (norm + 1e-6)
    if coef < 1.0:
        for g in _arrays(grads):
            g *= coef
    return norm


def clip_grad_value_(grads: Sequence[np.ndarray], clip_value: float) -> None:
    """Clamp every element of ``grads`` to ``[-clip_value, clip_value]`` in place."""
    c = float(clip_value)
    for g in _arrays(grads):
        np.clip(g, -c, c, out=g)

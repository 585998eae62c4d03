"""Gradient checking by central differences: the standard way to debug backprop.

For every parameter element ``w``: ``(L(w + eps) - L(w - eps)) / (2 eps)`` (truncation error
O(eps^2)), compared with the analytic gradient by the norm-based relative error
``||g_a - g_n|| / (||g_a|| + ||g_n||)`` per parameter array (0 when both are 0). Correct
backprop in float64 gives ~1e-10..1e-8; a bug gives ~1e-2..1. Dropout is disabled (the loss
must be a deterministic function of the weights); weight decay is not part of the loss.
Use a float64 model: in float32 the finite differences are dominated by rounding.
"""

from __future__ import annotations

import numpy as np

from . import _validate as V


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of scalar ``f()`` w.r.t. array ``x`` (perturbed in place,
    restored exactly afterwards)."""
    grad = np.zeros(x.shape, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + eps
        fp = f()
        x[idx] = old - eps
        fm = f()
        x[idx] = old
        grad[idx] = (fp - fm) / (2.0 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``||a - b|| / (||a|| + ||b||)``, 0.0 when both are zero."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    den = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if den == 0.0 else float(np.linalg.norm(a - b) / den)


def gradient_check(model, X, y, eps: float = 1e-6) -> dict[str, float]:
    """Relative error between backprop and central differences, per parameter name.

    ``model`` is an :class:`~nnexp.nn.mlp.MLP`; ``X``/``y`` a (small) batch. Costs two eval
    forward passes per parameter element. The model's parameters are left unchanged
    (bit-exact) and its gradients hold the analytic gradient afterwards.
    """
    eps = V.number("eps", eps, low=0.0, low_open=True)
    model.loss_and_grads(X, y, dropout=False)
    analytic = [g.copy() for g in model.grads]
    X = np.asarray(X, model.dtype)

    def f() -> float:
        return model.loss(X, y)

    out = {}
    for name, p, ga in zip(model.param_names, model.params, analytic, strict=True):
        out[name] = relative_error(ga, numerical_gradient(f, p, eps))
    return out

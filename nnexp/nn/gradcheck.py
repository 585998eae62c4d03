"""Gradient checking by central differences: the standard way to debug backprop.

For every parameter element ``w``: ``(L(w + eps) - L(w - eps)) / (2 eps)`` (truncation error
O(eps^2)), compared with the analytic gradient by the norm-based relative error
``||g_a - g_n|| / (||g_a|| + ||g_n||)`` per parameter array (0 when both are 0). Correct
backprop in float64 gives ~1e-10..1e-8; a bug gives ~1e-2..1. Dropout is disabled (the loss
must be a deterministic function of the weights); weight decay is not part of the loss.
Use a float64 model: in float32 the finite differences are dominated by rounding.

Pass/fail: :func:`gradient_check` also says whether every array's error is at most
``THRESHOLD = 1e-6``. Measured with ``python benchmarks/gradcheck_errors.py`` (every smooth
activation x every output/loss pair x norm none/batch/layer, small random float64 networks,
eps 1e-6): correct code reached at most 5.3e-8 (sigmoid hidden units, softmax + MSE, whose
small gradients lose digits to the finite differences); deliberate bugs gave 5e-4 (dW off by
0.1%) and 1 (a bias gradient dropped). 1e-6 sits 20x above the worst correct case and more
than two decades below the mildest bug.

An array whose analytic and numerical gradients are both within ``100 |L| u / eps`` of zero
(``u`` the float64 machine epsilon: the rounding floor of a central difference) counts as
exact (error 0.0): the bias of a Dense layer followed by BatchNorm has gradient exactly 0,
which the finite differences see only as noise.

Normalisation: the numerical loss is the training-mode loss the analytic gradient belongs to
(BatchNorm on batch statistics, running statistics untouched): :meth:`MLP.training_loss`.
"""

from __future__ import annotations

import numpy as np

from . import _validate as V

#: largest per-array relative error that passes (see the module docstring for the measurements)
THRESHOLD = 1e-6


class GradientCheck(dict):
    """``{param name: relative error}`` plus the verdict: ``passed`` (every error <=
    ``threshold``), ``threshold`` and ``max_error``."""

    def __init__(self, errors: dict[str, float], threshold: float = THRESHOLD) -> None:
        super().__init__(errors)
        self.threshold = threshold
        self.max_error = max(errors.values(), default=0.0)
        self.passed = bool(self.max_error <= threshold)

    def __repr__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"GradientCheck({verdict}, max_error={self.max_error:.3g}, {dict(self)!r})"


def numerical_gradient(
    f, x: np.ndarray, eps: float = 1e-6, index: np.ndarray | None = None
) -> np.ndarray:
    """Central-difference gradient of scalar ``f()`` w.r.t. array ``x`` (perturbed in place,
    restored exactly afterwards): shape ``x.shape``; with ``index`` (flat indices into ``x``),
    only those elements' partial derivatives, shape (len(index),)."""
    flat = x.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient perturbs x in place: x must be contiguous")
    positions = range(flat.size) if index is None else index
    grad = np.empty(len(positions), dtype=np.float64)
    for j, i in enumerate(positions):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        grad[j] = (up - down) / (2.0 * eps)
    return grad.reshape(x.shape) if index is None else grad


def relative_error(a: np.ndarray, b: np.ndarray, atol: float = 0.0) -> float:
    """``||a - b|| / (||a|| + ||b||)``; 0.0 when every element of both is within ``atol`` of
    zero (both are zero at working precision)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0)) <= atol:
        return 0.0
    den = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if den == 0.0 else float(np.linalg.norm(a - b) / den)


def sampled_elements(size: int, max_elements: int | None) -> np.ndarray | None:
    """Flat indices of at most ``max_elements`` elements evenly spaced through an array of
    ``size`` (the same ones every time); None for all of them."""
    if max_elements is None or size <= max_elements:
        return None
    return np.unique(np.linspace(0, size - 1, max_elements).astype(np.int64))


def gradient_check(
    model,
    X,
    y,
    eps: float = 1e-6,
    threshold: float = THRESHOLD,
    max_elements: int | None = None,
) -> GradientCheck:
    """Relative error between backprop and central differences, per parameter name, and
    whether all of them are within ``threshold`` (``result.passed``).

    ``model`` is an :class:`~nnexp.nn.mlp.MLP`; ``X`` (n, d) / ``y`` a (small) batch (n >= 2
    with BatchNorm). Costs two forward passes per parameter element checked: with
    ``max_elements`` (a positive int; None checks every element), a larger array is checked
    on that many of its elements (evenly spaced, :func:`sampled_elements`). The model's parameters and running statistics are left
    unchanged (bit-exact) and its gradients hold the analytic gradient afterwards.
    """
    eps = V.number("eps", eps, low=0.0, low_open=True)
    threshold = V.number("threshold", threshold, low=0.0, low_open=True)
    if max_elements is not None:  # 0 would check nothing and pass any backward pass
        if isinstance(max_elements, bool) or not isinstance(max_elements, (int, np.integer)):
            raise TypeError(
                f"max_elements must be a positive int or None (every element), got {max_elements!r}"
            )
        if max_elements < 1:
            raise ValueError(
                f"max_elements must be a positive int or None (every element), got {max_elements!r}"
            )
    buffers = [b.copy() for b in getattr(model, "buffers", ())]
    try:
        value = model.loss_and_grads(X, y, dropout=False)
    finally:
        for b, saved in zip(getattr(model, "buffers", ()), buffers, strict=True):
            b[...] = saved
    analytic = [g.copy() for g in model.grads]
    X = np.asarray(X, model.dtype)
    loss = getattr(model, "training_loss", model.loss)

    def f() -> float:
        return loss(X, y)

    # below this, a central difference is rounding noise: |L| * machine eps / eps, times 100
    atol = 100.0 * float(np.finfo(np.float64).eps) * max(1.0, abs(value)) / eps
    out = {}
    for name, p, ga in zip(model.param_names, model.params, analytic, strict=True):
        index = sampled_elements(p.size, max_elements)
        if index is None:
            out[name] = relative_error(ga, numerical_gradient(f, p, eps), atol)
        else:
            numeric = numerical_gradient(f, p, eps, index)
            out[name] = relative_error(ga.reshape(-1)[index], numeric, atol)
    return GradientCheck(out, threshold)

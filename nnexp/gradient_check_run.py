"""``trainer.gradient_check=true``: check backprop on the configured model before training.

The check is nnexp's own (:func:`nnexp.nn.gradcheck.gradient_check`: central differences vs
backprop, the norm-based relative error per parameter array) on the configured network with
its initial weights and a batch of the real training data, in float64 (a float32 model is
checked through a float64 copy: in float32 the finite differences drown in rounding). The worst
relative error is logged as the metric ``gradient_check_max_error``; above
:data:`MAX_RELATIVE_ERROR` the run stops with one line naming the layer.

Cost: two forward passes per parameter element, so large layers are checked on a sample of
their elements (:data:`MAX_ELEMENTS_PER_ARRAY`, the same ones every time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nnexp.errors import NnexpError

#: Stop above this relative error. Correct float64 backprop gives 1e-10..1e-7 here; a ReLU
#: kink crossed by the finite difference can raise one array's error to ~1e-6; a wrong
#: derivative gives 1e-3..1 (CS231n's rule: above 1e-4 "usually means the gradient is wrong"
#: for kink-free functions).
MAX_RELATIVE_ERROR = 1e-4
#: Rows of the training data the check runs on (the first ones: same batch every time).
BATCH_ROWS = 16
#: Elements checked per parameter array at most (evenly spaced through the array).
MAX_ELEMENTS_PER_ARRAY = 256
#: The finite-difference step.
EPS = 1e-6
METRIC = "gradient_check_max_error"


class GradientCheckFailed(NnexpError):
    """Backprop disagrees with finite differences: the engine (or a new op) has a bug."""


@dataclass
class GradientCheck:
    """Relative error per parameter name (``W1``, ``b1``, ...) and the worst of them."""

    errors: dict[str, float]

    @property
    def worst(self) -> tuple[str, float]:
        name = max(self.errors, key=lambda key: self.errors[key])
        return name, self.errors[name]

    @property
    def max_error(self) -> float:
        return self.worst[1]

    def failure(self) -> str | None:
        """The one-line error if the worst error is above the threshold, else None."""
        name, error = self.worst
        if error <= MAX_RELATIVE_ERROR:
            return None
        layer = name[1:] if name[:1] in "Wb" and name[1:].isdigit() else "?"
        return (
            f"gradient check failed: layer {layer} ({name}) has relative error {error:.3g} "
            f"between backprop and finite differences (threshold {MAX_RELATIVE_ERROR:g}); "
            "the backward pass of that layer or its activation is wrong"
        )


def check_model(model, X: np.ndarray, y: np.ndarray) -> GradientCheck:
    """Check ``model``'s backprop on the first :data:`BATCH_ROWS` rows of ``X`` (n, d_in)."""
    from nnexp.nn.gradcheck import gradient_check, relative_error

    probe = _float64_copy(model)
    Xb, yb = np.asarray(X[:BATCH_ROWS], np.float64), np.asarray(y[:BATCH_ROWS])
    if np.issubdtype(yb.dtype, np.floating):
        yb = yb.astype(np.float64)
    if all(p.size <= MAX_ELEMENTS_PER_ARRAY for p in probe.params):  # the check, unabridged
        return GradientCheck(gradient_check(probe, Xb, yb, eps=EPS))
    probe.loss_and_grads(Xb, yb, dropout=False)
    analytic = [g.copy() for g in probe.grads]

    def loss() -> float:
        return probe.loss(Xb, yb)

    errors = {}
    for name, param, grad in zip(probe.param_names, probe.params, analytic, strict=True):
        flat = param.reshape(-1)
        index = _sample(flat.size)
        numeric = np.empty(index.size)
        for j, i in enumerate(index):
            old = flat[i]
            flat[i] = old + EPS
            up = loss()
            flat[i] = old - EPS
            down = loss()
            flat[i] = old
            numeric[j] = (up - down) / (2.0 * EPS)
        errors[name] = relative_error(grad.reshape(-1)[index], numeric)
    return GradientCheck(errors)


def _sample(size: int) -> np.ndarray:
    if size <= MAX_ELEMENTS_PER_ARRAY:
        return np.arange(size)
    return np.unique(np.linspace(0, size - 1, MAX_ELEMENTS_PER_ARRAY).astype(np.int64))


def _float64_copy(model):
    """The model itself when it is float64, else a float64 copy with the same weights (the
    model's own arrays are never perturbed then)."""
    if model.dtype == np.float64:
        return model
    from nnexp.nn import MLP

    copy = MLP.from_config(model.config(), dtype=np.float64)
    copy.set_params([p.astype(np.float64) for p in model.params])
    return copy

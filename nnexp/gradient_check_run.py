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
    from nnexp.nn.gradcheck import gradient_check

    probe = _float64_copy(model)
    Xb, yb = np.asarray(X[:BATCH_ROWS], np.float64), np.asarray(y[:BATCH_ROWS])
    if np.issubdtype(yb.dtype, np.floating):
        yb = yb.astype(np.float64)
    errors = gradient_check(probe, Xb, yb, eps=EPS, max_elements=MAX_ELEMENTS_PER_ARRAY)
    return GradientCheck(dict(errors))


def _float64_copy(model):
    """The model itself when it is float64, else a float64 copy with the same weights (the
    model's own arrays are never perturbed then)."""
    if model.dtype == np.float64:
        return model
    from nnexp.nn import MLP

    copy = MLP.from_config(model.config(), dtype=np.float64)
    copy.set_params([p.astype(np.float64) for p in model.params])
    return copy

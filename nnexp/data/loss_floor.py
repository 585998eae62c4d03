"""The least loss any model can reach under the run's criterion: 0, except with label smoothing.

A softmax cross-entropy with label smoothing ``eps`` trains against the smoothed targets
``(1 - eps) onehot(y) + eps / k``; a model that predicts exactly those probabilities still pays
their entropy, ``0.639`` for ``eps = 0.3`` on three classes. The diagnosis measures a fit
between this floor and the trivial baseline (:mod:`nnexp.data.baseline`), not between 0 and
the baseline, or a perfect model would read as underfitting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .baseline import _labels, _targets

__all__ = ["loss_floor"]


def loss_floor(
    split_eval: Any,
    loss: str,
    n_classes: int,
    *,
    label_smoothing: float = 0.0,
    class_weight: Any = None,
) -> float:
    """Least mean ``loss`` on ``split_eval`` (a ``Split`` or its labels ``y``, shape (n,)) over
    every per-sample prediction, for torch's ``CrossEntropyLoss(weight=w, label_smoothing=eps)``.

    Sample ``i`` of class ``c`` adds ``-sum_j b_j log q_j`` to the weighted sum (divided by
    ``S = sum_i w[y_i]``), with ``b_j = (1 - eps) w_c [j == c] + eps w_j / k``. Gibbs'
    inequality puts its least value at ``q = b / B``, ``B = sum_j b_j``: ``-sum_j b_j
    log(b_j / B)``. Unweighted this is the entropy of the smoothed target, the same for every
    sample. Every other criterion (no smoothing; bce, mse) can reach 0, the floor returned.
    """
    eps = float(label_smoothing)
    if loss != "cross_entropy" or not eps:
        return 0.0
    k = int(n_classes)
    y = _labels(_targets(split_eval), "eval")
    w = np.ones(k) if class_weight is None else np.asarray(class_weight, np.float64)
    counts = np.bincount(y, minlength=k).astype(np.float64)
    floors = np.empty(k)
    for c in range(k):
        b = eps * w / k
        b[c] += (1.0 - eps) * w[c]
        floors[c] = -np.dot(b, np.log(b / b.sum()))
    return float(np.dot(counts, floors) / np.dot(w, counts))

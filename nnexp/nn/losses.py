"""Plain (unfused) losses on *activated* predictions, forward next to backward.

The MLP trains with the fused, logit-level heads in :mod:`nnexp.nn.heads` (stable for any
logit); these classes serve the generic output/loss pairings (e.g. softmax + mse) and
standalone evaluation of predictions.

Conventions: ``pred`` and ``y`` are (n, k); ``cross_entropy`` takes probabilities (n, k) and
integer labels (n,). All losses are means: ``mse`` over samples *and* outputs (the tutorial's
``((y_true - y_pred) ** 2).mean()``), ``bce`` over all elements, ``cross_entropy`` over samples.
"""

from __future__ import annotations

import numpy as np


class Loss:
    """``forward(pred, y) -> float`` caches; ``backward() -> dL/dpred`` with ``pred``'s shape."""

    name = ""

    def forward(self, pred: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError


class MSELoss(Loss):
    """``L = mean((pred - y)^2)``; ``dL/dpred = 2 (pred - y) / N`` with N = n * k.

    For one sample and one output this is exactly the tutorial's ``-2 * (y_true - y_pred)``.
    """

    name = "mse"

    def forward(self, pred, y):
        self._d = d = pred - y
        self._scale = 2.0 / d.size
        flat = d.reshape(-1)
        return float(np.dot(flat, flat)) / d.size

    def backward(self):
        g = self._d * self._scale
        return g


class BCELoss(Loss):
    """``L = -mean(y log p + (1 - y) log(1 - p))`` on probabilities ``p``.

    Probabilities are clipped to [tiny, 1 - eps] so saturated predictions give a large but
    finite loss; prefer the fused sigmoid+bce head, which is exact for any logit.
    """

    name = "bce"

    def forward(self, pred, y):
        eps = float(np.finfo(pred.dtype).eps)
        p = np.clip(pred, eps, 1.0 - eps)
        self._p, self._y = p, y
        return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))

    def backward(self):
        p, y = self._p, self._y
        return (p - y) / (p * (1.0 - p)) / p.size


class CrossEntropyLoss(Loss):
    """``L = -mean_i log p[i, y_i]`` on probabilities (n, k) with integer labels (n,)."""

    name = "cross_entropy"

    def forward(self, pred, y):
        eps = float(np.finfo(pred.dtype).tiny)
        self._rows = r = np.arange(pred.shape[0])
        self._y = y
        self._picked = p = np.maximum(pred[r, y], eps)
        self._shape = pred.shape
        self._dtype = pred.dtype
        return float(-np.mean(np.log(p)))

    def backward(self):
        g = np.zeros(self._shape, self._dtype)
        g[self._rows, self._y] = -1.0 / (self._picked * self._shape[0])
        return g


LOSSES: dict[str, type[Loss]] = {
    "mse": MSELoss,
    "bce": BCELoss,
    "cross_entropy": CrossEntropyLoss,
}

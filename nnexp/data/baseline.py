"""The loss of a model that ignores its input: the floor any real model must beat.

``trivial_baseline`` predicts the training prior (class frequencies) for classification
or the training mean for regression, and scores that constant prediction on an eval
split. A trained model whose validation loss is not clearly below this number has learnt
nothing from X (underfitting, or a broken pipeline).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import check_choice

__all__ = ["BASELINE_EPS", "LOSSES", "trivial_accuracy", "trivial_baseline"]

LOSSES = ("cross_entropy", "bce", "mse")
# Probabilities are clipped to [eps, 1] before the log: a class absent from the training
# split would otherwise give an infinite loss.
BASELINE_EPS = 1e-12


def _targets(split: Any) -> np.ndarray:
    """Accept a ``Split`` (anything with ``.y``) or the target array itself."""
    return np.asarray(getattr(split, "y", split))


def _labels(y: np.ndarray, what: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or (y.size and np.any(y != np.round(y))) or (y.size and y.min() < 0):
        raise ValueError(f"{what}: classification targets must be (n,) non-negative integer labels")
    return y.astype(np.int64)


def trivial_baseline(
    split_train: Any,
    split_eval: Any,
    task: str,
    loss: str,
    n_classes: int | None = None,
) -> float:
    """Loss on ``split_eval`` of predicting the training prior / mean for every sample.

    Args:
        split_train, split_eval: ``Split`` objects (or their ``y`` arrays).
        task: ``"classification"`` or ``"regression"``.
        loss: ``"cross_entropy"``, ``"bce"`` or ``"mse"``.
        n_classes: number of classes; default ``max label + 1`` over both splits.

    Definitions (``p`` = training class frequencies, labels ``y`` of the eval split):

    * ``cross_entropy``: ``-mean(log p[y])``.
    * ``bce`` (2 classes, 0/1 labels): ``-mean(y log p1 + (1 - y) log(1 - p1))`` with
      ``p1`` the training fraction of 1s; equal to ``cross_entropy`` on two classes.
    * ``mse``, classification with 2 classes (sigmoid + MSE on 0/1 targets):
      ``mean((y - p1) ** 2)``; with more classes, one-hot targets against the prior
      vector, averaged over all ``n * k`` entries.
    * ``mse``, regression: ``mean((y - mean(y_train, axis=0)) ** 2)`` over all entries.

    Probabilities are clipped to ``[BASELINE_EPS, 1]`` before the log.
    """
    task = check_choice("task", task, ("classification", "regression"))
    loss = check_choice("loss", loss, LOSSES)
    y_tr, y_ev = _targets(split_train), _targets(split_eval)
    if len(y_tr) == 0 or len(y_ev) == 0:
        raise ValueError("trivial_baseline needs non-empty train and eval splits")

    if task == "regression":
        if loss != "mse":
            raise ValueError(f"loss {loss!r} is for classification; regression uses 'mse'")
        y_tr, y_ev = y_tr.astype(np.float64), y_ev.astype(np.float64)
        return float(np.mean((y_ev - y_tr.mean(axis=0)) ** 2))

    y_tr, y_ev = _labels(y_tr, "train"), _labels(y_ev, "eval")
    k = int(max(y_tr.max(), y_ev.max())) + 1 if n_classes is None else int(n_classes)
    if max(y_tr.max(), y_ev.max()) >= k:
        raise ValueError(f"labels exceed n_classes={k}")
    prior = np.bincount(y_tr, minlength=k) / len(y_tr)
    if loss == "bce" and k > 2:
        raise ValueError(f"loss 'bce' needs 2 classes (0/1 labels), got {k}")
    if loss in ("cross_entropy", "bce"):
        return float(-np.mean(np.log(np.clip(prior[y_ev], BASELINE_EPS, 1.0))))
    if k <= 2:
        p1 = prior[1] if k == 2 else 0.0
        return float(np.mean((y_ev - p1) ** 2))
    one_hot = np.eye(k)[y_ev]
    return float(np.mean((one_hot - prior) ** 2))


def trivial_accuracy(split_train: Any, split_eval: Any) -> float:
    """Accuracy on ``split_eval`` of always predicting the training majority class
    (ties go to the smallest label)."""
    y_tr = _labels(_targets(split_train), "train")
    y_ev = _labels(_targets(split_eval), "eval")
    majority = int(np.argmax(np.bincount(y_tr)))
    return float(np.mean(y_ev == majority))

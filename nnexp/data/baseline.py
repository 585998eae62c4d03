"""The loss of a model that ignores its input: the floor any real model must beat.

``trivial_baseline`` predicts the best constant for the training split (the class prior for
classification, the mean for regression) and scores that constant prediction on an eval
split, under the run's own criterion: with label smoothing and class weights the best constant
is not the prior and the loss is not the plain cross-entropy (see the function's docstring). A
trained model whose validation loss is not clearly below this number has learnt nothing from X
(underfitting, or a broken pipeline).
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
    *,
    label_smoothing: float = 0.0,
    class_weight: Any = None,
) -> float:
    """Loss on ``split_eval`` of predicting the training prior / mean for every sample.

    Args:
        split_train, split_eval: ``Split`` objects (or their ``y`` arrays).
        task: ``"classification"`` or ``"regression"``.
        loss: ``"cross_entropy"``, ``"bce"`` or ``"mse"``.
        n_classes: number of classes; default ``max label + 1`` over both splits.
        label_smoothing: ``eps`` of a softmax cross-entropy (torch's ``label_smoothing``).
        class_weight: ``w``, one weight per class (``cross_entropy``: k, ``bce``: 2), as the
            engine's heads take them (``nnexp.nn.heads``), or None.

    Definitions (``p`` = training class frequencies, labels ``y`` of the eval split):

    * ``cross_entropy``: ``-mean(log p[y])``.
    * ``bce`` (2 classes, 0/1 labels): ``-mean(y log p1 + (1 - y) log(1 - p1))`` with
      ``p1`` the training fraction of 1s; equal to ``cross_entropy`` on two classes.

    With smoothing or weights the constant is the one that minimises the criterion on the
    training split. ``cross_entropy`` (torch's ``CrossEntropyLoss(weight=w,
    label_smoothing=eps)``, mean reduction): for constant probabilities ``q`` and class counts
    ``n_c`` (n samples) the loss is ``-sum_c a_c log q_c / S`` with
    ``a_c = w_c ((1 - eps) n_c + eps n / k)`` and ``S = sum_c w_c n_c``: a cross-entropy
    against the distribution ``a / sum(a)``, least (Gibbs' inequality) at ``q = a / sum(a)``.
    The baseline is the same expression on the eval split's counts with that ``q``.
    ``bce`` with weights (``BCEWithLogitsLoss(weight=w[y])``, mean over the n samples, not
    normalised by the weights): ``-(w1 n1 log p + w0 n0 log(1 - p)) / n``, least at
    ``p = w1 n1 / (w0 n0 + w1 n1)``; scored on the eval split's counts with that ``p``.
    Without options both reduce to the prior above.
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
    if label_smoothing and loss != "cross_entropy":
        raise ValueError(f"label_smoothing applies to cross_entropy only, got loss {loss!r}")
    if class_weight is not None and loss == "mse":
        raise ValueError("class weights apply to cross_entropy and bce, not mse")
    if loss in ("cross_entropy", "bce") and (label_smoothing or class_weight is not None):
        return _criterion_baseline(
            y_tr, y_ev, loss, max(k, 2), float(label_smoothing), class_weight
        )
    if loss in ("cross_entropy", "bce"):
        return float(-np.mean(np.log(np.clip(prior[y_ev], BASELINE_EPS, 1.0))))
    if k <= 2:
        p1 = prior[1] if k == 2 else 0.0
        return float(np.mean((y_ev - p1) ** 2))
    one_hot = np.eye(k)[y_ev]
    return float(np.mean((one_hot - prior) ** 2))


def _criterion_baseline(
    y_tr: np.ndarray, y_ev: np.ndarray, loss: str, k: int, eps: float, class_weight: Any
) -> float:
    """The smoothed / weighted cases of :func:`trivial_baseline` (formulas there)."""
    n_classes = k if loss == "cross_entropy" else 2
    w = np.ones(n_classes) if class_weight is None else np.asarray(class_weight, np.float64)
    if w.shape != (n_classes,):
        raise ValueError(f"class_weight needs {n_classes} weights, got {class_weight!r}")
    counts_tr = np.bincount(y_tr, minlength=n_classes).astype(np.float64)
    counts_ev = np.bincount(y_ev, minlength=n_classes).astype(np.float64)
    if loss == "bce":
        p1 = w[1] * counts_tr[1] / (w[0] * counts_tr[0] + w[1] * counts_tr[1])
        q = np.clip(np.array([1.0 - p1, p1]), BASELINE_EPS, 1.0)
        return float(-np.dot(w * counts_ev, np.log(q)) / len(y_ev))
    a_tr = w * ((1.0 - eps) * counts_tr + eps * len(y_tr) / k)
    q = np.clip(a_tr / a_tr.sum(), BASELINE_EPS, 1.0)
    a_ev = w * ((1.0 - eps) * counts_ev + eps * len(y_ev) / k)
    return float(-np.dot(a_ev, np.log(q)) / np.dot(w, counts_ev))


def trivial_accuracy(split_train: Any, split_eval: Any) -> float:
    """Accuracy on ``split_eval`` of always predicting the training majority class
    (ties go to the smallest label)."""
    y_tr = _labels(_targets(split_train), "train")
    y_ev = _labels(_targets(split_eval), "eval")
    majority = int(np.argmax(np.bincount(y_tr)))
    return float(np.mean(y_ev == majority))

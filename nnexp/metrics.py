"""Evaluation metrics used by the training loop (NumPy only).

Loss values always come from the engine (``model.loss``) so that the number the optimiser
minimises and the number that is reported are the same function. This module adds the
human-facing metrics on top:

- classification: ``accuracy`` of ``model.predict(X)`` (labels) against the true labels;
- regression: ``rmse`` and ``r2`` (coefficient of determination, averaged uniformly over
  outputs like scikit-learn's ``r2_score``) of ``model.forward(X)`` against the targets.

``evaluate(model, X, y, task)`` bundles them into one flat dict of Python floats, the shape
of a history record.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TASKS", "accuracy", "evaluate", "metric_names", "r2", "rmse"]

TASKS = ("classification", "regression")


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of equal labels. Shapes ``(n,)`` or ``(n, 1)`` (0/1 floats are fine)."""
    t = np.asarray(y_true).reshape(-1)
    p = np.asarray(y_pred).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"accuracy: {t.size} true labels but {p.size} predictions")
    if t.size == 0:
        raise ValueError("accuracy: empty arrays")
    return float(np.mean(t == p))


def _as_2d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a.reshape(-1, 1) if a.ndim == 1 else a


def _check_pair(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, ...]:
    t, p = _as_2d(y_true), _as_2d(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"{name}: targets have shape {t.shape} but predictions {p.shape}")
    if t.shape[0] == 0:
        raise ValueError(f"{name}: empty arrays")
    return t, p


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error over all samples and outputs."""
    t, p = _check_pair("rmse", y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` per output, uniformly averaged.

    A constant target column (``SS_tot == 0``) scores 1.0 if predicted exactly, else 0.0
    (scikit-learn's ``force_finite`` convention), so the result is never NaN for finite input.
    """
    t, p = _check_pair("r2", y_true, y_pred)
    ss_res = np.sum((t - p) ** 2, axis=0)
    ss_tot = np.sum((t - t.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0), 0.0)
    scores = np.where((ss_tot == 0) & (ss_res == 0), 1.0, scores)
    return float(np.mean(scores))


def metric_names(task: str) -> tuple[str, ...]:
    """The metric keys (without ``train_``/``val_`` prefix) recorded for ``task``."""
    if task == "classification":
        return ("loss", "accuracy")
    if task == "regression":
        return ("loss", "rmse", "r2")
    raise ValueError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")


def evaluate(model, X: np.ndarray, y: np.ndarray, task: str, prefix: str = "") -> dict:
    """Loss and task metrics of ``model`` on ``(X, y)`` in eval mode (no dropout, no grads).

    Returns ``{prefix + "loss": ..., prefix + "accuracy": ...}`` for classification and
    ``{prefix + "loss", prefix + "rmse", prefix + "r2"}`` for regression, as Python floats.
    Values may be non-finite if the model has diverged; the caller checks.
    """
    out = {prefix + "loss": float(model.loss(X, y))}
    if task == "classification":
        out[prefix + "accuracy"] = accuracy(y, model.predict(X))
    elif task == "regression":
        pred = model.forward(X, training=False)
        t = np.asarray(y)
        if t.ndim == 1 and pred.ndim == 2 and pred.shape[1] == 1:
            pred = pred[:, 0]
        out[prefix + "rmse"] = rmse(t, pred)
        out[prefix + "r2"] = r2(t, pred)
    else:
        raise ValueError(f"unknown task {task!r}; valid: {', '.join(TASKS)}")
    return out

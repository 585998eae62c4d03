"""Do these inputs and targets fit this model's head? One check where training starts.

The heads' losses accept any finite float targets of the right shape, because checking their
values on every mini-batch would cost the hot loop a few reductions per step. So a head that
does not fit the data trains without complaint: BCE on labels {0, 1, 2} (loss 0.633 for a
target 2), BCE on negative regression targets, an identity head regressing class labels
(accuracy 0.0, as float outputs are never equal to labels), NaN targets (loss nan).
:func:`check_fit` refuses all of them once, over the whole split: ``fit`` calls it for every
split before the first step, ``MLP.loss_and_grads`` for its batch (outside ``fit``).

What fits (``k`` the head's units):

* ``softmax`` (cross-entropy or MSE): integer class labels in ``[0, k)``, shape (n,);
  the task, when known, is classification.
* ``sigmoid``: shape (n,) for one unit or (n, k); 0/1 labels for a classification task or
  with class weights, else values in [0, 1] (soft targets, as torch's BCE takes them).
* ``identity``: finite regression targets, shape (n,) for one unit or (n, k); the task, when
  known, is regression (class labels want a softmax or sigmoid head).

Inputs: finite, shape (n, d). Every problem is a ValueError naming the split (``what``), the
head, the first offending value and what would fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fitting_targets(head: Any) -> str:
    """What targets ``head`` (an ``nnexp.nn.heads.Head``) takes, as a phrase."""
    k = head.k
    if head.output_name == "softmax":
        return f"it takes integer class labels in [0, {k}) of shape (n,) (a classification task)"
    if head.output_name == "sigmoid":
        shape = "(n,)" if k == 1 else f"(n, {k})"
        return (
            f"it takes 0/1 labels of shape {shape} (or values in [0, 1] for a regression task "
            "without class weights); for more than 2 classes use output='softmax', for "
            "real-valued targets output='identity'"
        )
    shape = "(n,) or (n, 1)" if k == 1 else f"(n, {k})"
    return (
        f"it takes finite regression targets of shape {shape}; for class labels use "
        "output='softmax' (one unit per class) or output='sigmoid' (one unit, 2 classes)"
    )


def check_inputs(X: Any, what: str = "X") -> None:
    """Refuse a NaN/inf in the inputs ``X`` (n, d), naming its row and column."""
    X = np.asarray(X)
    if X.dtype.kind in "fc" and not np.isfinite(X).all():
        row, column = (int(i) for i in np.argwhere(~np.isfinite(X))[0])
        raise ValueError(
            f"{what} row {row}, column {column} is {X[row, column]}: inputs must be finite "
            "(no NaN or inf)"
        )


def check_targets(head: Any, y: Any, what: str = "targets", task: str | None = None) -> None:
    """Refuse targets ``y`` that do not fit ``head`` (see the module docstring); ``task``
    (``"classification"``/``"regression"`` or None) is what the data says it is."""
    y = np.asarray(y)
    output, k = head.output_name, head.k

    def fail(problem: str) -> ValueError:
        return ValueError(
            f"{what} do not fit the model's {output} head ({head.loss_name}, {k} unit(s)): "
            f"{problem}; {fitting_targets(head)}"
        )

    if y.dtype.kind not in "fiub":
        raise fail(f"dtype {y.dtype} is not numeric")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(y))[0])
        raise fail(f"target {index if y.ndim > 1 else index[0]} is {y[index].item()}")
    if output == "softmax":
        if task == "regression":
            raise fail("the data is a regression task")
        if y.ndim != 1:
            raise fail(f"shape {y.shape}")
        if y.size and (y.dtype.kind == "f" and not np.array_equal(y, np.floor(y))):
            raise fail(f"non-integer label {y[y != np.floor(y)][0].item()!r}")
        if y.size and (y.min() < 0 or y.max() >= k):
            raise fail(f"labels span [{y.min().item()}, {y.max().item()}]")
        return
    if output == "identity" and task == "classification":
        raise fail(f"the data is a classification task (class labels {_some(y)})")
    if not (y.ndim == 2 and y.shape[1] == k) and not (y.ndim == 1 and k == 1):
        raise fail(f"shape {y.shape}")
    if output == "sigmoid":
        if task == "classification" or head.class_weight is not None:
            bad = (y != 0) & (y != 1)
            if bad.any():
                raise fail(f"label {y[bad][0].item()!r} is not 0 or 1 (labels seen: {_some(y)})")
        elif y.size and (y.min() < 0 or y.max() > 1):
            raise fail(f"targets span [{y.min().item():.4g}, {y.max().item():.4g}], outside [0, 1]")
        return


def _some(y: np.ndarray, most: int = 5) -> str:
    values = np.unique(y)
    shown = ", ".join(str(v) for v in values[:most].tolist())
    return "{" + shown + (", ..." if values.size > most else "") + "}"


def check_fit(head: Any, X: Any, y: Any, what: str, task: str | None = None) -> None:
    """:func:`check_inputs` and :func:`check_targets` for one split (``what`` names it)."""
    check_inputs(X, f"{what} X")
    check_targets(head, y, f"{what} targets", task)

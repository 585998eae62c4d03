"""What a logged model accepts as input: raw features -> a finite float64 matrix, or a refusal.

This file travels with every logged model (copied beside ``portable.py`` into the model's
``code/nnexp_portable/``), so it imports NumPy and the standard library only.

The model is the only check on its input. Its MLflow signature declares no inputs, because
MLflow 3's enforcement of a column signature cannot refuse a wrong width: an unnamed one keeps
the first d columns of a wider input (a 5-column array given to a 4-feature model was read
shifted by one column) and only counts too few; a named one refuses plain arrays; a tensor one
reads a DataFrame's columns in the order given, whatever their names. So MLflow hands the
request here as it came (an array, a list of rows, a DataFrame, or a dict of columns from the
scoring server's ``instances``/``inputs``), and anything that is not exactly the d training
features, each finite, is refused with an :class:`InputError` naming what was expected and what
came. A NaN or inf is refused as well: the forward pass would turn it into a confident class
(argmax of NaN logits is 0) or a NaN value, and training never saw one.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class InputError(ValueError):
    """The input is not what the model takes (the logged model answers it as a bad request)."""


def feature_matrix(model_input: Any, feature_names: list[str]) -> np.ndarray:
    """Raw input -> (n, d) float64 features in training order (d = ``len(feature_names)``).

    Accepted: a 2-D array or list of rows with exactly d columns in training order (a 1-D one
    when d is 1); a pandas DataFrame, or a dict of columns, whose column names are exactly the
    feature names (any order); a DataFrame with integer column labels 0..d-1 (what MLflow makes
    of an array). Every value must be a finite number.
    """
    columns, values = _table(model_input)
    names = list(feature_names)
    if columns is None or not all(isinstance(c, str) for c in columns):
        if columns is not None and columns != list(range(len(columns))):
            raise InputError(
                f"input columns {columns[:10]} are neither the feature names {names} nor "
                f"positions 0..{len(names) - 1}"
            )
        X = _two_dimensional(values, len(names))
        if X.shape[1] != len(names):
            raise InputError(
                f"the model takes {len(names)} feature columns {names} (in this order), "
                f"got {X.shape[1]} columns"
            )
        X = _numeric(X, names)
        _refuse_non_finite(X, names)
        return X
    _check_names(columns, names)
    X = _numeric(_two_dimensional(values, len(columns)), columns)
    _refuse_non_finite(X, columns)
    return X[:, [columns.index(name) for name in names]]


def _table(model_input: Any) -> tuple[list | None, Any]:
    """-> (column labels, or None for a plain array or list; the values)."""
    if isinstance(model_input, dict):
        columns = list(model_input)
        if not columns:
            return columns, np.empty((0, 0))
        cells = [np.asarray(model_input[c]) for c in columns]
        if any(cell.ndim > 1 for cell in cells):
            raise InputError(
                f"each input column must be a list of values, got shapes "
                f"{[cell.shape for cell in cells]} for columns {columns}"
            )
        lengths = {cell.size for cell in cells}
        if len(lengths) > 1:
            raise InputError(
                f"input columns {columns} have different lengths {[cell.size for cell in cells]}"
            )
        return columns, np.column_stack([cell.reshape(-1) for cell in cells])
    if hasattr(model_input, "columns") and hasattr(model_input, "to_numpy"):
        return list(model_input.columns), model_input.to_numpy()
    return None, model_input


def _two_dimensional(values: Any, width: int) -> np.ndarray:
    X = np.asarray(values)
    if X.ndim == 1 and width == 1:
        return X.reshape(-1, 1)
    if X.ndim != 2:
        raise InputError(
            f"input must be a table of shape (n, {width}): rows of features, got shape {X.shape}"
        )
    return X


def _check_names(columns: list[str], names: list[str]) -> None:
    """Refuse named columns that are not exactly the feature names (any order)."""
    missing = [name for name in names if name not in columns]
    extra = [column for column in columns if column not in names]
    repeated = sorted({column for column in columns if columns.count(column) > 1})
    if not (missing or extra or repeated):
        return
    problems = [
        f"{label} {found}"
        for label, found in (("missing", missing), ("extra", extra), ("repeated", repeated))
        if found
    ]
    raise InputError(
        f"the model takes {len(names)} feature columns {names} (any order), got "
        f"{len(columns)} columns {columns[:20]}: {'; '.join(problems)}"
    )


def _numeric(X: np.ndarray, labels: list) -> np.ndarray:
    """-> X (n, k) as float64; refuse text, booleans and other non-numbers, naming the first
    such cell (``labels``: the columns' names, as far as known)."""
    if X.dtype.kind in "fiu":  # booleans are refused, as MLflow's former double signature did
        return X.astype(np.float64)
    if X.dtype.kind == "O":  # JSON null among numbers, or mixed Python objects
        X = X.copy()
        for (row, column), value in np.ndenumerate(X):
            if _is_missing(value):
                X[row, column] = None
            elif isinstance(value, bool | np.bool_) or not isinstance(
                value, int | float | np.number
            ):
                raise InputError(
                    f"input row {row}, column {_column_label(column, labels)} is "
                    f"{value!r}: the model takes numbers only"
                )
        return X.astype(np.float64)  # None -> nan, refused next
    raise InputError(f"input must be numeric, got dtype {X.dtype}")


def _refuse_non_finite(X: np.ndarray, labels: list) -> None:
    """Refuse the first NaN/inf cell of X (n, k) in reading order (row by row), naming its
    row and column as the input has them (0-based positions; ``labels``: the k columns' names).
    """
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    row, column = (int(i) for i in np.argwhere(bad)[0])
    count = int(bad.sum())
    value = "missing (NaN)" if np.isnan(X[row, column]) else str(X[row, column])
    more = f" ({count} such cells in all)" if count > 1 else ""
    raise InputError(
        f"input row {row}, column {_column_label(column, labels)} is {value}: "
        f"the model takes finite features only (no NaN, missing value or inf){more}"
    )


def refuse_non_finite(X: np.ndarray, labels: list | tuple = ()) -> None:
    """Raise :class:`InputError` (a ValueError) naming the first NaN/inf cell of X (n, k) by
    row and column; ``labels``: the columns' names, if known. (``MLP.predict`` uses it.)"""
    _refuse_non_finite(X, list(labels))


def _column_label(column: int, labels: list) -> str:
    return f"{column} ({labels[column]!r})" if column < len(labels) else str(column)


def _is_missing(value: Any) -> bool:
    """None (JSON null) or pandas' missing-value marker ``pd.NA`` (not importable here)."""
    return value is None or type(value).__name__ == "NAType"

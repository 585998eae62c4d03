"""The user's own data: a CSV file with a header row and one target column.

``load_dataset("csv", path="data.csv", target="label", task="auto")``

* The first non-blank line is the header; blank lines are skipped; cells are stripped.
* Every feature cell must be a finite number. Problems are reported as one-line
  ``ValueError``s that name the file, the data row and the column, e.g.
  ``data.csv: row 7 (line 8 of the file), column 'x2': non-numeric value 'abc'``.
  "row" counts data rows from 1 (the header is not a row); "line" is the physical line
  in the file, as an editor shows it.
* Classification labels may be strings or numbers. They are mapped to ``0..k-1`` in
  sorted order (numeric order when every label is a number, else string order), and
  ``Dataset.class_names`` keeps the original names.
* ``task="auto"``: a non-numeric target means classification; a numeric target whose
  values are all integers with at most ``AUTO_MAX_CLASSES`` distinct values means
  classification; anything else means regression.
"""

from __future__ import annotations

import csv as _csv
import math
from pathlib import Path

import numpy as np

from ._checks import check_choice, check_seed
from .dataset import Dataset

__all__ = ["AUTO_MAX_CLASSES", "load_csv"]

AUTO_MAX_CLASSES = 20
#: Largest magnitude accepted in a numeric cell: a sum of squares of a million such values (a
#: loss, a variance) stays finite in float64 (max ~1.8e308). Larger values overflow to inf/nan.
MAX_MAGNITUDE = 1e150


def _where(path: Path, row: int, line: int, column: str) -> str:
    return f"{path}: row {row} (line {line} of the file), column {column!r}"


def _number(cell: str, path: Path, row: int, line: int, column: str) -> float:
    """Parse one cell as a finite float, or raise a ValueError that locates it."""
    if cell == "":
        raise ValueError(f"{_where(path, row, line, column)}: empty cell")
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{_where(path, row, line, column)}: non-numeric value {cell!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{_where(path, row, line, column)}: missing/non-finite value {cell!r}")
    if abs(value) > MAX_MAGNITUDE:
        raise ValueError(
            f"{_where(path, row, line, column)}: value {cell!r} is too large (|value| must be "
            f"<= {MAX_MAGNITUDE:g}, or squared errors overflow float64); rescale the column"
        )
    return value


def _try_float(cell: str) -> float | None:
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _non_finite_number(cell: str) -> bool:
    """``nan``, ``inf`` and the like: a number, but not a finite one."""
    try:
        return not math.isfinite(float(cell))
    except ValueError:
        return False


def _read(path: Path, delimiter: str) -> tuple[list[str], list[tuple[int, int, list[str]]]]:
    """Return the header and ``(row, line, cells)`` for each non-blank data row."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = _csv.reader(f, delimiter=delimiter)
        header: list[str] | None = None
        rows: list[tuple[int, int, list[str]]] = []
        try:
            for cells in reader:
                cells = [c.strip() for c in cells]
                if not any(cells):
                    continue
                if header is None:
                    header = cells
                else:
                    rows.append((len(rows) + 1, reader.line_num, cells))
        except _csv.Error as exc:
            raise ValueError(f"{path}: line {reader.line_num}: malformed CSV ({exc})") from None
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{path}: not a UTF-8 text file (cannot decode byte "
                f"0x{exc.object[exc.start]:02x} near line {reader.line_num + 1}); a CSV file "
                "must be UTF-8 text"
            ) from None
        except OSError as exc:  # e.g. /proc/self/mem: EIO
            raise ValueError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if header is None:
        raise ValueError(f"{path}: file is empty (no header row, no data rows)")
    return header, rows


def load_csv(
    path: str | Path | None = None,
    target: str | None = None,
    task: str = "auto",
    features: list[str] | tuple[str, ...] | None = None,
    delimiter: str = ",",
    seed: int = 0,
) -> Dataset:
    """Load a CSV file into a ``Dataset``; X (rows, features) float64.

    Args:
        path: the CSV file (``~`` expanded; relative paths are relative to the cwd).
        target: name of the target column; ``None`` means the last column.
        task: ``"classification"``, ``"regression"`` or ``"auto"`` (see module doc).
        features: feature column names to use (in this order); ``None`` means every
            column except the target.
        delimiter: one-character field separator.
        seed: accepted for a uniform loader signature; unused.

    ``y`` is ``(rows,)`` int64 labels for classification (at least 2 classes), ``(rows,)``
    float64 for regression. ``Dataset.source`` is ``"file:<absolute path>"``.
    """
    check_seed(seed)
    task = check_choice("task", task, ("auto", "classification", "regression"))
    if path is None or str(path) == "":
        raise ValueError("csv dataset needs path=<file.csv>")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"delimiter must be a single character, got {delimiter!r}")
    given, path = str(path), Path(path).expanduser()
    if not path.is_file():
        if path.is_dir():
            what = "is a directory, not a file"
        elif path.exists():
            what = "not a regular file (a device, pipe or socket)"
        else:
            what = "file not found"
        raise ValueError(f"csv dataset: {what}: {given}")  # as given: Path() folds "//"
    path = path.resolve()

    header, rows = _read(path, delimiter)
    for i, name in enumerate(header, start=1):
        if name == "":
            raise ValueError(f"{path}: header column {i} has no name")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate column names in header: {', '.join(duplicates)}")
    available = ", ".join(header)
    if target is None:
        target = header[-1]
    if target not in header:
        raise ValueError(
            f"{path}: target column {target!r} not found; available columns: {available}"
        )
    if features is None:
        feature_names = [name for name in header if name != target]
    else:
        feature_names = [str(name) for name in features]
        for name in feature_names:
            if name not in header:
                raise ValueError(
                    f"{path}: feature column {name!r} not found; available columns: {available}"
                )
            if name == target:
                raise ValueError(f"{path}: column {name!r} is both the target and a feature")
    if not feature_names:
        raise ValueError(f"{path}: no feature columns besides the target {target!r}")
    if not rows:
        raise ValueError(f"{path}: header only, no data rows")

    width = len(header)
    t_col = header.index(target)
    f_cols = [header.index(name) for name in feature_names]
    X = np.empty((len(rows), len(f_cols)), dtype=np.float64)
    raw_targets: list[str] = []
    for r, (row, line, cells) in enumerate(rows):
        if len(cells) != width:
            raise ValueError(
                f"{path}: row {row} (line {line} of the file) has {len(cells)} fields, "
                f"the header has {width}"
            )
        for j, c in enumerate(f_cols):
            X[r, j] = _number(cells[c], path, row, line, header[c])
        if cells[t_col] == "":
            raise ValueError(f"{_where(path, row, line, target)}: empty target cell")
        if _non_finite_number(cells[t_col]):
            raise ValueError(  # nan/inf: a missing value, not a class named "nan"
                f"{_where(path, row, line, target)}: missing/non-finite target value "
                f"{cells[t_col]!r}"
            )
        raw_targets.append(cells[t_col])

    numeric = [_try_float(cell) for cell in raw_targets]
    all_numeric = all(v is not None for v in numeric)
    if task == "auto":
        task = "classification"
        if all_numeric:
            values = np.array(numeric, dtype=np.float64)
            integral = bool(np.all(values == np.round(values)))
            if not integral or len(np.unique(values)) > AUTO_MAX_CLASSES:
                task = "regression"

    params = {"path": str(path), "target": target, "task": task, "features": feature_names}
    common = {
        "X": X,
        "name": "csv",
        "source": f"file:{path}",
        "feature_names": tuple(feature_names),
        "params": params,
    }
    if task == "regression":
        y = np.array(
            [
                _number(cell, path, row, line, target)
                for cell, (row, line, _) in zip(raw_targets, rows, strict=True)
            ],
            dtype=np.float64,
        )
        if np.all(y == y[0]):
            raise ValueError(
                f"{path}: target column {target!r} is constant (every value is {raw_targets[0]}); "
                "regression needs a target that varies"
            )
        return Dataset(y=y, task="regression", n_classes=0, **common)

    if all_numeric:
        # Numeric labels: classes in numeric order; "1" and "1.0" are the same class.
        values = np.array(numeric, dtype=np.float64)
        uniques, y = np.unique(values, return_inverse=True)
        names = tuple(str(int(v)) if v == int(v) else repr(float(v)) for v in uniques)
    else:
        uniques_s, y = np.unique(np.array(raw_targets, dtype=str), return_inverse=True)
        names = tuple(str(v) for v in uniques_s)
    if len(names) < 2:
        raise ValueError(
            f"{path}: target column {target!r} has only one class ({names[0]!r}); "
            "classification needs at least 2"
        )
    return Dataset(
        y=y.astype(np.int64),
        task="classification",
        n_classes=len(names),
        class_names=names,
        **common,
    )

"""The data containers: ``Dataset`` (what a loader returns), ``Split`` and ``Splits``.

Arrays inside these objects are private, read-only copies: a fingerprint is only a proof
of what a run saw if nobody can change the arrays after it was computed.

Shapes (``n`` samples, ``d`` features, ``k`` regression targets):

* ``X``: ``(n, d)`` float64
* ``y``: ``(n,)`` int64 class labels in ``[0, n_classes)`` for classification,
  ``(n,)`` or ``(n, k)`` float64 targets for regression.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .fingerprint import array_fingerprint, combine_fingerprints

__all__ = ["TASKS", "Dataset", "Split", "Splits"]

TASKS = ("classification", "regression")


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _as_X(X: Any, what: str) -> np.ndarray:
    X = np.array(X, dtype=np.float64)  # always a private copy
    if X.ndim != 2:
        raise ValueError(f"{what}: X must be 2-D (n, d), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{what}: X contains NaN or infinite values")
    return _frozen(X)


def _as_y(y: Any, task: str, n_classes: int, what: str) -> np.ndarray:
    y = np.array(y)
    if task == "classification":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"{what}: classification y must be 1-D labels, got shape {y.shape}")
        integral = np.issubdtype(y.dtype, np.integer) or (
            np.issubdtype(y.dtype, np.number) and bool(np.all(y == np.round(y)))
        )
        if y.size and not integral:
            raise ValueError(f"{what}: classification labels must be integers")
        y = y.astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise ValueError(
                f"{what}: labels must lie in [0, {n_classes}), got [{y.min()}, {y.max()}]"
            )
    else:
        y = y.astype(np.float64)
        if y.ndim not in (1, 2):
            raise ValueError(f"{what}: regression y must be (n,) or (n, k), got {y.shape}")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{what}: y contains NaN or infinite values")
    return _frozen(y)


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A whole dataset before splitting, as returned by ``load_dataset``.

    Attributes:
        X: ``(n, d)`` float64 features in raw units (not standardised).
        y: ``(n,)`` int64 labels or ``(n,)`` / ``(n, k)`` float64 targets.
        task: ``"classification"`` or ``"regression"``.
        n_classes: number of classes (>= 2) for classification, 0 for regression.
        name: registry name, e.g. ``"moons"``.
        source: where the data came from: ``"synthetic:moons"``, ``"sklearn:digits"``,
            ``"file:/abs/path.csv"``.
        class_names: ``n_classes`` strings (label ``i`` is ``class_names[i]``); ``()``
            for regression.
        feature_names: ``d`` column names.
        params: the loader arguments that produced the data (for logging).

    ``digest`` is the fingerprint of ``(X, y)``: a 16-hex-character content hash used as
    the dataset digest when tracking runs.
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    n_classes: int
    name: str
    source: str = ""
    class_names: tuple[str, ...] | None = None
    feature_names: tuple[str, ...] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    _digest: str = field(init=False, default="")

    def __post_init__(self) -> None:
        what = f"dataset {self.name!r}"
        if self.task not in TASKS:
            raise ValueError(f"{what}: task must be one of {TASKS}, got {self.task!r}")
        n_classes = int(self.n_classes)
        if self.task == "classification" and n_classes < 2:
            raise ValueError(f"{what}: classification needs n_classes >= 2, got {n_classes}")
        if self.task == "regression" and n_classes != 0:
            raise ValueError(f"{what}: regression must have n_classes=0, got {n_classes}")
        X = _as_X(self.X, what)
        y = _as_y(self.y, self.task, n_classes, what)
        if len(X) != len(y):
            raise ValueError(f"{what}: X has {len(X)} rows but y has {len(y)}")
        if len(X) == 0:
            raise ValueError(f"{what}: no samples")
        feature_names = (
            tuple(f"x{i}" for i in range(X.shape[1]))
            if self.feature_names is None
            else tuple(map(str, self.feature_names))
        )
        if len(feature_names) != X.shape[1]:
            raise ValueError(f"{what}: {len(feature_names)} feature names for {X.shape[1]} columns")
        if self.task == "regression":
            class_names: tuple[str, ...] = ()
        elif self.class_names is None:
            class_names = tuple(str(i) for i in range(n_classes))
        else:
            class_names = tuple(map(str, self.class_names))
        if self.task == "classification" and len(class_names) != n_classes:
            raise ValueError(f"{what}: {len(class_names)} class names for {n_classes} classes")
        set_ = object.__setattr__
        set_(self, "X", X)
        set_(self, "y", y)
        set_(self, "n_classes", n_classes)
        set_(self, "feature_names", feature_names)
        set_(self, "class_names", class_names)
        set_(self, "params", dict(self.params))
        set_(self, "_digest", array_fingerprint(X, y))

    @property
    def digest(self) -> str:
        """16-hex-character content hash of ``(X, y)``."""
        return self._digest

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, source={self.source!r}, task={self.task!r}, "
            f"X={self.X.shape}, y={self.y.shape}, n_classes={self.n_classes}, "
            f"digest={self.digest!r})"
        )


@dataclass(frozen=True, eq=False, repr=False)
class Split:
    """One split (train, val or test) as the model sees it (after standardisation).

    Attributes:
        X: ``(n, d)`` float64, standardised with the training statistics if requested.
        y: ``(n,)`` int64 labels or ``(n,)`` / ``(n, k)`` float64 targets.
        fingerprint: 16-hex-character hash of ``(X, y)``; computed when not given, and
            checked against the arrays when given.
        indices: ``(n,)`` int64 row numbers into the source ``Dataset`` (ascending), so
            splits can be audited for overlap; ``None`` for hand-built splits.
    """

    X: np.ndarray
    y: np.ndarray
    fingerprint: str = ""
    indices: np.ndarray | None = None

    def __post_init__(self) -> None:
        X = np.array(self.X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"Split: X must be 2-D (n, d), got shape {X.shape}")
        y = np.array(self.y)
        if len(y) != len(X):
            raise ValueError(f"Split: X has {len(X)} rows but y has {len(y)}")
        fingerprint = array_fingerprint(X, y)
        if self.fingerprint and self.fingerprint != fingerprint:
            raise ValueError(
                f"Split: given fingerprint {self.fingerprint!r} does not match the arrays "
                f"({fingerprint!r})"
            )
        object.__setattr__(self, "X", _frozen(X))
        object.__setattr__(self, "y", _frozen(y))
        object.__setattr__(self, "fingerprint", fingerprint)
        if self.indices is not None:
            indices = np.array(self.indices, dtype=np.int64)
            if indices.shape != (len(X),):
                raise ValueError(f"Split: indices shape {indices.shape} != ({len(X)},)")
            object.__setattr__(self, "indices", _frozen(indices))

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.X.shape[0])

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"Split(n={self.n}, X={self.X.shape}, y={self.y.shape}, fingerprint={self.fingerprint!r})"


@dataclass(frozen=True, eq=False, repr=False)
class Splits:
    """Train / val / test splits plus the standardisation fitted on the training split.

    Attributes:
        train, val: ``Split``; ``val is train`` when ``val_fraction == 0`` (no held-out
            data: validation equals training, same fingerprint; see ``val_is_train``).
        test: ``Split`` or ``None`` when ``test_fraction == 0``.
        scaler_mean, scaler_std: ``(d,)`` float64. With ``standardize=True`` these are the
            raw training split's ``X.mean(axis=0)`` and ``X.std(axis=0)`` (ddof 0; after any
            ``input_noise``), with 1.0 substituted for constant columns; with
            ``standardize=False`` they are zeros and ones (identity transform).
        fingerprint: hash combining the split fingerprints.
        task, n_classes, n_features: copied from the dataset.
        val_is_train: ``True`` when there is no held-out validation data.
        flipped: ``(m,)`` int64 positions *within* ``train`` whose labels ``label_noise``
            changed (empty for regression and when ``label_noise == 0``).
        y_mean, y_std: regression target scaler when ``standardize_y=True``, else ``None``.
        dataset_name, dataset_digest: provenance of the source ``Dataset``.
        params: the ``make_splits`` arguments (for logging).
    """

    train: Split
    val: Split
    test: Split | None
    scaler_mean: np.ndarray
    scaler_std: np.ndarray
    task: str
    n_classes: int
    val_is_train: bool = False
    flipped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    y_mean: np.ndarray | None = None
    y_std: np.ndarray | None = None
    dataset_name: str = ""
    dataset_digest: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = field(init=False, default="")

    def __post_init__(self) -> None:
        for name in ("scaler_mean", "scaler_std", "flipped", "y_mean", "y_std"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _frozen(np.array(value)))
        fingerprint = combine_fingerprints(
            train=self.train.fingerprint,
            val=self.val.fingerprint,
            test=None if self.test is None else self.test.fingerprint,
        )
        object.__setattr__(self, "fingerprint", fingerprint)

    @property
    def n_features(self) -> int:
        return int(self.train.X.shape[1])

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply the training-split standardisation to raw ``(m, d)`` features."""
        return (np.asarray(X, dtype=np.float64) - self.scaler_mean) / self.scaler_std

    def inverse_transform_y(self, y: np.ndarray) -> np.ndarray:
        """Map standardised regression targets back to raw units (identity if not scaled)."""
        y = np.asarray(y, dtype=np.float64)
        if self.y_mean is None or self.y_std is None:
            return y
        return y * self.y_std + self.y_mean

    def __repr__(self) -> str:
        test = None if self.test is None else self.test.n
        return (
            f"Splits(dataset={self.dataset_name!r}, train={self.train.n}, "
            f"val={'train' if self.val_is_train else self.val.n}, test={test}, "
            f"fingerprint={self.fingerprint!r})"
        )

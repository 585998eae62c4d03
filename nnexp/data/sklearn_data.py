"""Real datasets that ship inside scikit-learn (read from disk, never downloaded).

scikit-learn is imported inside each loader so that ``import nnexp.data`` stays fast.

| name            | task           | X shape    | classes |
|-----------------|----------------|------------|---------|
| `digits`        | classification | (1797, 64) | 10      |
| `breast_cancer` | classification | (569, 30)  | 2       |
| `wine`          | classification | (178, 13)  | 3       |
| `iris`          | classification | (150, 4)   | 3       |
| `diabetes`      | regression     | (442, 10), y (442,) | - |

Features are returned in raw units (``diabetes`` uses ``scaled=False``); standardisation
happens in ``make_splits`` on the training split only. Each loader accepts ``seed`` for a
uniform signature; it is unused because these data are fixed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._checks import check_seed
from .dataset import Dataset

__all__ = ["breast_cancer", "diabetes", "digits", "iris", "wine"]


def _classification(name: str, bunch: Any) -> Dataset:
    y = np.asarray(bunch.target, dtype=np.int64)
    return Dataset(
        X=np.asarray(bunch.data, dtype=np.float64),
        y=y,
        task="classification",
        n_classes=len(bunch.target_names),
        name=name,
        source=f"sklearn:{name}",
        class_names=tuple(str(c) for c in bunch.target_names),
        feature_names=tuple(str(f) for f in bunch.feature_names),
    )


def digits(seed: int = 0) -> Dataset:
    """8x8 handwritten digits: X (1797, 64) pixel intensities 0..16, 10 classes."""
    check_seed(seed)
    from sklearn.datasets import load_digits

    return _classification("digits", load_digits())


def breast_cancer(seed: int = 0) -> Dataset:
    """Wisconsin breast cancer: X (569, 30), 2 classes (malignant=0, benign=1)."""
    check_seed(seed)
    from sklearn.datasets import load_breast_cancer

    return _classification("breast_cancer", load_breast_cancer())


def wine(seed: int = 0) -> Dataset:
    """Wine recognition: X (178, 13) chemical measurements, 3 cultivars."""
    check_seed(seed)
    from sklearn.datasets import load_wine

    return _classification("wine", load_wine())


def iris(seed: int = 0) -> Dataset:
    """Fisher's iris: X (150, 4) sepal/petal sizes in cm, 3 species."""
    check_seed(seed)
    from sklearn.datasets import load_iris

    return _classification("iris", load_iris())


def diabetes(seed: int = 0) -> Dataset:
    """Diabetes progression: X (442, 10) raw features, y (442,) float64 (25..346)."""
    check_seed(seed)
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False)
    return Dataset(
        X=np.asarray(bunch.data, dtype=np.float64),
        y=np.asarray(bunch.target, dtype=np.float64),
        task="regression",
        n_classes=0,
        name="diabetes",
        source="sklearn:diabetes",
        feature_names=tuple(str(f) for f in bunch.feature_names),
    )

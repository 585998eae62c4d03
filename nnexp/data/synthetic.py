"""Seeded synthetic datasets, generated in NumPy (no scikit-learn, so they are fast and
bit-reproducible: each loader draws from ``numpy.random.default_rng(seed)`` only).

| name      | task           | X shape             | classes   | defaults                                  |
|-----------|----------------|---------------------|-----------|-------------------------------------------|
| `xor`     | classification | (4, 2)              | 2         | the tutorial's 4 points, no randomness    |
| `moons`   | classification | (n_samples, 2)      | 2         | n_samples=200, noise=0.1                  |
| `circles` | classification | (n_samples, 2)      | 2         | n_samples=200, noise=0.05, factor=0.5     |
| `spirals` | classification | (n_samples, 2)      | n_arms    | n_samples=300, n_arms=3, noise=0.05, turns=1.0 |
| `blobs`   | classification | (n_samples, n_features) | centers | n_samples=300, centers=3, n_features=2, cluster_std=1.0, center_box=10.0 |
| `sine`    | regression     | (n_samples, 1), y (n_samples,) | - | n_samples=30, noise=0.3          |

Every loader takes ``seed=0``. Samples are shuffled, so the class order in the arrays
carries no information. ``n_samples`` must be at least the number of classes (so every
class exists), at least 1 for ``sine``.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_float, check_int, check_seed
from .dataset import Dataset

__all__ = ["blobs", "circles", "moons", "sine", "spirals", "xor"]


def _equal_sizes(n: int, k: int) -> list[int]:
    """Split ``n`` into ``k`` sizes differing by at most one (first ones larger)."""
    return [n // k + (i < n % k) for i in range(k)]


def _finish(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Add isotropic Gaussian noise of std ``noise`` and shuffle the rows."""
    X = X + rng.normal(0.0, noise, size=X.shape)
    order = rng.permutation(len(X))
    return X[order], y[order]


def _classification(name: str, X, y, n_classes: int, params: dict) -> Dataset:
    return Dataset(
        X=X,
        y=y,
        task="classification",
        n_classes=n_classes,
        name=name,
        source=f"synthetic:{name}",
        params=params,
    )


def xor(seed: int = 0) -> Dataset:
    """The tutorial's XOR: ``[0,0]->0, [0,1]->1, [1,0]->1, [1,1]->0``; X (4, 2), y (4,).

    Four points cannot be split into held-out sets: use ``make_splits(ds, val_fraction=0,
    test_fraction=0, ...)``, which makes the validation split *the* training split (no
    held-out data; validation equals training, same fingerprint) and ``test`` ``None``.
    ``seed`` is accepted for a uniform loader signature; the data never changes.
    """
    seed = check_seed(seed)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return _classification("xor", X, y, 2, {"seed": seed})


def moons(n_samples: int = 200, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles; X (n_samples, 2), y (n_samples,) in {0, 1}.

    Class 0 is the upper moon ``(cos t, sin t)``, class 1 the lower one
    ``(1 - cos t, 0.5 - sin t)``, ``t`` evenly spaced in ``[0, pi]``; then Gaussian noise
    of std ``noise``. Not linearly separable: the classic "needs a hidden layer" set.
    """
    n_samples = check_int("n_samples", n_samples, minimum=2)
    noise = check_float("noise", noise, minimum=0.0)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    n_out, n_in = _equal_sizes(n_samples, 2)
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            np.column_stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)]),
        ]
    )
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_out, n_in])
    X, y = _finish(X, y, rng, noise)
    return _classification("moons", X, y, 2, {"n_samples": n_samples, "noise": noise, "seed": seed})


def circles(
    n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0
) -> Dataset:
    """A unit circle (class 0) around a circle of radius ``factor`` (class 1).

    X (n_samples, 2), y (n_samples,); angles evenly spaced, then Gaussian noise of std
    ``noise``. ``0 <= factor < 1``. Needs a radial (non-linear) boundary.
    """
    n_samples = check_int("n_samples", n_samples, minimum=2)
    noise = check_float("noise", noise, minimum=0.0)
    factor = check_float("factor", factor, minimum=0.0, maximum=1.0, max_inclusive=False)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    n_out, n_in = _equal_sizes(n_samples, 2)
    a_out = np.linspace(0.0, 2 * np.pi, n_out, endpoint=False)
    a_in = np.linspace(0.0, 2 * np.pi, n_in, endpoint=False)
    X = np.concatenate(
        [
            np.column_stack([np.cos(a_out), np.sin(a_out)]),
            factor * np.column_stack([np.cos(a_in), np.sin(a_in)]),
        ]
    )
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_out, n_in])
    X, y = _finish(X, y, rng, noise)
    params = {"n_samples": n_samples, "noise": noise, "factor": factor, "seed": seed}
    return _classification("circles", X, y, 2, params)


def spirals(
    n_samples: int = 300,
    n_arms: int = 3,
    noise: float = 0.05,
    turns: float = 1.0,
    seed: int = 0,
) -> Dataset:
    """``n_arms`` interleaved spiral arms, one class each; X (n_samples, 2), y (n_samples,).

    Arm ``j`` has radius ``r`` evenly spaced in ``[0, 1]`` and angle
    ``2*pi*j/n_arms + 2*pi*turns*r``; then Gaussian noise of std ``noise``. Arms get
    ``n_samples // n_arms`` points (the first ``n_samples % n_arms`` arms one more).
    """
    n_arms = check_int("n_arms", n_arms, minimum=2)
    n_samples = check_int("n_samples", n_samples, minimum=n_arms)
    noise = check_float("noise", noise, minimum=0.0)
    turns = check_float("turns", turns, minimum=0.0, min_inclusive=False)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    parts = []
    sizes = _equal_sizes(n_samples, n_arms)
    for j, m in enumerate(sizes):
        r = np.linspace(0.0, 1.0, m)
        theta = 2 * np.pi * j / n_arms + 2 * np.pi * turns * r
        parts.append(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
    X = np.concatenate(parts)
    y = np.repeat(np.arange(n_arms, dtype=np.int64), sizes)
    X, y = _finish(X, y, rng, noise)
    params = {
        "n_samples": n_samples,
        "n_arms": n_arms,
        "noise": noise,
        "turns": turns,
        "seed": seed,
    }
    return _classification("spirals", X, y, n_arms, params)


def blobs(
    n_samples: int = 300,
    centers: int = 3,
    n_features: int = 2,
    cluster_std: float = 1.0,
    center_box: float = 10.0,
    seed: int = 0,
) -> Dataset:
    """Isotropic Gaussian blobs, one class per centre; X (n_samples, n_features).

    Centres are drawn uniformly from ``[-center_box, center_box] ** n_features``, then each
    class gets ``n_samples // centers`` (+1 for the first remainder classes) points with
    standard deviation ``cluster_std`` around its centre.
    """
    centers = check_int("centers", centers, minimum=2)
    n_samples = check_int("n_samples", n_samples, minimum=centers)
    n_features = check_int("n_features", n_features, minimum=1)
    cluster_std = check_float("cluster_std", cluster_std, minimum=0.0)
    center_box = check_float("center_box", center_box, minimum=0.0, min_inclusive=False)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    means = rng.uniform(-center_box, center_box, size=(centers, n_features))
    sizes = _equal_sizes(n_samples, centers)
    y = np.repeat(np.arange(centers, dtype=np.int64), sizes)
    X, y = _finish(means[y], y, rng, cluster_std)
    params = {
        "n_samples": n_samples,
        "centers": centers,
        "n_features": n_features,
        "cluster_std": cluster_std,
        "center_box": center_box,
        "seed": seed,
    }
    return _classification("blobs", X, y, centers, params)


def sine(n_samples: int = 30, noise: float = 0.3, seed: int = 0) -> Dataset:
    """Noisy 1-D regression ``y = sin(2*pi*x) + N(0, noise**2)``, ``x ~ U[0, 1]``.

    X (n_samples, 1), y (n_samples,) float64. With the default 30 points a wide network
    fits the noise: the textbook overfitting demonstration.
    """
    n_samples = check_int("n_samples", n_samples, minimum=1)
    noise = check_float("noise", noise, minimum=0.0)
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=n_samples)
    y = np.sin(2 * np.pi * x) + rng.normal(0.0, noise, size=n_samples)
    return Dataset(
        X=x[:, None],
        y=y,
        task="regression",
        n_classes=0,
        name="sine",
        source="synthetic:sine",
        feature_names=("x",),
        params={"n_samples": n_samples, "noise": noise, "seed": seed},
    )

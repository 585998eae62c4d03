"""Every registered dataset loads with the documented shapes, dtypes and classes."""

import subprocess
import sys

import numpy as np
import pytest

from nnexp.data import DATASETS, Dataset, dataset_defaults, load_dataset

# name -> (X shape, y shape, task, n_classes) with default arguments
DOCUMENTED = {
    "xor": ((4, 2), (4,), "classification", 2),
    "moons": ((200, 2), (200,), "classification", 2),
    "circles": ((200, 2), (200,), "classification", 2),
    "spirals": ((300, 2), (300,), "classification", 3),
    "blobs": ((300, 2), (300,), "classification", 3),
    "sine": ((30, 1), (30,), "regression", 0),
    "digits": ((1797, 64), (1797,), "classification", 10),
    "breast_cancer": ((569, 30), (569,), "classification", 2),
    "wine": ((178, 13), (178,), "classification", 3),
    "iris": ((150, 4), (150,), "classification", 3),
    "diabetes": ((442, 10), (442,), "regression", 0),
}


def test_registry_lists_every_dataset():
    assert set(DATASETS) == set(DOCUMENTED) | {"csv"}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_documented_shapes_dtypes_classes(name):
    x_shape, y_shape, task, n_classes = DOCUMENTED[name]
    ds = load_dataset(name)
    assert isinstance(ds, Dataset)
    assert ds.name == name
    assert ds.X.shape == x_shape and ds.X.dtype == np.float64
    assert ds.y.shape == y_shape
    assert ds.task == task and ds.n_classes == n_classes
    assert len(ds.feature_names) == x_shape[1]
    if task == "classification":
        assert ds.y.dtype == np.int64
        assert set(np.unique(ds.y)) == set(range(n_classes))  # every class present
        assert len(ds.class_names) == n_classes
    else:
        assert ds.y.dtype == np.float64
        assert ds.class_names == ()
    assert np.all(np.isfinite(ds.X))
    kind = (
        "sklearn"
        if name in {"digits", "breast_cancer", "wine", "iris", "diabetes"}
        else "synthetic"
    )
    assert ds.source == f"{kind}:{name}"
    assert len(ds.digest) == 16 and int(ds.digest, 16) >= 0


def test_xor_is_the_tutorial_truth_table():
    ds = load_dataset("xor")
    np.testing.assert_array_equal(ds.X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(ds.y, [0, 1, 1, 0])


def test_synthetic_kwargs_change_shapes():
    assert load_dataset("moons", n_samples=501, noise=0.2, seed=3).X.shape == (501, 2)
    ds = load_dataset("spirals", n_samples=100, n_arms=4)
    assert ds.n_classes == 4 and np.bincount(ds.y).tolist() == [25, 25, 25, 25]
    ds = load_dataset("blobs", n_samples=50, centers=5, n_features=7)
    assert ds.X.shape == (50, 7) and np.bincount(ds.y).tolist() == [10] * 5
    assert load_dataset("sine", n_samples=7).X.shape == (7, 1)


def test_synthetic_geometry():
    # noise=0: moons lie exactly on their unit half circles, circles on radius 1 / factor
    ds = load_dataset("moons", n_samples=100, noise=0.0)
    upper = ds.X[ds.y == 0]
    lower = ds.X[ds.y == 1] - [1.0, 0.5]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    np.testing.assert_allclose(np.hypot(*lower.T), 1.0)
    ds = load_dataset("circles", n_samples=100, noise=0.0, factor=0.3)
    radius = np.hypot(*ds.X.T)
    np.testing.assert_allclose(radius[ds.y == 0], 1.0)
    np.testing.assert_allclose(radius[ds.y == 1], 0.3)
    ds = load_dataset("sine", n_samples=200, noise=0.0)
    assert ds.X.min() >= 0 and ds.X.max() <= 1
    np.testing.assert_allclose(ds.y, np.sin(2 * np.pi * ds.X[:, 0]))
    ds = load_dataset("spirals", noise=0.0)
    assert np.hypot(*ds.X.T).max() == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["moons", "circles", "spirals", "blobs", "sine"])
def test_synthetic_seed_determinism(name):
    a, b = load_dataset(name, seed=7), load_dataset(name, seed=7)
    assert a.X.tobytes() == b.X.tobytes() and a.y.tobytes() == b.y.tobytes()
    assert a.digest == b.digest
    c = load_dataset(name, seed=8)
    assert not np.array_equal(a.X, c.X)
    assert a.digest != c.digest


def test_arrays_are_read_only():
    ds = load_dataset("moons")
    with pytest.raises(ValueError):
        ds.X[0, 0] = 1.0


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown dataset 'mnist'.*valid names:.*moons"):
        load_dataset("mnist")


def test_unknown_kwarg_is_named():
    with pytest.raises(ValueError, match=r"unknown argument\(s\) noize.*accepts: n_samples"):
        load_dataset("moons", noize=0.1)


@pytest.mark.parametrize(
    ("name", "kwargs", "pattern"),
    [
        ("moons", {"n_samples": 0}, "n_samples must be >= 2, got 0"),
        ("moons", {"noise": -0.1}, "noise must be >= 0.0, got -0.1"),
        ("moons", {"n_samples": 10.5}, "n_samples must be an integer, got 10.5"),
        ("circles", {"factor": 1.0}, "factor must be < 1.0, got 1.0"),
        ("spirals", {"n_arms": 1}, "n_arms must be >= 2, got 1"),
        ("spirals", {"n_samples": 2, "n_arms": 3}, "n_samples must be >= 3, got 2"),
        ("blobs", {"cluster_std": -1}, "cluster_std must be >= 0.0, got -1"),
        ("blobs", {"n_features": 0}, "n_features must be >= 1, got 0"),
        ("sine", {"n_samples": 0}, "n_samples must be >= 1, got 0"),
        ("sine", {"noise": float("nan")}, "noise must be finite"),
        ("sine", {"seed": -1}, "seed must be >= 0, got -1"),
        ("iris", {"seed": "a"}, "seed must be an integer"),
    ],
)
def test_loader_argument_validation(name, kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_dataset(name, **kwargs)


def test_dataset_defaults():
    assert dataset_defaults("moons") == {"n_samples": 200, "noise": 0.1, "seed": 0}
    assert dataset_defaults("sine") == {"n_samples": 30, "noise": 0.3, "seed": 0}
    assert dataset_defaults("iris") == {"seed": 0}


def test_import_is_light():
    code = (
        "import sys, nnexp.data; "
        "bad = [m for m in ('sklearn', 'hydra', 'optuna', 'mlflow') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

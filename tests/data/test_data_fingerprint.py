"""Fingerprints are stable, short, and change with any value, dtype or shape change."""

import hashlib

import numpy as np
import pytest

from nnexp.data import Split, array_fingerprint, load_dataset, make_splits


def test_fingerprint_definition():
    X = np.arange(6, dtype=np.float64).reshape(3, 2)
    y = np.array([0, 1, 0], dtype=np.int64)
    h = hashlib.sha256()
    for a in (X, y):
        h.update(f"{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
        h.update(b"#")
    assert array_fingerprint(X, y) == h.hexdigest()[:16]
    assert Split(X, y).fingerprint == h.hexdigest()[:16]


def test_fingerprint_sensitivity():
    X = np.random.default_rng(0).normal(size=(50, 3))
    y = np.arange(50) % 2
    base = array_fingerprint(X, y)
    assert array_fingerprint(X.copy(), y.copy()) == base
    X2 = X.copy()
    X2[17, 1] = np.nextafter(X2[17, 1], np.inf)  # one ulp in one value
    assert array_fingerprint(X2, y) != base
    y2 = y.copy()
    y2[3] = 1 - y2[3]
    assert array_fingerprint(X, y2) != base
    assert array_fingerprint(X.astype(np.float32), y) != base
    assert array_fingerprint(X.reshape(25, 6), y) != base
    assert array_fingerprint(np.asfortranarray(X), y) == base  # layout does not matter


def test_split_fingerprint_is_checked():
    X, y = np.zeros((2, 1)), np.array([0, 1])
    fp = Split(X, y).fingerprint
    assert Split(X, y, fp).fingerprint == fp
    with pytest.raises(ValueError, match="does not match"):
        Split(X, y, "0" * 16)


def test_splits_fingerprint_stable_and_sensitive():
    ds = load_dataset("moons", n_samples=100, seed=0)
    a = make_splits(ds, 0.2, 0.2, seed=0)
    b = make_splits(load_dataset("moons", n_samples=100, seed=0), 0.2, 0.2, seed=0)
    assert a.fingerprint == b.fingerprint
    assert a.train.fingerprint == b.train.fingerprint
    assert len({a.train.fingerprint, a.val.fingerprint, a.test.fingerprint}) == 3
    assert make_splits(ds, 0.2, 0.2, seed=1).fingerprint != a.fingerprint
    assert make_splits(ds, 0.2, 0.2, seed=0, label_noise=0.1).fingerprint != a.fingerprint
    assert make_splits(ds, 0.2, 0.2, seed=0, standardize=False).fingerprint != a.fingerprint
    # A one-value change in the source data changes the digest and the affected split.
    X = ds.X.copy()
    X[a.val.indices[0], 0] += 1e-9
    ds2 = type(ds)(X=X, y=ds.y, task=ds.task, n_classes=ds.n_classes, name=ds.name)
    assert ds2.digest != ds.digest
    c = make_splits(ds2, 0.2, 0.2, seed=0, standardize=False)
    d = make_splits(ds, 0.2, 0.2, seed=0, standardize=False)
    assert c.val.fingerprint != d.val.fingerprint
    assert c.train.fingerprint == d.train.fingerprint
    assert c.fingerprint != d.fingerprint

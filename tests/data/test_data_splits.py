"""make_splits: sizes, disjointness, stratification, determinism, no leakage, noise knobs."""

import numpy as np
import pytest

from nnexp.data import Dataset, load_dataset, make_splits, round_table, split_sizes


def _check_partition(splits, n, expect_all=True):
    parts = [splits.train.indices, splits.val.indices]
    if splits.test is not None:
        parts.append(splits.test.indices)
    joined = np.concatenate(parts)
    assert len(np.unique(joined)) == len(joined), "a sample is in two splits"
    if expect_all:
        np.testing.assert_array_equal(np.sort(joined), np.arange(n))


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.mark.parametrize(("val", "test"), [(0.2, 0.2), (0.1, 0.3), (0.15, 0.0), (0.5, 0.49)])
def test_sizes_and_disjointness(val, test):
    ds = load_dataset("moons", n_samples=203, seed=1)
    s = make_splits(ds, val, test, seed=0)
    n_tr, n_val, n_test = split_sizes(203, val, test)
    assert (n_val, n_test) == (round(203 * val), round(203 * test))
    assert s.train.n == n_tr and len(s.val) == n_val
    assert (s.test is None) == (test == 0)
    if s.test is not None:
        assert s.test.n == n_test
    _check_partition(s, 203)


def test_disjoint_by_row_content():
    # Independent of index bookkeeping: no raw row appears in two splits.
    ds = load_dataset("moons", n_samples=300, noise=0.1)
    s = make_splits(ds, 0.2, 0.2, seed=3, standardize=False)
    rows = [{r.tobytes() for r in part.X} for part in (s.train, s.val, s.test)]
    assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])
    assert sum(map(len, rows)) == 300


def test_splits_contain_the_dataset_rows(digits):
    s = make_splits(digits, 0.2, 0.2, seed=0, standardize=False)
    for part in (s.train, s.val, s.test):
        np.testing.assert_array_equal(part.X, digits.X[part.indices])
        np.testing.assert_array_equal(part.y, digits.y[part.indices])


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "wine", "iris"])
def test_stratification_within_one_sample(name):
    ds = load_dataset(name)
    s = make_splits(ds, 0.17, 0.23, seed=5)
    counts = np.bincount(ds.y, minlength=ds.n_classes)
    for part in (s.train, s.val, s.test):
        expected = counts * part.n / ds.n_samples
        got = np.bincount(part.y, minlength=ds.n_classes)
        assert np.all(np.abs(got - expected) < 1.0), (got, expected)


def test_stratification_with_imbalanced_classes():
    y = np.repeat([0, 1, 2], [90, 9, 1])
    ds = Dataset(X=np.arange(100.0)[:, None], y=y, task="classification", n_classes=3, name="imb")
    s = make_splits(ds, 0.2, 0.1, seed=0)
    for part in (s.train, s.val, s.test):
        expected = np.array([90, 9, 1]) * part.n / 100
        assert np.all(np.abs(np.bincount(part.y, minlength=3) - expected) < 1.0)


def test_unstratified_for_regression_and_on_request():
    ds = load_dataset("diabetes")
    s = make_splits(ds, 0.2, 0.2, seed=0)
    assert s.params["stratify"] is False
    _check_partition(s, ds.n_samples)
    with pytest.raises(ValueError, match="stratify=True needs a classification"):
        make_splits(ds, 0.2, 0.2, seed=0, stratify=True)
    s = make_splits(load_dataset("iris"), 0.2, 0.2, seed=0, stratify=False)
    assert s.params["stratify"] is False
    _check_partition(s, 150)


def test_round_table_is_a_controlled_rounding():
    rng = np.random.default_rng(0)
    for _ in range(300):
        counts = rng.integers(1, 40, size=rng.integers(1, 8))
        n = counts.sum()
        cuts = np.sort(rng.integers(0, n + 1, size=2))
        sizes = np.diff([0, *cuts, n])
        table = round_table(counts, sizes)
        assert (table.sum(axis=1) == counts).all() and (table.sum(axis=0) == sizes).all()
        assert np.all(np.abs(table - counts[:, None] * sizes[None, :] / n) < 1)


def test_determinism_by_seed(digits):
    kw = {"n_train": 300, "label_noise": 0.2, "input_noise": 0.5}
    a = make_splits(digits, 0.2, 0.2, seed=11, **kw)
    b = make_splits(digits, 0.2, 0.2, seed=11, **kw)
    for pa, pb in ((a.train, b.train), (a.val, b.val), (a.test, b.test)):
        assert pa.X.tobytes() == pb.X.tobytes() and pa.y.tobytes() == pb.y.tobytes()
        np.testing.assert_array_equal(pa.indices, pb.indices)
    assert a.scaler_mean.tobytes() == b.scaler_mean.tobytes()
    c = make_splits(digits, 0.2, 0.2, seed=12, **kw)
    assert not np.array_equal(a.train.indices, c.train.indices)
    assert not np.array_equal(a.val.indices, c.val.indices)


def test_noise_does_not_move_the_split(digits):
    a = make_splits(digits, 0.2, 0.2, seed=4)
    b = make_splits(digits, 0.2, 0.2, seed=4, label_noise=0.3, input_noise=1.0)
    np.testing.assert_array_equal(a.train.indices, b.train.indices)
    assert a.val.fingerprint != b.val.fingerprint  # different scaler (noisy train X)
    np.testing.assert_array_equal(a.val.indices, b.val.indices)


def test_no_leakage_scaler_is_raw_train_statistics(digits):
    s = make_splits(digits, 0.2, 0.2, seed=0)
    raw = digits.X[s.train.indices]
    std = raw.std(axis=0)
    constant = np.ptp(raw, axis=0) == 0
    assert constant.any()  # digits has always-blank pixels: std 0 -> 1
    np.testing.assert_array_equal(s.scaler_mean, raw.mean(axis=0))
    np.testing.assert_array_equal(s.scaler_std[~constant], std[~constant])
    np.testing.assert_array_equal(s.scaler_std[constant], 1.0)
    np.testing.assert_array_equal(s.train.X, (raw - s.scaler_mean) / s.scaler_std)
    np.testing.assert_array_equal(s.val.X, s.transform(digits.X[s.val.indices]))
    np.testing.assert_array_equal(s.test.X, s.transform(digits.X[s.test.indices]))
    assert np.all(np.isfinite(s.train.X))
    np.testing.assert_allclose(s.train.X[:, ~constant].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(s.train.X[:, ~constant].std(axis=0), 1, atol=1e-12)
    # changing held-out data does not change the scaler
    X = digits.X.copy()
    X[s.val.indices] += 100.0
    X[s.test.indices] *= 3.0
    other = Dataset(X=X, y=digits.y, task="classification", n_classes=10, name="digits")
    t = make_splits(other, 0.2, 0.2, seed=0)
    np.testing.assert_array_equal(t.scaler_mean, s.scaler_mean)
    assert t.train.fingerprint == s.train.fingerprint


def test_regression_targets_not_standardised_by_default():
    ds = load_dataset("diabetes")
    s = make_splits(ds, 0.2, 0.2, seed=0)
    np.testing.assert_array_equal(s.train.y, ds.y[s.train.indices])
    assert s.y_mean is None
    t = make_splits(ds, 0.2, 0.2, seed=0, standardize_y=True)
    assert t.train.y.mean() == pytest.approx(0, abs=1e-12)
    np.testing.assert_allclose(t.inverse_transform_y(t.val.y), ds.y[t.val.indices])


def test_standardize_false_is_identity():
    ds = load_dataset("wine")
    s = make_splits(ds, 0.2, 0.2, seed=0, standardize=False)
    np.testing.assert_array_equal(s.train.X, ds.X[s.train.indices])
    np.testing.assert_array_equal(s.scaler_mean, 0.0)
    np.testing.assert_array_equal(s.scaler_std, 1.0)


def test_xor_without_held_out_data():
    ds = load_dataset("xor")
    s = make_splits(ds, val_fraction=0, test_fraction=0, seed=0, standardize=False)
    assert s.val is s.train and s.val_is_train
    assert s.val.fingerprint == s.train.fingerprint
    assert s.test is None
    np.testing.assert_array_equal(s.train.X, ds.X)
    np.testing.assert_array_equal(s.train.y, ds.y)


def test_label_noise_flips_exact_count_on_train_only(digits):
    for frac in (0.0, 0.1, 0.25, 1.0):
        s = make_splits(digits, 0.2, 0.2, seed=2, label_noise=frac)
        clean = digits.y[s.train.indices]
        changed = np.flatnonzero(s.train.y != clean)
        assert len(changed) == round(frac * s.train.n)
        np.testing.assert_array_equal(changed, s.flipped)
        np.testing.assert_array_equal(s.val.y, digits.y[s.val.indices])
        np.testing.assert_array_equal(s.test.y, digits.y[s.test.indices])
        assert s.train.y.min() >= 0 and s.train.y.max() < 10
    binary = load_dataset("moons", n_samples=100)
    s = make_splits(binary, 0.2, 0.0, seed=0, label_noise=1.0)
    np.testing.assert_array_equal(s.train.y, 1 - binary.y[s.train.indices])


def test_label_noise_regression_adds_scaled_gaussian():
    ds = load_dataset("diabetes")
    s = make_splits(ds, 0.2, 0.2, seed=0, label_noise=0.5)
    clean = ds.y[s.train.indices]
    diff = s.train.y - clean
    assert np.all(diff != 0)
    assert diff.std() == pytest.approx(0.5 * clean.std(), rel=0.15)
    np.testing.assert_array_equal(s.val.y, ds.y[s.val.indices])
    assert len(s.flipped) == 0


def test_input_noise_train_only():
    ds = load_dataset("iris")
    s = make_splits(ds, 0.2, 0.2, seed=0, input_noise=0.3, standardize=False)
    diff = s.train.X - ds.X[s.train.indices]
    assert diff.std() == pytest.approx(0.3, rel=0.15)
    np.testing.assert_array_equal(s.val.X, ds.X[s.val.indices])
    np.testing.assert_array_equal(s.test.X, ds.X[s.test.indices])
    t = make_splits(ds, 0.2, 0.2, seed=0, input_noise=0.3)
    np.testing.assert_array_equal(t.scaler_mean, s.train.X.mean(axis=0))  # fitted on noisy X


def test_n_train_subsample(digits):
    full = make_splits(digits, 0.2, 0.2, seed=0)
    s = make_splits(digits, 0.2, 0.2, seed=0, n_train=50)
    assert s.train.n == 50
    assert set(s.train.indices) <= set(full.train.indices)
    np.testing.assert_array_equal(s.val.indices, full.val.indices)
    np.testing.assert_array_equal(s.test.indices, full.test.indices)
    expected = np.bincount(digits.y[full.train.indices], minlength=10) * 50 / full.train.n
    assert np.all(np.abs(np.bincount(s.train.y, minlength=10) - expected) < 1)
    raw = digits.X[s.train.indices]
    np.testing.assert_array_equal(s.scaler_mean, raw.mean(axis=0))  # scaler on the subsample
    s = make_splits(digits, 0.2, 0.2, seed=0, n_train=20, label_noise=0.25)
    assert len(s.flipped) == 5
    r = make_splits(load_dataset("sine", n_samples=100), 0.2, 0.2, seed=0, n_train=10)
    assert r.train.n == 10
    with pytest.raises(ValueError, match=r"n_train=2000 is larger than the 1079 training"):
        make_splits(digits, 0.2, 0.2, seed=0, n_train=2000)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"val_fraction": 1.0}, r"val_fraction must be < 1.0, got 1.0"),
        ({"test_fraction": -0.1}, r"test_fraction must be >= 0.0, got -0.1"),
        (
            {"val_fraction": 0.5, "test_fraction": 0.5},
            r"val_fraction \(0.5\) \+ test_fraction \(0.5\) must be < 1",
        ),
        ({"seed": -3}, "seed must be >= 0, got -3"),
        ({"n_train": 0}, "n_train must be >= 1, got 0"),
        ({"label_noise": 1.5}, "label_noise must be <= 1.0, got 1.5"),
        ({"input_noise": -1}, "input_noise must be >= 0.0, got -1"),
        ({"standardize_y": True}, "only meaningful for regression"),
    ],
)
def test_make_splits_validation(kwargs, pattern):
    args = {"val_fraction": 0.2, "test_fraction": 0.2, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=pattern):
        make_splits(load_dataset("iris"), **args)


def test_too_few_samples():
    with pytest.raises(ValueError, match="has 4 samples: too few"):
        make_splits(load_dataset("xor"), 0.5, 0.4, seed=0)

"""trivial_baseline against hand-computed values."""

import math

import numpy as np
import pytest

from nnexp.data import Split, load_dataset, make_splits, trivial_accuracy, trivial_baseline


def _split(y):
    y = np.asarray(y)
    return Split(np.zeros((len(y), 1)), y)


def test_cross_entropy_is_minus_mean_log_prior():
    train = _split([0, 0, 0, 1])  # prior [0.75, 0.25]
    val = _split([0, 1])
    expected = -(math.log(0.75) + math.log(0.25)) / 2
    assert trivial_baseline(train, val, "classification", "cross_entropy") == pytest.approx(
        expected
    )
    assert trivial_baseline(train, val, "classification", "bce") == pytest.approx(expected)
    # three classes, prior [0.5, 0.25, 0.25]
    train = _split([0, 0, 1, 2])
    val = _split([2, 2, 0])
    expected = -(2 * math.log(0.25) + math.log(0.5)) / 3
    assert trivial_baseline(train, val, "classification", "cross_entropy") == pytest.approx(
        expected
    )


def test_bce_accepts_column_targets_and_rejects_multiclass():
    train = np.array([[0.0], [1.0], [1.0], [1.0]])  # p1 = 0.75
    val = np.array([[1.0], [0.0]])
    expected = -(math.log(0.75) + math.log(0.25)) / 2
    assert trivial_baseline(train, val, "classification", "bce") == pytest.approx(expected)
    with pytest.raises(ValueError, match="'bce' needs 2 classes"):
        trivial_baseline(_split([0, 1, 2]), _split([0]), "classification", "bce")


def test_mse_on_binary_targets_uses_the_prior():
    # The tutorial's sigmoid + MSE on XOR: p = 0.5, every (y - p)^2 = 0.25.
    xor = load_dataset("xor")
    s = make_splits(xor, 0, 0, seed=0)
    assert trivial_baseline(s.train, s.val, "classification", "mse") == pytest.approx(0.25)
    train, val = _split([0, 1, 1, 1]), _split([0, 1])  # p = 0.75
    expected = ((0 - 0.75) ** 2 + (1 - 0.75) ** 2) / 2
    assert trivial_baseline(train, val, "classification", "mse") == pytest.approx(expected)


def test_mse_multiclass_one_hot():
    train, val = _split([0, 0, 1, 2]), _split([1])
    prior = np.array([0.5, 0.25, 0.25])
    expected = np.mean((np.array([0, 1, 0]) - prior) ** 2)
    assert trivial_baseline(train, val, "classification", "mse") == pytest.approx(expected)


def test_regression_mse_is_deviation_from_train_mean():
    train = Split(np.zeros((3, 1)), np.array([1.0, 2.0, 6.0]))  # mean 3
    val = Split(np.zeros((2, 1)), np.array([0.0, 5.0]))
    assert trivial_baseline(train, val, "regression", "mse") == pytest.approx((9 + 4) / 2)
    # (n, k) targets: per-column train mean, averaged over all entries
    y_tr, y_ev = np.array([[0.0, 10.0], [2.0, 20.0]]), np.array([[1.0, 16.0]])
    assert trivial_baseline(y_tr, y_ev, "regression", "mse") == pytest.approx((0 + 1) / 2)
    with pytest.raises(ValueError, match="regression uses 'mse'"):
        trivial_baseline(train, val, "regression", "cross_entropy")


def test_unseen_class_is_clipped_not_infinite():
    value = trivial_baseline(
        _split([0, 0]), _split([1]), "classification", "cross_entropy", n_classes=2
    )
    assert value == pytest.approx(-math.log(1e-12))


def test_bad_names():
    with pytest.raises(ValueError, match="loss must be one of"):
        trivial_baseline(_split([0, 1]), _split([0]), "classification", "hinge")
    with pytest.raises(ValueError, match="task must be one of"):
        trivial_baseline(_split([0, 1]), _split([0]), "ranking", "mse")


def test_trivial_accuracy():
    assert trivial_accuracy(_split([0, 1, 1]), _split([1, 1, 0, 2])) == 0.5

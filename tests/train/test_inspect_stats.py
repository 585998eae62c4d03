"""Per-layer statistics (``nnexp.nn.inspect.LayerProbe``) against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnexp.data import load_dataset, make_splits
from nnexp.nn import MLP, make_optimizer
from nnexp.nn.activations import Activation
from nnexp.nn.inspect import SATURATION_Z, LayerProbe, layer_activations
from nnexp.nn.layer import Layer
from nnexp.train import EarlyStopping, fit


@pytest.fixture(scope="module")
def splits():
    ds = load_dataset("moons", n_samples=200, noise=0.2, seed=0)
    return make_splits(ds, val_fraction=0.25, test_fraction=0.0, seed=0)


def _model(activation="tanh", sizes=(2, 8, 8, 1), seed=0):
    return MLP(list(sizes), activation=activation, output="sigmoid", rng=seed)


def test_grad_norm_is_the_quadratic_mean_over_batches_and_update_ratio_the_last_step(splits):
    model, twin = _model(), _model()
    n = len(splits.train.X)
    batch = n // 3 + 1  # three batches, the last one smaller
    history = fit(model, make_optimizer("sgd", model.params, lr=0.1), splits, epochs=1,
                  batch_size=batch, shuffle=False, probe=LayerProbe(model))  # fmt: skip
    record = history.epochs[0]
    # the same epoch by hand: per-batch squared norms, then the last step's change of W
    opt = make_optimizer("sgd", twin.params, lr=0.1)
    squares = np.zeros(3)
    X, y = splits.train.X, splits.train.y
    starts = list(range(0, n, batch))
    for s in starts:
        twin.loss_and_grads(X[s : s + batch], y[s : s + batch])
        for k in range(3):
            squares[k] += np.sum(twin.grads[2 * k] ** 2) + np.sum(twin.grads[2 * k + 1] ** 2)
        if s == starts[-1]:
            before = [twin.params[2 * k].copy() for k in range(3)]
        opt.step(twin.grads)
    for k in range(3):
        expected = math.sqrt(squares[k] / len(starts))
        assert record[f"layer{k + 1}/grad_norm"] == pytest.approx(expected, rel=1e-12)
        W = twin.params[2 * k]
        ratio = np.linalg.norm(W - before[k]) / np.linalg.norm(before[k])
        assert record[f"layer{k + 1}/weight_norm"] == pytest.approx(np.linalg.norm(W), rel=1e-12)
        assert record[f"layer{k + 1}/update_ratio"] == pytest.approx(ratio, rel=1e-9)
        assert np.array_equal(W, model.params[2 * k])  # the twin trained the same way


def test_activation_statistics_match_a_forward_pass_by_hand(splits):
    model = _model("relu", sizes=(2, 16, 1))
    probe = LayerProbe(model)
    history = fit(model, make_optimizer("adam", model.params, lr=0.01), splits, epochs=2,
                  batch_size=32, probe=probe)  # fmt: skip
    last = history.epochs[-1]
    Xv = splits.val.X
    z1 = Xv @ model.params[0] + model.params[1]
    assert last["layer1/preact_mean"] == pytest.approx(z1.mean(), rel=1e-12)
    assert last["layer1/preact_std"] == pytest.approx(z1.std(), rel=1e-12)
    assert last["layer1/dead_fraction"] == pytest.approx(1.0 - (z1 > 0).any(axis=0).mean())
    logits = np.maximum(z1, 0) @ model.params[2] + model.params[3]
    assert last["layer2/preact_mean"] == pytest.approx(logits.mean(), rel=1e-12)
    assert "layer2/dead_fraction" not in last  # the output layer has no nonlinearity of its own


def test_saturated_fraction_counts_units_saturated_on_most_samples(splits):
    model = _model("tanh", sizes=(2, 12, 1))
    model.params[0][...] *= 8.0  # big weights: some units saturate
    probe = LayerProbe(model)
    history = fit(model, make_optimizer("sgd", model.params, lr=1e-6), splits, epochs=1,
                  probe=probe)  # fmt: skip
    z = splits.val.X @ model.params[0] + model.params[1]
    saturated = (np.abs(z) > SATURATION_Z["tanh"]).mean(axis=0) > 0.5
    value = history.epochs[0]["layer1/saturated_fraction"]
    assert value == pytest.approx(saturated.mean())
    assert 0 < value <= 1
    assert abs(math.tanh(SATURATION_Z["tanh"]) - 0.98) < 1e-12
    sigmoid = 1 / (1 + math.exp(-SATURATION_Z["sigmoid"]))
    assert abs(sigmoid - 0.98) < 1e-12


def test_only_logged_epochs_are_probed(splits):
    model = _model()
    history = fit(model, make_optimizer("adam", model.params, lr=0.01), splits, epochs=12,
                  batch_size=32, probe=LayerProbe(model, log_every=5))  # fmt: skip
    probed = [r["epoch"] for r in history.epochs if "layer1/grad_norm" in r]
    assert probed == [1, 5, 10, 12]
    with_activations = [r["epoch"] for r in history.epochs if "layer1/preact_std" in r]
    assert with_activations == [1, 5, 10, 12]


def test_early_stopping_probes_every_epoch_and_the_stopping_one_fully(splits):
    model = _model()
    stop = EarlyStopping(patience=2, min_delta=10.0)  # stops at epoch 3
    history = fit(model, make_optimizer("adam", model.params, lr=0.01), splits, epochs=50,
                  batch_size=32, early_stopping=stop, probe=LayerProbe(model, log_every=5))  # fmt: skip
    assert [r["epoch"] for r in history.epochs] == [1, 2, 3]
    assert all("layer2/grad_norm" in r for r in history.epochs)
    assert "layer2/preact_std" not in history.epochs[1]
    assert "layer2/preact_std" in history.epochs[2]  # the last epoch: the run stops there


def test_the_probe_does_not_change_training(splits):
    def train(probe: bool):
        model = _model("relu", seed=3)
        opt = make_optimizer("adam", model.params, lr=0.02)
        history = fit(model, opt, splits, epochs=5, batch_size=16, seed=1,
                      probe=LayerProbe(model) if probe else None)  # fmt: skip
        return history, model

    (plain, m1), (probed, m2) = train(False), train(True)
    for a, b in zip(plain.epochs, probed.epochs, strict=True):
        for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
            assert a[key] == b[key]
        assert not any("/" in key for key in a)
    assert all(np.array_equal(p, q) for p, q in zip(m1.params, m2.params, strict=True))


def test_statistics_are_bit_reproducible(splits):
    def stats():
        model = _model("tanh", seed=5)
        history = fit(model, make_optimizer("adam", model.params, lr=0.01), splits, epochs=3,
                      batch_size=32, seed=2, probe=LayerProbe(model))  # fmt: skip
        return [{k: v for k, v in r.items() if "/" in k} for r in history.epochs]

    first, second = stats(), stats()
    assert first == second and len(first[0]) == 3 * 5 + 2


class _Scale(Layer):
    """A parameter-free stand-in for a normalisation layer between a Dense and its activation."""

    def forward(self, x, training=False, rng=None):
        self._s = True
        return x * 2.0

    def backward(self, grad):
        return grad * 2.0


class _WithNorm:
    """An MLP's ops with a _Scale after the first Dense (the probe reads only ``layers`` and
    ``flat_grads``)."""

    def __init__(self, model):
        self.layers = [model.layers[0], _Scale(), *model.layers[1:]]
        self.flat_grads = model.flat_grads


def test_a_layer_between_dense_and_activation_keeps_the_numbering(splits):
    model = _model("tanh", sizes=(2, 6, 4, 1))
    wrapped = _WithNorm(model)
    assert layer_activations(wrapped) == ["tanh", "tanh", None]
    assert isinstance(wrapped.layers[2], Activation)
    probe = LayerProbe(wrapped)
    probe.begin(splits.val.X, epochs=1, last_start=0, every_epoch=False)
    assert probe.track(1)
    model.loss_and_grads(splits.train.X, splits.train.y)
    probe.batch(0)
    stats = probe.epoch_stats(1)
    z1 = 2.0 * (splits.val.X @ model.params[0] + model.params[1])  # after the norm layer
    assert stats["layer1/preact_std"] == pytest.approx(z1.std(), rel=1e-12)
    expected = math.sqrt(np.sum(model.grads[2] ** 2) + np.sum(model.grads[3] ** 2))
    assert stats["layer2/grad_norm"] == pytest.approx(expected, rel=1e-12)
    assert sorted({k.split("/")[0] for k in stats}) == ["layer1", "layer2", "layer3"]


def test_histogram_snapshots_are_first_middle_and_last(splits):
    model = _model()
    probe = LayerProbe(model, log_every=1)
    fit(model, make_optimizer("adam", model.params, lr=0.01), splits, epochs=30, batch_size=64,
        probe=probe)  # fmt: skip
    epochs = [snap.epoch for snap in probe.histogram_snapshots()]
    assert epochs[0] == 1 and epochs[-1] == 30 and 13 <= epochs[1] <= 18
    assert len(probe.snapshots) <= 9
    last = probe.histogram_snapshots()[-1]
    assert np.array_equal(last.weights[0], model.params[0])
    assert last.preacts[0].shape[1] == 8

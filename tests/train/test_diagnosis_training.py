"""Real training runs that must be diagnosed underfit / overfit / good / diverged.

The configurations were chosen with margin: on seeds 0-5 (0-9 for sine) each lands on its
label with its deciding numbers clearly away from the thresholds (rules: nnexp.diagnosis).
"""

from __future__ import annotations

import math

import pytest

from nnexp import diagnosis as dg
from nnexp.data import load_dataset, make_splits, trivial_baseline
from nnexp.diagnosis import diagnose
from nnexp.nn import MLP, make_optimizer
from nnexp.plots import plot_learning_curves
from nnexp.train import fit


def train_and_diagnose(ds, split_kw, sizes, activation, output, lr, epochs, batch_size, seed,
                       optimizer="adam", weight_decay=0.0):  # fmt: skip
    splits = make_splits(ds, seed=seed, **split_kw)
    model = MLP(sizes, activation=activation, output=output, rng=seed)
    opt = make_optimizer(optimizer, model.params, lr=lr, weight_decay=weight_decay)
    history = fit(model, opt, splits, epochs=epochs, batch_size=batch_size, seed=seed)
    baseline = trivial_baseline(splits.train, splits.val, splits.task, model.loss_name)
    return history, diagnose(history, baseline)


SPLIT = {"val_fraction": 0.2, "test_fraction": 0.2}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("sizes", [[2, 3], [2, 2, 3]], ids=["linear", "2-2-3"])
def test_too_small_network_on_spirals_underfits(sizes, seed):
    ds = load_dataset("spirals", n_samples=300, seed=seed)
    h, d = train_and_diagnose(ds, SPLIT, sizes, "tanh", "softmax", 0.05, 100, 32, seed)
    assert h.stop_reason == "completed"
    assert d.label == "underfit", d.reason
    assert d.train_vs_baseline > 0.7 > dg.UNDERFIT_TRAIN_RATIO
    assert d.baseline_loss == pytest.approx(math.log(3), rel=0.02)
    assert h.final["train_accuracy"] < 0.7


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wide_network_on_30_noisy_moons_overfits(seed):
    ds = load_dataset("moons", n_samples=300, noise=0.2, seed=seed)
    split = {"val_fraction": 0.3, "test_fraction": 0.2, "n_train": 30, "label_noise": 0.2}
    h, d = train_and_diagnose(ds, split, [2, 128, 128, 1], "relu", "sigmoid", 0.01, 300, None, seed)
    assert d.label == "overfit", d.reason
    assert d.train_vs_baseline < 0.05  # memorised the training set, noisy labels included
    assert d.relative_val_rise > 1.0 and d.relative_gap > 1.0
    assert d.best_val_epoch < 0.2 * d.last_epoch
    assert h.final["train_accuracy"] == 1.0 > h.final["val_accuracy"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wide_network_on_20_noisy_sine_points_overfits(seed):
    ds = load_dataset("sine", n_samples=120, noise=0.5, seed=seed)
    split = {"val_fraction": 0.5, "test_fraction": 0.2, "n_train": 20}
    h, d = train_and_diagnose(
        ds, split, [1, 256, 256, 1], "relu", "identity", 0.01, 400, None, seed
    )
    assert d.label == "overfit", d.reason
    assert d.train_vs_baseline < 0.25
    assert d.relative_val_rise > 3 * dg.OVERFIT_VAL_RISE
    assert d.val_rise / d.baseline_loss > 2 * dg.OVERFIT_VAL_RISE_MIN
    assert h.final["train_r2"] > h.final["val_r2"] + 0.2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sensible_network_on_moons_is_good(seed):
    ds = load_dataset("moons", n_samples=1000, noise=0.2, seed=seed)
    h, d = train_and_diagnose(
        ds, SPLIT, [2, 16, 16, 1], "tanh", "sigmoid", 0.01, 100, 32, seed, weight_decay=1e-3
    )
    assert d.label == "good", d.reason
    assert d.train_vs_baseline < 0.2
    assert abs(d.relative_gap) < 0.1
    assert d.val_rise / d.baseline_loss < 0.5 * dg.OVERFIT_VAL_RISE_MIN
    assert h.final["val_accuracy"] > 0.95 and h.test["test_accuracy"] > 0.93


def test_huge_learning_rate_diverges_and_plots(tmp_path):
    ds = load_dataset("sine", n_samples=100, noise=0.1, seed=0)
    h, d = train_and_diagnose(
        ds, SPLIT, [1, 32, 32, 1], "relu", "identity", 1e3, 50, 8, 0, optimizer="sgd"
    )
    assert h.diverged and d.label == "diverged"
    assert h.stop_reason.startswith("diverged: ")  # said once in the reason, not twice
    assert d.reason.startswith(f"Training diverged ({h.stop_reason.removeprefix('diverged: ')}) ")
    assert not any(isinstance(v, float) and math.isnan(v) for v in d.as_dict().values())
    png = plot_learning_curves(h, tmp_path / "diverged.png", diagnosis=d)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_real_overfit_run_plots(tmp_path):
    ds = load_dataset("moons", n_samples=300, noise=0.2, seed=0)
    split = {"val_fraction": 0.3, "test_fraction": 0.2, "n_train": 30, "label_noise": 0.2}
    h, d = train_and_diagnose(ds, split, [2, 128, 128, 1], "relu", "sigmoid", 0.01, 300, None, 0)
    png = plot_learning_curves(h, tmp_path / "overfit.png", title="moons n_train=30", diagnosis=d)
    assert png.stat().st_size > 20_000

"""diagnose() on hand-built histories: one per label, the numbers, and the rule edges."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnexp import diagnosis as dg
from nnexp.diagnosis import Diagnosis, diagnose
from nnexp.train import History

BASE = math.log(2)  # BCE of the class prior on a balanced binary problem


def make_history(train, val, stop_reason="completed", diverged=False) -> History:
    recs = [
        {"epoch": i + 1, "train_loss": float(t), "val_loss": float(v), "lr": 0.01}
        for i, (t, v) in enumerate(zip(train, val, strict=True))
    ]
    return History(epochs=recs, stop_reason=stop_reason, diverged=diverged)


EP = np.arange(1, 101)
W = 10  # smoothing window for 100 epochs


def tmean(a, w=W) -> np.ndarray:
    """Trailing means over w epochs (the smoothed curve diagnose() reads)."""
    a = np.asarray(a, dtype=float)
    return np.array([a[i - w + 1 : i + 1].mean() for i in range(w - 1, len(a))])


def test_smoothing_window():
    assert [dg.smoothing_window(n) for n in (1, 19, 20, 55, 100, 5000)] == [1, 1, 2, 5, 10, 10]


def test_underfit_flat_training_loss():
    train = BASE - 0.1 * (1 - np.exp(-EP / 10))  # 0.693 -> 0.593, 86% of baseline
    val = train + 0.01
    d = diagnose(make_history(train, val), BASE)
    assert d.label == "underfit"
    assert d.smoothing_window == W
    assert d.final_train_loss == pytest.approx(train[-10:].mean())
    assert d.train_vs_baseline == pytest.approx(train[-10:].mean() / BASE)
    assert d.train_vs_baseline > dg.UNDERFIT_TRAIN_RATIO
    assert "86%" in d.reason and "baseline" in d.reason


def test_good_curves_close_and_decreasing():
    train = 0.05 + (BASE - 0.05) * np.exp(-EP / 15)
    val = 0.07 + (BASE - 0.07) * np.exp(-EP / 15)
    d = diagnose(make_history(train, val), BASE)
    assert d.label == "good"
    gap = val[-10:].mean() - train[-10:].mean()
    assert d.gap == pytest.approx(gap)
    assert d.relative_gap == pytest.approx(gap / BASE)
    assert d.best_val_epoch == 100 and d.last_epoch == 100
    assert d.val_rise == 0.0 and d.relative_val_rise == 0.0
    assert d.min_val_loss == pytest.approx(val[-10:].mean())


def test_overfit_validation_rises_from_minimum():
    train = 0.005 + (BASE - 0.005) * np.exp(-EP / 10)
    val = 0.2 + (BASE - 0.2) * np.exp(-EP / 10) + 0.004 * np.maximum(EP - 40, 0)
    h = make_history(train, val)
    d = diagnose(h, BASE)
    assert d.label == "overfit"
    i_min = int(np.argmin(val))
    assert d.best_val_epoch == i_min + 1 == h.best_epoch
    smooth = tmean(val)
    assert d.min_val_loss == pytest.approx(smooth.min())
    assert d.val_rise == pytest.approx(smooth[-1] - smooth.min())
    assert d.relative_val_rise == pytest.approx((smooth[-1] - smooth.min()) / smooth.min())
    assert d.relative_val_rise > dg.OVERFIT_VAL_RISE
    j = int(np.argmin(smooth))  # the smoothed minimum averages epochs j+1 .. j+W
    assert f"from its minimum {smooth.min():.4g} (mean of epochs {j + 1}-{j + W}; best single " \
        f"epoch {i_min + 1})" in d.reason  # fmt: skip


def test_overfit_large_gap_that_stopped_closing():
    # val plateaus at 0.4 from epoch 30 (no 10 % rise) while train goes to ~0
    train = 0.01 + (BASE - 0.01) * np.exp(-EP / 8)
    val = np.maximum(0.4, BASE - 0.01 * EP) + 0.0005 * (EP > 30) * np.sin(EP)
    val[29] = 0.39  # the minimum, at epoch 30
    d = diagnose(make_history(train, val), BASE)
    assert d.relative_val_rise < dg.OVERFIT_VAL_RISE
    assert d.relative_gap > dg.OVERFIT_GAP
    assert d.best_val_epoch == 30
    assert d.label == "overfit"
    j = int(np.argmin(tmean(val)))  # the smoothed minimum averages epochs j+1 .. j+W
    assert j + 1 == 30
    assert f"stopped improving: lowest over epochs 30-{j + W} (10-epoch mean), of 100 epochs " \
        "trained: regularise" in d.reason  # fmt: skip


def test_large_gap_still_improving_is_not_overfit():
    train = 0.01 + (BASE - 0.01) * np.exp(-EP / 8)
    val = 0.3 + 0.3 * np.exp(-EP / 30)  # still decreasing at the end
    d = diagnose(make_history(train, val), BASE)
    assert d.relative_gap > dg.OVERFIT_GAP
    assert d.best_val_epoch == 100
    assert d.label == "good"


def test_relative_noise_on_tiny_val_loss_is_not_overfit():
    train = 0.001 + (BASE - 0.001) * np.exp(-EP / 5)
    val = 0.01 + (BASE - 0.01) * np.exp(-EP / 5)
    val[-W:] = 0.013  # +30 % relative, but 0.4 % of the baseline
    d = diagnose(make_history(train, val), BASE)
    assert d.relative_val_rise == pytest.approx(0.3, rel=1e-4)
    assert d.label == "good"


def test_noisy_plateau_is_good_not_overfit():
    """Mini-batch noise: a lucky low epoch and a spike at the end are not a rising curve."""
    rng = np.random.default_rng(0)
    train = 0.08 + (BASE - 0.08) * np.exp(-EP / 8) + rng.uniform(0, 0.01, EP.size)
    val = 0.15 + (BASE - 0.15) * np.exp(-EP / 8) + rng.uniform(0, 0.04, EP.size)
    val[60], val[-1] = 0.10, 0.20  # raw rise from minimum: 100 %
    d = diagnose(make_history(train, val), BASE)
    assert d.best_val_epoch == 61
    assert d.relative_val_rise < dg.OVERFIT_VAL_RISE
    assert d.label == "good"


def test_short_history_uses_raw_values():
    train, val = [0.6, 0.2, 0.1, 0.05], [0.6, 0.2, 0.15, 0.3]
    d = diagnose(make_history(train, val), BASE)
    assert d.smoothing_window == 1
    assert d.final_train_loss == 0.05 and d.final_val_loss == 0.3
    assert d.min_val_loss == 0.15 and d.best_val_epoch == 3
    assert d.val_rise == pytest.approx(0.15) and d.relative_val_rise == pytest.approx(1.0)
    assert d.gap == pytest.approx(0.25)
    assert d.label == "overfit"


def test_underfit_threshold_is_strict():
    train = np.full(10, dg.UNDERFIT_TRAIN_RATIO * 2.0)
    d = diagnose(make_history(train, train), 2.0)
    assert d.train_vs_baseline == dg.UNDERFIT_TRAIN_RATIO
    assert d.label != "underfit"
    d2 = diagnose(make_history(train * 1.01, train * 1.01), 2.0)
    assert d2.label == "underfit"


def test_underfit_takes_precedence_over_rising_validation():
    train = np.full(50, 0.6)
    val = np.concatenate([np.linspace(0.7, 0.6, 25), np.linspace(0.6, 1.0, 25)])
    assert diagnose(make_history(train, val), BASE).label == "underfit"


def test_diverged_with_finite_epochs():
    h = make_history([0.6, 0.5], [0.61, 0.52], stop_reason="diverged: loss=nan at epoch 3")
    h.diverged = True
    d = diagnose(h, BASE)
    assert d.label == "diverged"
    assert d.reason.startswith("Training diverged (loss=nan at epoch 3); the last finite")
    assert d.final_train_loss == 0.5 and d.last_epoch == 2
    assert d.stop_reason == "diverged: loss=nan at epoch 3"


def test_diverged_before_any_epoch_has_no_nan_numbers():
    h = History(epochs=[], stop_reason="diverged: loss=inf at epoch 1", diverged=True)
    d = diagnose(h, BASE)
    assert d.label == "diverged"
    values = d.as_dict()
    assert values["final_train_loss"] is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in values.values())


def test_as_dict_and_str():
    train = 0.05 + (BASE - 0.05) * np.exp(-EP / 15)
    d = diagnose(make_history(train, train + 0.01), BASE)
    out = d.as_dict()
    assert out["label"] == "good" and out["reason"] == d.reason
    for key in (
        "baseline_loss",
        "final_train_loss",
        "final_val_loss",
        "train_vs_baseline",
        "gap",
        "relative_gap",
        "min_val_loss",
        "best_val_epoch",
        "last_epoch",
        "val_rise",
        "relative_val_rise",
    ):
        assert out[key] is not None and math.isfinite(out[key]), key
    assert str(d).startswith("good: ")
    assert isinstance(d, Diagnosis) and d.label in dg.LABELS


def test_no_validation_split_is_judged_on_train_only():
    recs = [{"epoch": i, "train_loss": 0.1} for i in range(1, 6)]
    d = diagnose(History(epochs=recs, stop_reason="completed"), BASE)
    assert d.label == "good" and d.final_val_loss is None and "no validation" in d.reason


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_invalid_baseline(bad):
    with pytest.raises(ValueError, match="baseline_loss"):
        diagnose(make_history([0.1], [0.1]), bad)


def test_empty_history_rejected():
    with pytest.raises(ValueError, match="empty history"):
        diagnose(History(), BASE)

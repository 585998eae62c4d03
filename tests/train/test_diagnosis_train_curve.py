"""diagnose() reads the train curve before it says "overfit", and says only what the curves show.

The curves below are the per-epoch losses an outside tester recorded (rounded to 4 digits) for
runs that nnexp called OVERFIT "while train loss fell" although the train loss rose with the
validation loss (lr 0.3 / lr 5 instability), and a GOOD "stays close" with a gap of 46 % of
the baseline. Each test failed before the fix.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnexp import diagnosis as dg
from nnexp.diagnosis import diagnose
from nnexp.train import History

BASE = math.log(2)  # BCE of the class prior on a balanced binary problem


def make_history(train, val, restored_epoch=None) -> History:
    recs = [
        {"epoch": i + 1, "train_loss": float(t), "val_loss": float(v)}
        for i, (t, v) in enumerate(zip(train, val, strict=True))
    ]
    return History(epochs=recs, stop_reason="completed", restored_epoch=restored_epoch)


def tmean(a, w) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return np.array([a[i - w + 1 : i + 1].mean() for i in range(w - 1, len(a))])


# +experiment=dead_relu data.n_samples=300 trainer.epochs=40 (Adam lr 0.3): train and val
# spiked together at epochs 34-37
DEAD_RELU_40_TRAIN = [5.8642, 1.1043, 0.4962, 0.3291, 0.142, 0.1507, 0.1164, 0.0458, 0.4494,
    0.2228, 0.0323, 0.0265, 0.0465, 0.0242, 0.0219, 0.0674, 0.1413, 0.048, 0.0719, 0.0346,
    0.0883, 0.0718, 0.062, 0.0312, 0.0286, 0.0208, 0.028, 0.0095, 0.0082, 0.0074, 0.0034,
    0.003, 0.0034, 0.0283, 0.3219, 0.1205, 0.0325, 0.0159, 0.0252, 0.0284]  # fmt: skip
DEAD_RELU_40_VAL = [7.3289, 0.2858, 0.1625, 0.1264, 0.1454, 0.1892, 0.1081, 0.1363, 0.4521,
    0.1031, 0.1376, 0.0831, 0.0083, 0.1044, 0.0403, 0.0035, 0.247, 0.1365, 0.0749, 0.1587,
    0.0775, 0.1233, 0.1061, 0.0554, 0.0182, 0.011, 0.0303, 0.0458, 0.1765, 0.2319, 0.2265,
    0.1724, 0.0382, 0.0504, 0.7672, 0.1511, 0.0378, 0.0957, 0.0437, 0.1166]  # fmt: skip
# ... model.activation=elu trainer.epochs=20 data.n_samples=200: train 0.155 -> 0.197
ELU_20_TRAIN = [43.577, 16.2712, 4.5534, 3.2026, 0.7606, 0.9223, 1.5538, 1.2071, 1.0878, 0.9506,
    0.4507, 0.3264, 0.2153, 0.2495, 0.1764, 0.1343, 0.161, 0.2604, 0.1932, 0.2]  # fmt: skip
ELU_20_VAL = [43.4969, 17.2304, 1.5772, 2.8317, 0.4487, 0.2598, 0.3758, 0.6203, 0.4517, 0.0751,
    0.0561, 1.2638, 0.1823, 0.207, 0.0648, 0.052, 0.1058, 0.0328, 0.1124, 0.1865]  # fmt: skip
# optimizer=sgd optimizer.lr=5 model.activation=relu data.n_samples=200 trainer.epochs=10 seed=0:
# the final val loss 0.2865 is below the train loss 0.2889
SGD_LR5_TRAIN = [0.9632, 0.8769, 0.6805, 0.7023, 0.7129, 0.38, 0.5205, 0.6841, 0.4926, 0.2889]
SGD_LR5_VAL = [0.9652, 0.9008, 0.6849, 0.3878, 0.5387, 0.2359, 0.5183, 0.598, 0.5264, 0.2865]


@pytest.mark.parametrize(
    ("train", "val", "w", "min_span", "peak_span"),
    [
        (DEAD_RELU_40_TRAIN, DEAD_RELU_40_VAL, 4, "mean of epochs 25-28", "mean of epochs 34-37"),
        (ELU_20_TRAIN, ELU_20_VAL, 2, "mean of epochs 15-16", "mean of epochs 18-19"),
        (SGD_LR5_TRAIN, SGD_LR5_VAL, 1, "epoch 6", "epoch 8"),
    ],
    ids=["dead_relu-40", "elu-20", "sgd-lr5-seed0"],
)
def test_validation_rising_with_the_train_loss_is_unstable_not_overfit(
    train, val, w, min_span, peak_span
):
    d = diagnose(make_history(train, val), BASE)
    st, sv = tmean(train, w), tmean(val, w)
    at = int(np.argmin(sv))
    peak = at + int(np.argmax(st[at:]))
    assert d.label == "unstable", d.reason
    assert d.train_at_min_val == pytest.approx(st[at])
    assert d.train_rise == pytest.approx(st[peak] - st[at])
    assert st[peak] > st[at]  # the train loss climbed above its value at the validation minimum
    t0, top, end, v = d.train_at_min_val, d.train_at_min_val + d.train_rise, d.final_train_loss, \
        d.final_val_loss  # fmt: skip
    assert d.train_rise > dg.UNSTABLE_TRAIN_RISE * d.train_at_min_val
    assert d.train_rise > dg.UNSTABLE_TRAIN_SHARE * d.val_rise
    assert (
        f"to {v:.4g} by epoch {len(val)}, and train loss rose too, from {t0:.4g} "
        f"({min_span}) to {top:.4g} ({peak_span}), ending at {end:.4g} by epoch "
        f"{len(val)} (baseline {BASE:.4g}): train and validation loss rising together is "
        "unstable training, not overfitting; lower the learning rate or clip gradients."
    ) in d.reason
    assert "fell" not in d.reason and "regularise" not in d.reason


def test_dead_relu_40_ends_with_train_above_its_value_at_the_validation_minimum():
    """The tester's numbers: 4-epoch train means 0.0217 (epochs 25-28), 0.0255 (37-40)."""
    d = diagnose(make_history(DEAD_RELU_40_TRAIN, DEAD_RELU_40_VAL), BASE)
    assert round(d.train_at_min_val, 4) == 0.0217 and round(d.final_train_loss, 4) == 0.0255
    assert "ending at 0.0255 by epoch 40" in d.reason


def test_overfit_says_the_train_loss_fell_when_it_fell():
    ep = np.arange(1, 101)
    train = 0.005 + (BASE - 0.005) * np.exp(-ep / 10)
    val = 0.2 + (BASE - 0.2) * np.exp(-ep / 10) + 0.004 * np.maximum(ep - 40, 0)
    d = diagnose(make_history(train, val), BASE)
    st, sv = tmean(train, 10), tmean(val, 10)
    at = int(np.argmin(sv))
    assert d.label == "overfit" and d.train_rise == 0.0
    assert st[-1] < st[at]
    assert (
        f"while train loss fell from {st[at]:.4g} (the same epochs) to {st[-1]:.4g} (a gap of "
        f"{(sv[-1] - st[-1]) / BASE:.0%} of the baseline {BASE:.4g}): regularise, get more "
        "data or stop earlier."
    ) in d.reason


def test_a_tiny_train_loss_jittering_up_while_the_gap_opens_is_still_overfit():
    """Train 0.020 -> 0.025 (+25 %, more than UNSTABLE_TRAIN_RISE of itself) while validation
    climbs by 0.3: the gap opened; the train's rise is under a quarter of validation's."""
    ep = np.arange(1, 41)
    train = np.select([ep <= 10, ep <= 25], [0.6 - 0.058 * ep, 0.02], 0.02 + 0.005 * (ep - 25) / 15)
    val = np.select([ep <= 20, ep <= 25], [0.6 - 0.02 * ep, 0.2], 0.2 + 0.02 * (ep - 25))
    d = diagnose(make_history(train, val), BASE)
    assert d.label == "overfit", d.reason
    assert d.train_rise > dg.UNSTABLE_TRAIN_RISE * d.train_at_min_val
    assert d.train_rise < dg.UNSTABLE_TRAIN_SHARE * d.val_rise
    st = tmean(train, 4)
    assert f"while train loss moved only from {d.train_at_min_val:.4g} (the same epochs) to " \
        f"{st[-1]:.4g}" in d.reason and "fell" not in d.reason  # fmt: skip


def test_validation_rising_to_below_a_steady_train_loss_is_no_overfit():
    """Train steady at 0.30 (dropout-like), validation 0.15 -> 0.25: rose, but below train."""
    train = [0.6, 0.45, 0.35, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30, 0.30]
    val = [0.5, 0.3, 0.15, 0.16, 0.18, 0.2, 0.22, 0.24, 0.25, 0.25]
    d = diagnose(make_history(train, val), BASE)
    assert d.label == "good", d.reason
    assert d.reason.endswith(
        "validation loss rose 67% from its minimum 0.15 (epoch 3; best single epoch 3) to 0.25 "
        "by epoch 10, but it ends no higher than the train loss (gap -7% of baseline): no "
        "generalisation gap."
    )


# +experiment=overfit trainer.epochs=40 data.n_samples=300: validation on a plateau 0.37-0.42
# from epoch 24, one lucky epoch (39: 0.3541) the lowest single value
OVERFIT_40_TRAIN = [0.6377, 0.5027, 0.4465, 0.4278, 0.3767, 0.3458, 0.3248, 0.284, 0.2407, 0.2159,
    0.1822, 0.1426, 0.1336, 0.1052, 0.1134, 0.1084, 0.1145, 0.1157, 0.1137, 0.108, 0.097,
    0.0933, 0.0873, 0.0913, 0.0892, 0.0953, 0.0915, 0.0932, 0.0893, 0.0878, 0.0851, 0.0835,
    0.083, 0.0832, 0.0837, 0.0847, 0.0851, 0.0878, 0.0875, 0.0837]  # fmt: skip
OVERFIT_40_VAL = [0.6424, 0.6293, 0.495, 0.4908, 0.5197, 0.5831, 0.5678, 0.4886, 0.4514, 0.4805,
    0.5106, 0.4818, 0.4373, 0.4359, 0.4513, 0.4046, 0.446, 0.4776, 0.403, 0.4267, 0.4331,
    0.3921, 0.3962, 0.3745, 0.363, 0.4102, 0.3729, 0.3672, 0.3881, 0.3668, 0.3975, 0.3737,
    0.3851, 0.4079, 0.3915, 0.4221, 0.3668, 0.4646, 0.3541, 0.4289]  # fmt: skip


def test_a_large_gap_on_a_plateau_is_overfit_whatever_one_lucky_late_epoch_says():
    d = diagnose(make_history(OVERFIT_40_TRAIN, OVERFIT_40_VAL), BASE)
    sv = tmean(OVERFIT_40_VAL, 4)
    j = int(np.argmin(sv))
    assert d.best_val_epoch == 39 and j + 4 == 30  # raw best late, smoothed lowest at 27-30
    assert d.relative_gap > dg.OVERFIT_GAP
    assert d.label == "overfit", d.reason
    assert "stays close" not in d.reason
    assert (
        f"exceeds train loss {d.final_train_loss:.4g} by 46% of the baseline {BASE:.4g} "
        "(overfit above 25%) and stopped improving: lowest over epochs 27-30 (4-epoch mean), "
        "of 40 epochs trained: regularise, get more data or stop earlier."
    ) in d.reason


def test_early_stopping_cannot_hide_a_large_gap_that_stopped_closing():
    """The kept epoch is the best one by construction; the epochs after it show the plateau."""
    ep = np.arange(1, 61)
    train = 0.05 + (BASE - 0.05) * np.exp(-ep / 5)
    val = np.maximum(0.4, BASE - 0.02 * ep) + 0.001 * (ep - 15).clip(0)
    val[14] = 0.39  # the best epoch, which early stopping restores
    d = diagnose(make_history(train, val, restored_epoch=15), BASE)
    assert d.kept_epoch == 15 and d.last_epoch == 15 and d.best_val_epoch == 15
    assert d.relative_gap > dg.OVERFIT_GAP
    assert d.label == "overfit", d.reason
    assert "and stopped improving: lowest over epochs " in d.reason
    assert "of 60 epochs trained: regularise or get more data. Early stopping kept epoch 15 " \
        "of 60" in d.reason  # fmt: skip
    assert "stop earlier" not in d.reason and "stays close" not in d.reason


def test_a_large_gap_still_closing_is_good_but_never_called_close():
    ep = np.arange(1, 101)
    train = 0.01 + (BASE - 0.01) * np.exp(-ep / 8)
    val = 0.3 + 0.3 * np.exp(-ep / 30)  # still decreasing at the end
    d = diagnose(make_history(train, val), BASE)
    assert d.label == "good" and d.relative_gap > dg.OVERFIT_GAP
    assert "stays close" not in d.reason
    assert (
        f"validation loss {d.final_val_loss:.4g} is above it by {d.relative_gap:.0%} of "
        "baseline, a large gap (overfit above 25% once validation stops improving), but it was "
        "still improving late: lowest over epochs 91-100 (10-epoch mean), of 100 epochs trained."
    ) in d.reason


def test_a_validation_loss_far_below_the_train_loss_is_not_called_close():
    train = [0.6, 0.5, 0.4, 0.35, 0.32, 0.30, 0.30, 0.30, 0.30, 0.30]
    val = [0.5, 0.3, 0.2, 0.15, 0.12, 0.11, 0.105, 0.10, 0.10, 0.10]
    d = diagnose(make_history(train, val), BASE)
    assert d.label == "good" and d.relative_gap < -dg.OVERFIT_GAP
    assert d.reason.endswith(
        "and validation loss 0.1 is below it by 29% of baseline (best at epoch 8 of 10)."
    )


def test_good_says_close_only_within_the_gap_threshold():
    ep = np.arange(1, 101)
    train = 0.05 + (BASE - 0.05) * np.exp(-ep / 15)
    val = 0.07 + (BASE - 0.07) * np.exp(-ep / 15)
    d = diagnose(make_history(train, val), BASE)
    assert d.label == "good" and 0 < d.relative_gap <= dg.OVERFIT_GAP
    assert f"stays close (gap {d.relative_gap:.0%} of baseline, best at epoch 100 of 100)" \
        in d.reason  # fmt: skip

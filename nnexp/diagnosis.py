"""Name what a learning curve shows: underfit, good, overfit or diverged.

``diagnose(history, baseline_loss)`` reads the final (last finite) epoch record and the
validation curve of a ``History`` and compares them with ``baseline_loss``, the loss of the
trivial predictor (class prior / target mean, see ``nnexp.data.baseline.trivial_baseline``).
The baseline is the yardstick that makes the thresholds scale-free: "learnable" loss is the
distance between the baseline and zero.

Per-epoch losses are noisy (mini-batches, small validation sets), so the rules read
*smoothed* curves: the trailing mean over ``W`` epochs, ``W = min(SMOOTHING_MAX_WINDOW,
max(1, n_epochs // SMOOTHING_EPOCHS_PER_POINT))`` (1 below 20 epochs, 10 from 100 epochs on).
With ``W == 1`` every number below is the raw one. Numbers (all in ``Diagnosis`` and
``Diagnosis.as_dict()``)::

    final_train_loss   = mean train loss over the last W epochs    (raw last value if W == 1)
    final_val_loss     = mean val loss over the last W epochs
    min_val_loss       = minimum of the W-epoch trailing mean of the val loss
    train_vs_baseline  = final_train_loss / baseline_loss
    gap                = final_val_loss - final_train_loss          (generalisation gap)
    relative_gap       = gap / baseline_loss
    val_rise           = final_val_loss - min_val_loss              (>= 0)
    relative_val_rise  = val_rise / min_val_loss
    best_val_epoch     = epoch of the raw minimal val loss (= history.best_epoch, what the
                         plot marks); last_epoch = the last record's epoch

Rules, first match wins (thresholds are the module constants below):

1. **diverged** if ``history.diverged`` (or the history has no finite epoch).
2. **underfit** if ``train_vs_baseline > UNDERFIT_TRAIN_RATIO`` (0.5): the model has not
   removed even half of the loss that the trivial predictor leaves on the *training* data, so
   it lacks capacity, training time or a usable learning rate. Checked before overfitting:
   a model that cannot fit its training set has a bias problem first.
3. **overfit** if either
   a. the validation loss rose from its minimum: ``relative_val_rise > OVERFIT_VAL_RISE``
      (10 %) *and* ``val_rise / baseline_loss > OVERFIT_VAL_RISE_MIN`` (5 % of the baseline,
      so noise on an almost-zero validation loss does not count); or
   b. a large gap that stopped closing: ``relative_gap > OVERFIT_GAP`` (25 % of the baseline)
      *and* ``best_val_epoch <= OVERFIT_BEST_EPOCH_FRACTION * last_epoch`` (the best
      validation epoch lies in the first 80 % of training).
4. **good** otherwise: train loss well below the baseline, validation close to train and not
   rising.

The diagnosis uses the last recorded epochs; for an early-stopped run that is the epoch at
which it stopped, ``patience`` epochs after the best one, not the restored weights.
This module is plain Python (it does not even need NumPy).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "LABELS",
    "OVERFIT_BEST_EPOCH_FRACTION",
    "OVERFIT_GAP",
    "OVERFIT_VAL_RISE",
    "OVERFIT_VAL_RISE_MIN",
    "SMOOTHING_EPOCHS_PER_POINT",
    "SMOOTHING_MAX_WINDOW",
    "UNDERFIT_TRAIN_RATIO",
    "Diagnosis",
    "diagnose",
    "smoothing_window",
]

LABELS = ("underfit", "good", "overfit", "diverged")

#: smoothing: one trailing-mean epoch per this many epochs ...
SMOOTHING_EPOCHS_PER_POINT = 10
#: ... and at most this window.
SMOOTHING_MAX_WINDOW = 10
#: underfit if final train loss / baseline loss exceeds this.
UNDERFIT_TRAIN_RATIO = 0.5
#: overfit if the val loss rose by more than this fraction of its minimum ...
OVERFIT_VAL_RISE = 0.10
#: ... and by more than this fraction of the baseline loss (absolute significance).
OVERFIT_VAL_RISE_MIN = 0.05
#: overfit if (val - train) / baseline exceeds this ...
OVERFIT_GAP = 0.25
#: ... and the best val epoch is at or before this fraction of the last epoch.
OVERFIT_BEST_EPOCH_FRACTION = 0.8


@dataclass(frozen=True)
class Diagnosis:
    """The verdict, one sentence explaining it, and the numbers it was computed from.

    Numbers that do not exist (no finite epoch, no validation split) are None, never NaN.
    """

    label: str
    reason: str
    baseline_loss: float
    final_train_loss: float | None = None
    final_val_loss: float | None = None
    train_vs_baseline: float | None = None
    gap: float | None = None
    relative_gap: float | None = None
    min_val_loss: float | None = None
    best_val_epoch: int | None = None
    last_epoch: int | None = None
    val_rise: float | None = None
    relative_val_rise: float | None = None
    smoothing_window: int | None = None
    stop_reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Flat dict for logging (``diagnosis_*`` tags/metrics); None for missing numbers."""
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


def smoothing_window(n_epochs: int) -> int:
    """Trailing-mean window used for a history of ``n_epochs`` epochs (see module doc)."""
    return min(SMOOTHING_MAX_WINDOW, max(1, n_epochs // SMOOTHING_EPOCHS_PER_POINT))


def _trailing_means(values: list[float], w: int) -> list[float]:
    """Means of ``values[i - w + 1 : i + 1]`` for ``i >= w - 1`` (``len - w + 1`` values)."""
    if w <= 1:
        return list(values)
    return [math.fsum(values[i - w + 1 : i + 1]) / w for i in range(w - 1, len(values))]


def diagnose(history: Any, baseline_loss: float) -> Diagnosis:
    """Classify a training ``history`` against the trivial predictor's ``baseline_loss``.

    See the module docstring for the rules. Raises ValueError for a non-positive or
    non-finite baseline, or a history that neither diverged nor recorded any epoch.
    """
    baseline = float(baseline_loss)
    if not (math.isfinite(baseline) and baseline > 0):
        raise ValueError(f"baseline_loss={baseline_loss!r} is invalid; must be finite and > 0")
    epochs = list(history.epochs)
    stop_reason = getattr(history, "stop_reason", None)
    diverged = bool(getattr(history, "diverged", False))
    if not epochs and not diverged:
        raise ValueError("cannot diagnose an empty history (no epoch recorded)")

    numbers: dict[str, Any] = {"baseline_loss": baseline, "stop_reason": stop_reason}
    if epochs:
        w = smoothing_window(len(epochs))
        train = _trailing_means([float(r["train_loss"]) for r in epochs], w)[-1]
        numbers.update(
            final_train_loss=train,
            train_vs_baseline=train / baseline,
            last_epoch=int(epochs[-1]["epoch"]),
            smoothing_window=w,
        )
        if all("val_loss" in r for r in epochs):
            raw = [float(r["val_loss"]) for r in epochs]
            smooth = _trailing_means(raw, w)
            val, min_val = smooth[-1], min(smooth)
            rise = max(val - min_val, 0.0)
            numbers.update(
                final_val_loss=val,
                gap=val - train,
                relative_gap=(val - train) / baseline,
                min_val_loss=min_val,
                best_val_epoch=int(epochs[raw.index(min(raw))]["epoch"]),  # first on ties
                val_rise=rise,
                relative_val_rise=rise / min_val if min_val > 0 else (0.0 if rise == 0 else None),
            )

    def done(label: str, reason: str) -> Diagnosis:
        return Diagnosis(label=label, reason=reason, **numbers)

    # 1. diverged
    if diverged:
        what = stop_reason or "diverged"
        if epochs:
            return done(
                "diverged",
                f"Training diverged ({what}); the last finite epoch {numbers['last_epoch']} had "
                f"train loss {numbers['final_train_loss']:.4g} (baseline {baseline:.4g}): "
                "lower the learning rate or add gradient clipping.",
            )
        return done(
            "diverged",
            f"Training diverged ({what}) before any epoch finished: "
            "lower the learning rate or check the initialisation.",
        )

    train = numbers["final_train_loss"]
    ratio = numbers["train_vs_baseline"]
    last = numbers["last_epoch"]
    w = numbers["smoothing_window"]
    means = f" ({w}-epoch means)" if w > 1 else ""

    # 2. underfit
    if ratio > UNDERFIT_TRAIN_RATIO:
        return done(
            "underfit",
            f"Final train loss{means} {train:.4g} is {ratio:.0%} of the trivial baseline "
            f"{baseline:.4g} (underfit above {UNDERFIT_TRAIN_RATIO:.0%}): the model has not "
            "learned the training data; add capacity, epochs or a better learning rate.",
        )

    if numbers.get("final_val_loss") is None:
        return done(
            "good",
            f"Final train loss {train:.4g} is {ratio:.0%} of the trivial baseline "
            f"{baseline:.4g}; there is no validation split, so overfitting cannot be judged.",
        )

    val = numbers["final_val_loss"]
    min_val = numbers["min_val_loss"]
    best_epoch = numbers["best_val_epoch"]
    rise = numbers["val_rise"]
    rel_rise = numbers["relative_val_rise"]
    rel_gap = numbers["relative_gap"]

    # 3a. overfit: validation loss rose from its minimum
    if (
        rel_rise is not None
        and rel_rise > OVERFIT_VAL_RISE
        and rise / baseline > OVERFIT_VAL_RISE_MIN
    ):
        return done(
            "overfit",
            f"Validation loss{means} rose {rel_rise:.0%} from its minimum {min_val:.4g} (best "
            f"epoch {best_epoch}) to {val:.4g} by epoch {last} while train loss fell to "
            f"{train:.4g} (baseline {baseline:.4g}): regularise, get more data or stop earlier.",
        )
    # 3b. overfit: large gap that stopped closing
    if rel_gap > OVERFIT_GAP and best_epoch <= OVERFIT_BEST_EPOCH_FRACTION * last:
        return done(
            "overfit",
            f"Validation loss{means} {val:.4g} exceeds train loss {train:.4g} by {rel_gap:.0%} of the "
            f"baseline {baseline:.4g} (overfit above {OVERFIT_GAP:.0%}) and stopped improving at "
            f"epoch {best_epoch} of {last}: regularise, get more data or stop earlier.",
        )

    # 4. good
    return done(
        "good",
        f"Train loss{means} {train:.4g} is {ratio:.0%} of the trivial baseline {baseline:.4g} "
        f"and validation loss {val:.4g} stays close (gap {rel_gap:.0%} of baseline, best at epoch "
        f"{best_epoch} of {last}).",
    )

"""Name what a learning curve shows: underfit, good, overfit, unstable or diverged.

``diagnose(history, baseline_loss, loss_floor)`` reads the final epoch records and the train
and validation curves of a ``History`` and compares them with ``baseline_loss``, the loss of the
best constant prediction under the run's criterion (``nnexp.data.baseline.trivial_baseline``,
label smoothing and class weights included). The baseline is the yardstick that makes the
thresholds scale-free: "learnable" loss is the distance between the baseline and the least
loss the criterion allows, ``loss_floor`` (0, except with label smoothing: the entropy of the
smoothed targets, ``nnexp.data.loss_floor``). Every loss below is judged above that floor.

The epochs read end at the *kept* one: the last epoch, or, when early stopping restored the
weights of an earlier epoch (``history.restored_epoch``), that epoch: the model saved, served
and measured on the test split. The reason then says so, and whether the epochs after it
overfit (the curves go on to the last trained epoch).

Per-epoch losses are noisy (mini-batches, small validation sets), so the rules read
*smoothed* curves: the trailing mean over ``W`` epochs, ``W = min(SMOOTHING_MAX_WINDOW,
max(1, n_epochs // SMOOTHING_EPOCHS_PER_POINT))`` (1 below 20 epochs, 10 from 100 epochs on).
With ``W == 1`` every number below is the raw one. Numbers (all in ``Diagnosis`` and
``Diagnosis.as_dict()``)::

    final_train_loss   = mean train loss over the last W epochs    (raw last value if W == 1)
    final_val_loss     = mean val loss over the last W epochs
    min_val_loss       = minimum of the W-epoch trailing mean of the val loss
    learnable          = baseline_loss - loss_floor
    train_vs_baseline  = (final_train_loss - loss_floor) / learnable
    gap                = final_val_loss - final_train_loss          (generalisation gap)
    relative_gap       = gap / learnable
    val_rise           = final_val_loss - min_val_loss              (>= 0)
    relative_val_rise  = val_rise / (min_val_loss - loss_floor)
    best_val_epoch     = epoch of the raw minimal val loss (= history.best_epoch, what the
                         plot marks); last_epoch = the last epoch read (the kept one)
    kept_epoch         = the epoch early stopping restored, when earlier than the last one
    train_at_min_val   = the smoothed train loss over the epochs of min_val_loss
    train_rise         = highest smoothed train loss from those epochs on - train_at_min_val
                         (>= 0)

Rules, first match wins (thresholds are the module constants below):

1. **diverged** if ``history.diverged`` (or the history has no finite epoch).
2. **underfit** if ``train_vs_baseline > UNDERFIT_TRAIN_RATIO`` (0.5): the model has not
   removed even half of the loss that the trivial predictor leaves on the *training* data, so
   it lacks capacity, training time or a usable learning rate. Checked before overfitting:
   a model that cannot fit its training set has a bias problem first.
3. When the validation loss rose from its minimum, ``relative_val_rise > OVERFIT_VAL_RISE``
   (10 %) *and* ``val_rise / learnable > OVERFIT_VAL_RISE_MIN`` (5 % of the baseline, so noise
   on an almost-zero validation loss does not count), the *train* curve over the same epochs
   decides what the rise means. ``train_at_min_val`` is the smoothed train loss over the
   epochs of the validation minimum, ``train_rise`` how far the smoothed train loss climbed
   above it afterwards (to its highest point, which may lie before the last epoch):

   a. **unstable** if the train loss rose too: ``train_rise > UNSTABLE_TRAIN_RISE`` (10 %) of
      ``train_at_min_val - floor`` *and* ``train_rise > UNSTABLE_TRAIN_SHARE`` (a quarter) of
      ``val_rise``. Overfitting means the model keeps fitting the training data better while
      it generalises worse: train falls or stays, validation rises, the gap opens. When the
      train loss climbs with the validation loss, the optimiser is not descending (too large
      a step, exploding updates): the cure is a lower learning rate or gradient clipping, and
      "regularise" would be wrong advice. The share condition keeps a tiny train loss's
      jitter (0.020 -> 0.023 while validation climbs by 0.2, a gap opening) an overfit.
      Why a verdict of its own rather than "overfit" with another text: the label is a plain
      string everywhere it is shown (console, the ``diagnosis`` tag, ``runs``, sweep tables),
      so a fifth value needs no change there, and a sweep filtering ``diagnosis=overfit``
      should not get runs whose learning rate is the problem.
   b. **overfit** if the train loss did not rise so (it fell, or stayed within those bounds)
      and the validation loss ends above the train loss (``gap > 0``): the gap opened.
   c. otherwise the validation loss rose but ends at or below the train loss: no
      generalisation gap, so no overfit; the rules below go on (and the good text says so).
      (A positive gap that did not widen cannot get here: the train loss would have risen by
      more than the validation loss, which 3a calls unstable.)
4. **overfit** if a large gap stopped closing: ``relative_gap > OVERFIT_GAP`` (25 % of the
   baseline) *and* the smoothed validation curve was lowest at or before
   ``OVERFIT_BEST_EPOCH_FRACTION`` (80 %) of the epochs trained. The smoothed curve, not the
   best single epoch, because one lucky noisy epoch near the end must not hide a plateau; and
   all *trained* epochs, because with early stopping the kept epoch is the best one by
   construction, yet the epochs after it show whether the validation loss stopped improving.
   The minimum of the smoothed curve is named by the epochs it averages (``mean of epochs
   35-44``): it is not the best single epoch.
5. **good** otherwise: train loss well below the baseline, and validation not rising above
   the train loss. The text says "stays close" only for a gap within ``OVERFIT_GAP`` either
   way; a larger gap on a curve still improving late is said to be large, a validation loss
   far below the train loss is said to be below it.

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
    "UNSTABLE_TRAIN_RISE",
    "UNSTABLE_TRAIN_SHARE",
    "Diagnosis",
    "diagnose",
    "smoothing_window",
]

LABELS = ("underfit", "good", "overfit", "unstable", "diverged")

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
#: ... and the smoothed val curve was lowest at or before this fraction of the epochs trained.
OVERFIT_BEST_EPOCH_FRACTION = 0.8
#: a rising val loss is unstable training, not overfitting, when the train loss rose above its
#: value at the val minimum by more than this fraction of it ...
UNSTABLE_TRAIN_RISE = 0.10
#: ... and by more than this fraction of the val loss's rise.
UNSTABLE_TRAIN_SHARE = 0.25


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
    loss_floor: float = 0.0
    kept_epoch: int | None = None
    train_at_min_val: float | None = None
    train_rise: float | None = None

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


def _percent(fraction: float) -> str:
    """``0.27 -> "27%"``; a value that rounds to zero is ``0%``, never ``-0%``."""
    text = f"{fraction:.0%}"
    return "0%" if text == "-0%" else text


def _epochs_span(first: int, last: int) -> str:
    return f"epoch {last}" if first == last else f"mean of epochs {first}-{last}"


def diagnose(history: Any, baseline_loss: float, loss_floor: float = 0.0) -> Diagnosis:
    """Classify a training ``history`` against the trivial predictor's ``baseline_loss``, with
    losses measured above ``loss_floor`` (the criterion's least value, see the module doc).

    See the module docstring for the rules. Raises ValueError for a non-positive or
    non-finite baseline, a floor outside ``[0, baseline)``, or a history that neither diverged
    nor recorded any epoch.
    """
    baseline = float(baseline_loss)
    if not (math.isfinite(baseline) and baseline > 0):
        raise ValueError(f"baseline_loss={baseline_loss!r} is invalid; must be finite and > 0")
    floor = float(loss_floor)
    if not (math.isfinite(floor) and 0 <= floor < baseline):
        raise ValueError(f"loss_floor={loss_floor!r} is invalid; must be in [0, {baseline:.4g})")
    learnable = baseline - floor
    trained = list(history.epochs)
    stop_reason = getattr(history, "stop_reason", None)
    diverged = bool(getattr(history, "diverged", False))
    if not trained and not diverged:
        raise ValueError("cannot diagnose an empty history (no epoch recorded)")
    restored = getattr(history, "restored_epoch", None)
    kept = (
        int(restored)
        if restored is not None and not diverged and trained and restored < trained[-1]["epoch"]
        else None
    )
    epochs = [r for r in trained if r["epoch"] <= kept] if kept is not None else trained

    numbers: dict[str, Any] = {
        "baseline_loss": baseline,
        "stop_reason": stop_reason,
        "loss_floor": floor,
        "kept_epoch": kept,
    }
    min_val_span = peak_span = ""
    train_peak_is_last = True
    if epochs:
        w = min(smoothing_window(len(trained)), len(epochs))
        smooth_train = _trailing_means([float(r["train_loss"]) for r in epochs], w)
        train = smooth_train[-1]
        numbers.update(
            final_train_loss=train,
            train_vs_baseline=(train - floor) / learnable,
            last_epoch=int(epochs[-1]["epoch"]),
            smoothing_window=w,
        )
        if all("val_loss" in r for r in epochs):
            raw = [float(r["val_loss"]) for r in epochs]
            smooth = _trailing_means(raw, w)
            val, min_val = smooth[-1], min(smooth)
            at = smooth.index(min_val)  # the window epochs[at : at + w]
            min_val_span = _epochs_span(int(epochs[at]["epoch"]), int(epochs[at + w - 1]["epoch"]))
            rise = max(val - min_val, 0.0)
            above = min_val - floor
            later = smooth_train[at:]  # the train curve from the val minimum's epochs on
            peak = at + later.index(max(later))
            peak_span = _epochs_span(int(epochs[peak]["epoch"]), int(epochs[peak + w - 1]["epoch"]))
            train_peak_is_last = peak == len(smooth_train) - 1
            numbers.update(
                final_val_loss=val,
                gap=val - train,
                relative_gap=(val - train) / learnable,
                min_val_loss=min_val,
                best_val_epoch=int(epochs[raw.index(min(raw))]["epoch"]),  # first on ties
                val_rise=rise,
                relative_val_rise=rise / above if above > 0 else (0.0 if rise == 0 else None),
                train_at_min_val=smooth_train[at],
                train_rise=max(later) - smooth_train[at],
            )

    def done(label: str, reason: str) -> Diagnosis:
        if kept is not None:
            reason += " " + _after_kept(history, kept, baseline, floor)
        return Diagnosis(label=label, reason=reason, **numbers)

    # 1. diverged
    if diverged:
        what = (stop_reason or "").removeprefix("diverged: ")
        what = f" ({what})" if what and what != "diverged" else ""
        if epochs:
            return done(
                "diverged",
                f"Training diverged{what}; the last finite epoch {numbers['last_epoch']} had "
                f"train loss {numbers['final_train_loss']:.4g} (baseline {baseline:.4g}): "
                "lower the learning rate or add gradient clipping.",
            )
        return done(
            "diverged",
            f"Training diverged{what} before any epoch finished: "
            "lower the learning rate or check the initialisation.",
        )

    train = numbers["final_train_loss"]
    ratio = numbers["train_vs_baseline"]
    last = numbers["last_epoch"]
    w = numbers["smoothing_window"]
    means = f" ({w}-epoch means)" if w > 1 else ""
    of_baseline = f"{_percent(ratio)} of the trivial baseline {baseline:.4g}" + (
        f" (both above the floor {floor:.4g}, the least loss label smoothing allows)"
        if floor
        else ""
    )
    baseline_unit = "baseline" if not floor else "baseline above the floor"

    # 2. underfit
    if ratio > UNDERFIT_TRAIN_RATIO:
        return done(
            "underfit",
            f"Final train loss{means} {train:.4g} is {of_baseline} "
            f"(underfit above {UNDERFIT_TRAIN_RATIO:.0%}): the model has not "
            "learned the training data; add capacity, epochs or a better learning rate.",
        )

    if numbers.get("final_val_loss") is None:
        return done(
            "good",
            f"Final train loss {train:.4g} is {of_baseline}; "
            "there is no validation split, so overfitting cannot be judged.",
        )

    val = numbers["final_val_loss"]
    min_val = numbers["min_val_loss"]
    best_epoch = numbers["best_val_epoch"]
    rise = numbers["val_rise"]
    rel_rise = numbers["relative_val_rise"]
    rel_gap = numbers["relative_gap"]

    train_at_min = numbers["train_at_min_val"]
    train_rise = numbers["train_rise"]
    advice = (
        "regularise or get more data" if kept is not None
        else "regularise, get more data or stop earlier"
    )  # fmt: skip

    # 3. validation loss rose from its minimum: the train curve says why
    val_rose = (
        rel_rise is not None
        and rel_rise > OVERFIT_VAL_RISE
        and rise / learnable > OVERFIT_VAL_RISE_MIN
    )
    rose_text = (
        f"Validation loss{means} rose {_percent(rel_rise or 0.0)} from its minimum {min_val:.4g} "
        f"({min_val_span}; best single epoch {best_epoch}) to {val:.4g} by epoch {last}"
    )
    # 3a. unstable: the train loss rose with it
    if (
        val_rose
        and train_rise > UNSTABLE_TRAIN_RISE * (train_at_min - floor)
        and train_rise > UNSTABLE_TRAIN_SHARE * rise
    ):
        peak = train_at_min + train_rise
        climb = (
            f"to {train:.4g} by epoch {last}"
            if train_peak_is_last
            else f"to {peak:.4g} ({peak_span}), ending at {train:.4g} by epoch {last}"
        )
        return done(
            "unstable",
            f"{rose_text}, and train loss rose too, from {train_at_min:.4g} ({min_val_span}) "
            f"{climb} (baseline {baseline:.4g}): train and validation loss rising together is "
            "unstable training, not overfitting; lower the learning rate or clip gradients.",
        )
    # 3b. overfit: train fell or stayed while validation rose above it
    if val_rose and rel_gap > 0:
        went = "fell" if train < train_at_min else "moved only"
        return done(
            "overfit",
            f"{rose_text} while train loss {went} from {train_at_min:.4g} (the same "
            f"{'epochs' if w > 1 else 'epoch'}) to {train:.4g} (a gap "
            f"of {_percent(rel_gap)} of the {baseline_unit} {baseline:.4g}): {advice}.",
        )
    # 4. overfit: large gap that stopped closing (over all trained epochs, see the module doc)
    low_epoch, low_span = _lowest_smoothed_val(trained, smoothing_window(len(trained)))
    trained_last = int(trained[-1]["epoch"])
    if rel_gap > OVERFIT_GAP and low_epoch <= OVERFIT_BEST_EPOCH_FRACTION * trained_last:
        return done(
            "overfit",
            f"Validation loss{means} {val:.4g} exceeds train loss {train:.4g} by "
            f"{_percent(rel_gap)} of the {baseline_unit} {baseline:.4g} (overfit above "
            f"{OVERFIT_GAP:.0%}) and stopped improving: lowest {low_span}, of {trained_last} "
            f"epochs trained: {advice}.",
        )

    # 5. good
    head = f"Train loss{means} {train:.4g} is {of_baseline}"
    if val_rose:  # 3c: it rose, but ends at or below the train loss
        return done(
            "good",
            f"{head}; {rose_text[0].lower()}{rose_text[1:]}, but it ends no higher than the "
            f"train loss (gap {_percent(rel_gap)} of {baseline_unit}): no generalisation gap.",
        )
    if rel_gap > OVERFIT_GAP:
        return done(
            "good",
            f"{head}; validation loss {val:.4g} is above it by {_percent(rel_gap)} of "
            f"{baseline_unit}, a large gap (overfit above {OVERFIT_GAP:.0%} once validation "
            f"stops improving), but it was still improving late: lowest {low_span}, of "
            f"{trained_last} epochs trained.",
        )
    if rel_gap < -OVERFIT_GAP:  # validation far below train (dropout, noisy train labels)
        return done(
            "good",
            f"{head} and validation loss {val:.4g} is below it by {_percent(-rel_gap)} of "
            f"{baseline_unit} (best at epoch {best_epoch} of {last}).",
        )
    return done(
        "good",
        f"{head} and validation loss {val:.4g} stays close (gap {_percent(rel_gap)} of "
        f"{baseline_unit}, best at epoch {best_epoch} of {last}).",
    )


def _lowest_smoothed_val(records: list[dict], w: int) -> tuple[int, str]:
    """The last epoch of the window where the ``w``-epoch trailing mean of the val loss is
    lowest (first on ties), and that window said (``over epochs 27-30 (4-epoch mean)``,
    ``at epoch 30``)."""
    w = min(w, len(records))
    smooth = _trailing_means([float(r["val_loss"]) for r in records], w)
    at = smooth.index(min(smooth))
    first, end = int(records[at]["epoch"]), int(records[at + w - 1]["epoch"])
    return end, f"at epoch {end}" if w == 1 else f"over epochs {first}-{end} ({w}-epoch mean)"


def _after_kept(history: Any, kept: int, baseline: float, floor: float) -> str:
    """The sentence on the epochs early stopping trained after the one it kept: whether the
    curves over all trained epochs overfit or were unstable (the same rules, on the whole
    history) or the later epochs merely did not improve."""
    trained = list(history.epochs)
    last = int(trained[-1]["epoch"])
    said = f"Early stopping kept epoch {kept} of {last} (the saved model, measured above)"
    whole = diagnose(_WholeCurve(trained, getattr(history, "stop_reason", None)), baseline, floor)
    if whole.label == "unstable":  # its reason is true of the whole curve: say it
        return (
            f"{said}; over all {last} epochs trained: {whole.reason[0].lower()}{whole.reason[1:]}"
        )
    if whole.label != "overfit":
        return f"{said}; the {last - kept} epochs after it did not improve on it."
    w = whole.smoothing_window
    means = f" ({w}-epoch means)" if w > 1 else ""
    return (
        f"{said}; the curves over all {last} epochs overfit: by epoch {last} validation "
        f"loss{means} was {whole.final_val_loss:.4g}, {_percent(whole.relative_val_rise or 0.0)} "
        f"above its minimum, and train loss {whole.final_train_loss:.4g}, a gap of "
        f"{_percent(whole.relative_gap)} of the baseline{' above the floor' if floor else ''}: "
        "regularise or get more data to improve on the kept model."
    )


@dataclass
class _WholeCurve:
    """A history read to its last trained epoch, whatever early stopping restored."""

    epochs: list[dict]
    stop_reason: str | None
    diverged: bool = False
    restored_epoch: int | None = None

"""The fit loop: mini-batch training with history, early stopping, divergence and callbacks.

    history = fit(model, optimizer, splits, epochs=100, batch_size=32, seed=0)

What one epoch does, in order:

1. ``optimizer.lr = schedule(epoch)`` (0-based epoch) if a schedule is given.
2. Shuffle the training split with the shuffle stream (one gather per epoch, then the batches
   are contiguous slices; the last batch may be smaller), and for each batch
   ``loss = model.loss_and_grads(Xb, yb, rng=dropout_rng); optimizer.step(model.grads)``.
   Nothing else happens per batch except one comparison that catches NaN/inf/exploding losses.
3. Evaluate, in eval mode (no dropout) with the weights at the end of the epoch, the loss and
   metrics on the *whole* train split and on the validation split. The train numbers are
   therefore **not** the running average of batch losses seen during the epoch (which mixes
   weights from different steps and includes dropout): train and validation are measured the
   same way and are directly comparable, which is what the under/overfitting diagnosis needs.
4. Append the record ``{"epoch" (1-based), "train_loss", "val_loss", "train_accuracy",
   "val_accuracy" | "train_rmse", "val_rmse", "train_r2", "val_r2", "lr", "epoch_time"}``
   (``epoch_time``: wall seconds of steps 2-3), plus whatever ``optimizer.epoch_metrics()``
   returns when the optimiser has it (``grad_norm`` from :class:`nnexp.nn.GradientStep` with
   clipping on), update early stopping, then call each callback's ``on_epoch_end(record)``
   (a copy of it).

Randomness: ``SeedSequence(seed).spawn(2)`` gives two independent streams, one for the
shuffling order and one handed to the model for dropout; the same model, data, optimiser and
seed give a bit-identical history (except ``epoch_time``).

Divergence: a non-finite batch loss or epoch train loss, a train loss above
``divergence_bound`` or a non-finite validation number stops training with
``history.diverged = True`` and a reason such as ``"diverged: loss=nan at epoch 3"`` or
``"diverged: loss=3.2e+07 > 1e+06 at epoch 5"``. The diverged epoch is *not* recorded, so
every record in the history is finite and ``history.final`` is the last finite epoch. The
model's weights are put back to those of the last finite epoch (the initial weights if the
first epoch diverged) — or the best epoch's if early stopping with ``restore_best`` is on —
so the model stays usable; the optimiser's internal state is not rolled back. NumPy floating
point warnings are silenced inside the loop (``np.errstate``); fit never crashes on overflow.

BatchNorm's running statistics (``model.buffers``) are saved and restored with the weights.

Early stopping (off by default) monitors one record key; with ``restore_best=True`` the best
epoch's weights are copied back into the model's arrays (in place) when training ends, whether
it ended early or ran all epochs. Test metrics (``history.test``) are computed once at the end
with the final weights, i.e. the restored ones if they were restored.

Layer statistics: with ``probe`` (an ``nnexp.nn.inspect.LayerProbe``), the epochs it tracks
(the logged ones) also measure each batch's gradients before its step and end with the probe's
``layerk/...`` values added to the record before the callbacks see it; without it nothing of
this runs.

Callbacks are any objects with optional ``on_train_begin(history)``, ``on_epoch_end(record)``
and ``on_train_end(history)``. An exception raised by a callback (e.g. ``optuna.TrialPruned``)
propagates out of ``fit``; before it does, the history is made consistent (every completed
epoch recorded, ``stop_reason = "interrupted: <Exception> at epoch N"``, ``test = None``) and
attached to the exception as ``exc.history``; ``on_train_begin`` is the other way to hold a
reference to the live history.

The loop never prints and imports only NumPy and nnexp.
"""

from __future__ import annotations

import contextlib
import csv
import math
import operator
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nnexp.metrics import TASKS, evaluate, metric_names

__all__ = ["EarlyStopping", "History", "fit"]


# --------------------------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------------------------


@dataclass
class History:
    """What ``fit`` returns: one record per finite epoch plus how and why training ended.

    Attributes:
        epochs: list of per-epoch record dicts (all values finite), in epoch order.
        stop_reason: ``"completed"``, ``"early_stopping: ..."``, ``"diverged: ..."`` or
            ``"interrupted: ..."`` (a callback raised).
        diverged: True if training was stopped by divergence.
        test: ``{"test_loss", "test_accuracy" | "test_rmse", "test_r2"}`` computed once with
            the final weights, or None (no test split, no finite epoch, or interrupted).
        task: ``"classification"`` or ``"regression"``.
        restored_epoch: epoch whose weights early stopping put back into the model, or None.
        train_time: wall seconds of the whole fit.
    """

    epochs: list[dict] = field(default_factory=list)
    stop_reason: str = "not started"
    diverged: bool = False
    test: dict | None = None
    task: str | None = None
    restored_epoch: int | None = None
    train_time: float = 0.0

    def __len__(self) -> int:
        return len(self.epochs)

    @property
    def final(self) -> dict | None:
        """The last recorded (hence finite) epoch record, or None if there is none."""
        return self.epochs[-1] if self.epochs else None

    @property
    def kept(self) -> dict | None:
        """The record of the epoch whose weights the model holds after ``fit`` (saved, served,
        measured on the test split): the one early stopping restored, else ``final``."""
        if self.restored_epoch is not None:
            for record in self.epochs:
                if record["epoch"] == self.restored_epoch:
                    return record
        return self.final

    @property
    def best_epoch(self) -> int | None:
        """1-based epoch of minimal ``val_loss`` (first one on ties), or None without val."""
        best = self.best
        return None if best is None else int(best["epoch"])

    @property
    def best(self) -> dict | None:
        """The record with minimal ``val_loss`` (first on ties), or None."""
        recs = [r for r in self.epochs if "val_loss" in r]
        if not recs:
            return None
        return min(recs, key=lambda r: r["val_loss"])

    def as_columns(self) -> dict[str, np.ndarray]:
        """``{key: array over epochs}`` for plotting and CSV (missing values are NaN)."""
        keys: list[str] = []
        for rec in self.epochs:
            keys.extend(k for k in rec if k not in keys)
        cols = {}
        for k in keys:
            if k == "epoch":
                cols[k] = np.array([int(r["epoch"]) for r in self.epochs], dtype=np.int64)
            else:
                cols[k] = np.array([r.get(k, math.nan) for r in self.epochs], dtype=np.float64)
        return cols

    def to_csv(self, path: str | Path) -> Path:
        """Write one row per epoch (header = record keys), floats at full precision."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        cols = self.as_columns()
        keys = list(cols)
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(keys)
            for i in range(len(self.epochs)):
                writer.writerow([_fmt(cols[k][i]) for k in keys])
        return path


def _fmt(v: Any) -> str:
    if isinstance(v, np.integer):
        return str(int(v))
    v = float(v)
    return "" if math.isnan(v) else repr(v)


# --------------------------------------------------------------------------------------------
# Early stopping
# --------------------------------------------------------------------------------------------

_MIN_WORDS = ("loss", "rmse", "mse", "mae", "error")
_MAX_WORDS = ("accuracy", "acc", "r2")


class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    ``mode`` is ``"min"`` or ``"max"``; ``None``/``"auto"`` infers it from the name (loss,
    rmse, error -> min; accuracy, r2 -> max). With ``restore_best`` the weights of the best
    epoch are copied back into the model when training ends. ``fit`` resets the state, so one
    instance can be reused across fits.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str | None = None,
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best: bool = True,
    ):
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must be a record key such as 'val_loss', got {monitor!r}")
        if mode in (None, "auto"):
            name = monitor.lower()
            if any(w in name for w in _MIN_WORDS):
                mode = "min"
            elif any(w in name for w in _MAX_WORDS):
                mode = "max"
            else:
                raise ValueError(
                    f"cannot infer mode for monitor={monitor!r}; pass mode='min' or mode='max'"
                )
        if mode not in ("min", "max"):
            raise ValueError(f"mode={mode!r} is invalid; valid: 'min', 'max', 'auto', None")
        if isinstance(patience, bool) or not isinstance(patience, int | np.integer):
            raise ValueError(f"patience={patience!r} must be an integer >= 1")
        if patience < 1:
            raise ValueError(f"patience={patience} is invalid; must be >= 1")
        if not (math.isfinite(min_delta) and min_delta >= 0):
            raise ValueError(f"min_delta={min_delta} is invalid; must be finite and >= 0")
        self.monitor = monitor
        self.mode = mode
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.restore_best = bool(restore_best)
        self.reset()

    def reset(self) -> None:
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.wait = 0

    def update(self, value: float, epoch: int) -> bool:
        """Feed one epoch's value; return True if it is a new best."""
        if self.best_value is None:
            improved = True
        elif self.mode == "min":
            improved = value < self.best_value - self.min_delta
        else:
            improved = value > self.best_value + self.min_delta
        if improved:
            self.best_value, self.best_epoch, self.wait = float(value), int(epoch), 0
        else:
            self.wait += 1
        return improved

    @property
    def should_stop(self) -> bool:
        return self.wait >= self.patience

    def reason(self) -> str:
        return (
            f"early_stopping: {self.monitor} did not improve for {self.patience} epochs "
            f"(best {self.best_value:.4g} at epoch {self.best_epoch})"
        )

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, mode={self.mode!r}, "
            f"patience={self.patience}, min_delta={self.min_delta}, "
            f"restore_best={self.restore_best})"
        )


# --------------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------------


class _Diverged(Exception):
    pass


def _int_arg(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name}={value!r} must be an integer")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name}={value!r} must be an integer") from None


def _infer_task(model: Any, splits: Any, task: str | None) -> str:
    if task is not None:
        if task not in TASKS:
            raise ValueError(f"task={task!r} is invalid; valid: {', '.join(TASKS)}")
        return task
    t = getattr(splits, "task", None)
    if t in TASKS:
        return t
    out = getattr(model, "output", None)
    out = getattr(out, "name", out)
    if isinstance(out, str):
        return "regression" if out.lower() in ("identity", "linear", "none") else "classification"
    y = np.asarray(splits.train.y)
    return "classification" if np.issubdtype(y.dtype, np.integer) else "regression"


def _prepare(split: Any, dtype: np.dtype | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Cast a split's arrays to the model's float dtype once, so batches need no conversion."""
    if split is None:
        return None
    X, y = np.asarray(split.X), np.asarray(split.y)
    if dtype is not None:
        X = np.ascontiguousarray(X, dtype=dtype)
        if np.issubdtype(y.dtype, np.floating):
            y = np.ascontiguousarray(y, dtype=dtype)
    if len(X) != len(y):
        raise ValueError(f"split has {len(X)} inputs but {len(y)} targets")
    return X, y


def _check_splits_fit(model: Any, task: str, *splits: tuple | None) -> None:
    """Once, before the first step: every split's inputs are finite and its targets fit the
    model's head (``MLP.check_fit``; models without it are not checked). Per batch, the
    engine checks shapes only (see ``nnexp.nn.target_fit``)."""
    check_fit = getattr(model, "check_fit", None)
    if check_fit is None:
        return
    for name, split in zip(("train", "val", "test"), splits, strict=True):
        if split is not None:
            check_fit(*split, task=task, what=f"the {name} split's")


def _copy_into(dst: Sequence[np.ndarray], src: Sequence[np.ndarray]) -> None:
    for d, s in zip(dst, src, strict=True):
        np.copyto(d, s)


def fit(
    model: Any,
    optimizer: Any,
    splits: Any,
    *,
    epochs: int,
    batch_size: int | None = None,
    seed: int = 0,
    schedule: Callable[[int], float] | None = None,
    early_stopping: EarlyStopping | None = None,
    callbacks: Iterable[Any] = (),
    divergence_bound: float = 1e6,
    shuffle: bool = True,
    task: str | None = None,
    probe: Any = None,
) -> History:
    """Train ``model`` with ``optimizer`` on ``splits.train``; see the module docstring.

    Args:
        model: an ``nnexp.nn.MLP`` (``params``, ``grads``, ``loss_and_grads``, ``loss``,
            ``forward``, ``predict``).
        optimizer: from ``nnexp.nn.make_optimizer`` over ``model.params`` (``step``, ``lr``).
        splits: ``nnexp.data.make_splits`` result (``train``, ``val``, ``test`` may be None).
        epochs: number of passes over the training split (>= 1).
        batch_size: mini-batch size in [1, n_train]; None or 0 = full batch.
        seed: seeds the shuffling and dropout streams (an int >= 0).
        schedule: callable ``epoch (0-based) -> lr`` applied at the start of every epoch.
        early_stopping: an ``EarlyStopping`` or None (off).
        callbacks: objects with optional ``on_train_begin``, ``on_epoch_end``, ``on_train_end``.
        divergence_bound: a train loss above this counts as divergence.
        shuffle: reshuffle the training split every epoch.
        task: ``"classification"``/``"regression"``; inferred from ``splits.task``, the
            model's output head or the label dtype when None.
        probe: an ``nnexp.nn.inspect.LayerProbe`` or None: per-layer statistics added to the
            records of the epochs it tracks (None: nothing extra runs).

    Before the first step, every split's inputs must be finite and its targets fit the
    model's head (``model.check_fit``, :mod:`nnexp.nn.target_fit`), or a ValueError names the
    split, the mismatch and what would fit; the batches are not checked again.
    """
    epochs = _int_arg("epochs", epochs)
    if epochs < 1:
        raise ValueError(f"epochs={epochs} is invalid; must be >= 1")
    if not (isinstance(divergence_bound, int | float) and divergence_bound > 0):
        raise ValueError(f"divergence_bound={divergence_bound!r} is invalid; must be > 0")
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping must be an EarlyStopping or None, got {early_stopping!r}")

    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed={seed!r} is invalid; must be an int >= 0")

    task = _infer_task(model, splits, task)
    params = list(model.params)
    dtype = params[0].dtype if params and np.issubdtype(params[0].dtype, np.floating) else None
    train = _prepare(splits.train, dtype)
    val_split = getattr(splits, "val", None)
    # no held-out data (e.g. XOR): the val split *is* the train split; evaluate it once
    val_is_train = val_split is not None and (
        val_split is splits.train or bool(getattr(splits, "val_is_train", False))
    )
    val = _prepare(val_split, dtype)
    test = _prepare(getattr(splits, "test", None), dtype)
    _check_splits_fit(model, task, train, val, test)
    X_tr, y_tr = train
    n_train = len(X_tr)
    if n_train == 0:
        raise ValueError("the training split is empty")

    if batch_size is None or (not isinstance(batch_size, bool) and batch_size == 0):
        bs = n_train
    else:
        bs = _int_arg("batch_size", batch_size)
        if not 1 <= bs <= n_train:
            raise ValueError(
                f"batch_size={bs} is invalid; must be in [1, {n_train}] (n_train={n_train}), "
                "or None/0 for full batch"
            )

    names = metric_names(task)
    keys = ["epoch"]
    for m in names:
        keys.append("train_" + m)
        if val is not None:
            keys.append("val_" + m)
    keys += ["lr", "epoch_time"]
    if early_stopping is not None:
        if early_stopping.monitor not in keys[1:-2]:
            raise ValueError(
                f"early_stopping monitor={early_stopping.monitor!r} is not recorded; "
                f"valid: {', '.join(keys[1:-2])}"
            )
        early_stopping.reset()

    callbacks = list(callbacks)
    begin_cbs = [cb.on_train_begin for cb in callbacks if hasattr(cb, "on_train_begin")]
    epoch_cbs = [cb.on_epoch_end for cb in callbacks if hasattr(cb, "on_epoch_end")]
    end_cbs = [cb.on_train_end for cb in callbacks if hasattr(cb, "on_train_end")]

    shuffle_ss, dropout_ss = np.random.SeedSequence(seed).spawn(2)
    shuffle_rng = np.random.default_rng(shuffle_ss)
    dropout_rng = np.random.default_rng(dropout_ss)

    history = History(task=task)
    # weights (and BatchNorm running statistics) at the end of the last finite epoch
    state = [*params, *getattr(model, "buffers", ())]
    last_good = [p.copy() for p in state]
    best_w = [p.copy() for p in state] if early_stopping and early_stopping.restore_best else None
    bound = float(divergence_bound)
    batch_starts = range(0, n_train, bs)
    loss_and_grads = model.loss_and_grads
    step = optimizer.step
    epoch_metrics = getattr(optimizer, "epoch_metrics", None)

    if probe is not None:
        probe.begin(
            X_tr if val is None else val[0], epochs, batch_starts[-1], early_stopping is not None
        )
    for cb in begin_cbs:
        cb(history)

    t_start = time.perf_counter()
    epoch = 0
    try:
        with np.errstate(all="ignore"):
            for epoch in range(1, epochs + 1):
                if schedule is not None:
                    lr = float(schedule(epoch - 1))
                    if not (math.isfinite(lr) and lr >= 0):
                        raise ValueError(f"schedule({epoch - 1}) returned lr={lr}; must be >= 0")
                    optimizer.lr = lr
                t0 = time.perf_counter()

                # ---- hot path: one gather per epoch, then forward/backward/step per batch
                if shuffle and bs < n_train:
                    order = shuffle_rng.permutation(n_train)
                    Xs, ys = X_tr[order], y_tr[order]
                else:
                    Xs, ys = X_tr, y_tr
                probing = probe is not None and probe.track(epoch)
                for s in batch_starts:
                    loss = loss_and_grads(Xs[s : s + bs], ys[s : s + bs], rng=dropout_rng)
                    if not loss <= bound:  # catches nan, inf and explosions in one comparison
                        raise _Diverged(_divergence_reason("loss", loss, bound, epoch))
                    if probing:
                        probe.batch(s)
                    step(model.grads)

                # ---- end of epoch: eval-mode metrics on the whole train split and val
                tr = evaluate(model, X_tr, y_tr, task, "train_")
                if not tr["train_loss"] <= bound:
                    raise _Diverged(_divergence_reason("loss", tr["train_loss"], bound, epoch))
                if val is None:
                    va = {}
                elif val_is_train:
                    va = {"val_" + k[6:]: v for k, v in tr.items()}
                else:
                    va = evaluate(model, *val, task, "val_")
                record: dict[str, Any] = {"epoch": epoch}
                for m in names:
                    record["train_" + m] = tr["train_" + m]
                    if val is not None:
                        record["val_" + m] = va["val_" + m]
                if epoch_metrics is not None:  # e.g. grad_norm from nnexp.nn.GradientStep
                    record.update(epoch_metrics())
                for k, v in record.items():
                    if not math.isfinite(v):
                        raise _Diverged(_divergence_reason(k, v, None, epoch))
                record["lr"] = float(optimizer.lr)
                record["epoch_time"] = time.perf_counter() - t0

                history.epochs.append(record)
                _copy_into(last_good, state)
                if early_stopping is not None:
                    improved = early_stopping.update(record[early_stopping.monitor], epoch)
                    if improved and best_w is not None:
                        _copy_into(best_w, state)
                if probing:
                    stopping = early_stopping is not None and early_stopping.should_stop
                    record.update(probe.epoch_stats(epoch, final=stopping))
                for cb in epoch_cbs:
                    cb(dict(record))
                if early_stopping is not None and early_stopping.should_stop:
                    history.stop_reason = early_stopping.reason()
                    break
            else:
                history.stop_reason = "completed"
    except _Diverged as div:
        history.diverged = True
        history.stop_reason = str(div)
        _copy_into(state, last_good)
    except BaseException as exc:
        history.stop_reason = f"interrupted: {type(exc).__name__} at epoch {epoch}"
        history.train_time = time.perf_counter() - t_start
        with contextlib.suppress(Exception):  # exceptions without a __dict__
            exc.history = history  # type: ignore[attr-defined]
        raise

    if (
        early_stopping is not None
        and best_w is not None
        and early_stopping.best_epoch is not None
        and history.epochs
    ):
        if early_stopping.best_epoch != history.epochs[-1]["epoch"] or history.diverged:
            _copy_into(state, best_w)
        history.restored_epoch = early_stopping.best_epoch

    if test is not None and history.epochs:
        with np.errstate(all="ignore"):
            te = evaluate(model, *test, task, "test_")
        history.test = te if all(math.isfinite(v) for v in te.values()) else None
    history.train_time = time.perf_counter() - t_start

    for cb in end_cbs:
        cb(history)
    return history


def _divergence_reason(key: str, value: float, bound: float | None, epoch: int) -> str:
    value = float(value)
    if math.isfinite(value) and bound is not None:
        return f"diverged: {key}={value:.3g} > {bound:g} at epoch {epoch}"
    return f"diverged: {key}={value:.3g} at epoch {epoch}"

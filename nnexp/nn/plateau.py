"""Reduce the learning rate when a metric stops improving: torch's ``ReduceLROnPlateau``.

Unlike the closed-form schedules (:mod:`nnexp.nn.schedules`), the rate depends on the run's own
metrics, so it is a fit callback: after every epoch ``on_epoch_end(record)`` reads
``record[monitor]`` (any per-epoch metric: ``val_loss``, ``train_accuracy``, ``grad_norm``...)
and, as torch's ``scheduler.step(metric)``:

* the value is *better* than the best so far when (mode ``min``) ``v < best * (1 - threshold)``
  (``threshold_mode="rel"``) or ``v < best - threshold`` (``"abs"``); mode ``max`` mirrors it;
* a better value resets the count of bad epochs, any other adds one; during the ``cooldown``
  epochs after a reduction bad epochs are not counted;
* when the count exceeds ``patience`` the rate becomes ``max(lr * factor, min_lr)`` (applied
  only if it moves by more than ``eps``), the count resets and the cooldown starts.

The epoch's record keeps the rate the epoch was trained with; a reduction takes effect from
the next epoch (as torch's, called after validation).
"""

from __future__ import annotations

import math
from typing import Any

from . import _validate as V


class ReduceLROnPlateau:
    """torch.optim.lr_scheduler.ReduceLROnPlateau on an nnexp optimiser (anything with a
    settable ``lr``). Defaults are torch's."""

    name = "reduce_on_plateau"

    def __init__(
        self,
        optimizer: Any,
        monitor: str = "val_loss",
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"monitor must be a metric name such as 'val_loss', got {monitor!r}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.factor = V.number("factor", factor, low=0.0, high=1.0, low_open=True, high_open=True)
        self.patience = V.integer("patience", patience, low=0)
        self.threshold = V.number("threshold", threshold, low=0.0)
        self.cooldown = V.integer("cooldown", cooldown, low=0)
        self.min_lr = V.number("min_lr", min_lr, low=0.0)
        self.eps = V.number("eps", eps, low=0.0)
        self.optimizer = optimizer
        self.monitor = monitor
        self.mode = mode
        self.threshold_mode = threshold_mode
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def is_better(self, value: float) -> bool:
        best, th = self.best, self.threshold
        if self.mode == "min":
            return value < (best * (1.0 - th) if self.threshold_mode == "rel" else best - th)
        return value > (best * (1.0 + th) if self.threshold_mode == "rel" else best + th)

    def step(self, value: float) -> None:
        """One epoch's metric value: update the counters and maybe reduce ``optimizer.lr``."""
        value = float(value)
        if self.is_better(value):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old = float(self.optimizer.lr)
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.optimizer.lr = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

    def on_epoch_end(self, record: dict) -> None:
        if self.monitor not in record:
            raise ValueError(
                f"reduce_on_plateau monitor {self.monitor!r} is not a recorded metric; "
                f"recorded: {', '.join(k for k in record if k != 'epoch')}"
            )
        self.step(record[self.monitor])

    def __repr__(self) -> str:
        return (
            f"ReduceLROnPlateau(monitor={self.monitor!r}, mode={self.mode!r}, "
            f"factor={self.factor}, patience={self.patience}, threshold={self.threshold}, "
            f"threshold_mode={self.threshold_mode!r}, cooldown={self.cooldown}, "
            f"min_lr={self.min_lr})"
        )

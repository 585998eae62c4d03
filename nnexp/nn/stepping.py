"""What happens between backward and the optimiser's update, in torch's order.

A training step in torch with these options reads::

    loss = criterion(net(x), y) + l1 * sum(p.abs().sum() for p in params)
    loss.backward()
    norm = clip_grad_norm_(params, max_norm)      # optional; returns the pre-clip norm
    clip_grad_value_(params, clip_value)          # optional
    optimizer.step(); scheduler.step()            # a per-step schedule

:class:`GradientStep` wraps an nnexp optimiser and does the same to the model's gradients
(in place) before delegating: ``g += l1 * sign(p)`` (the L1 penalty's gradient, torch's
``sign(0) = 0``), clip by global norm, clip by value, set ``lr`` from the per-step schedule,
then ``optimizer.step``. It looks like an optimiser to :func:`nnexp.train.fit` (``step``,
``lr``, ``params``) and adds ``epoch_metrics()``: ``{"grad_norm": mean pre-clip global norm
over the epoch's steps}`` when clipping is on, which fit puts into the epoch's record.

The L1 penalty changes the gradient only: the logged loss is the data loss (as for
``weight_decay``). Both apply to every parameter array, biases and normalisation scales
included, as in torch with all parameters in one group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _validate as V
from .clipping import clip_grad_norm_, clip_grad_value_, global_norm
from .optimizers import flat_base


class GradientStep:
    """``optimizer`` plus L1 gradient, clipping and a per-step learning-rate schedule.

    ``l1`` >= 0; ``clip_grad_norm`` / ``clip_grad_value`` > 0 or None (off);
    ``step_schedule``: callable ``step (0-based) -> lr`` or None (the rate is then whatever
    ``lr`` is set to, e.g. by fit's per-epoch schedule)."""

    def __init__(
        self,
        optimizer: Any,
        *,
        l1: float = 0.0,
        clip_grad_norm: float | None = None,
        clip_grad_value: float | None = None,
        step_schedule: Callable[[int], float] | None = None,
    ) -> None:
        self.optimizer = optimizer
        self.l1 = V.number("l1", l1, low=0.0)
        self.clip_grad_norm = (
            None
            if clip_grad_norm is None
            else V.number("clip_grad_norm", clip_grad_norm, low=0.0, low_open=True)
        )
        self.clip_grad_value = (
            None
            if clip_grad_value is None
            else V.number("clip_grad_value", clip_grad_value, low=0.0, low_open=True)
        )
        self.step_schedule = step_schedule
        self.steps = 0
        params = optimizer.params
        base = flat_base(params)
        self._params = [base] if base is not None else list(params)
        self._tmp = [np.empty_like(p) for p in self._params] if self.l1 else []
        self._norms: list[float] = []
        if step_schedule is not None:
            optimizer.lr = step_schedule(0)

    # -- the optimiser's interface -----------------------------------------------------------
    @property
    def params(self) -> list[np.ndarray]:
        return self.optimizer.params

    @property
    def lr(self) -> float:
        return self.optimizer.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.optimizer.lr = value

    def step(self, grads: Sequence[np.ndarray]) -> None:
        if self.l1:
            base = flat_base(grads)
            if base is not None and len(self._params) == 1:
                pairs = zip(self._params, [base], self._tmp, strict=True)
            else:  # not one flat buffer each: array by array
                pairs = ((p, g, np.empty_like(p)) for p, g in zip(self.params, grads, strict=True))
            for p, g, tmp in pairs:
                np.sign(p, out=tmp)
                tmp *= self.l1
                g += tmp
        if self.clip_grad_norm is not None:
            self._norms.append(clip_grad_norm_(grads, self.clip_grad_norm))
        elif self.clip_grad_value is not None:
            self._norms.append(global_norm(grads))
        if self.clip_grad_value is not None:
            clip_grad_value_(grads, self.clip_grad_value)
        if self.step_schedule is not None:
            self.optimizer.lr = self.step_schedule(self.steps)
        self.steps += 1
        self.optimizer.step(grads)

    def epoch_metrics(self) -> dict[str, float]:
        """Metrics of the steps since the last call: the mean pre-clip global gradient norm
        (``grad_norm``) when clipping is on, else nothing."""
        if not self._norms:
            return {}
        mean = sum(self._norms) / len(self._norms)
        self._norms.clear()
        return {"grad_norm": mean}

    def __repr__(self) -> str:
        return (
            f"GradientStep({self.optimizer!r}, l1={self.l1}, clip_grad_norm={self.clip_grad_norm}"
            f", clip_grad_value={self.clip_grad_value}, step_schedule={self.step_schedule!r})"
        )

"""Learning-rate schedules: ``sched = make_schedule(name, base_lr, **kw)``, ``sched(epoch) -> lr``.

``epoch`` is 0-based. Closed forms (no hidden state, so any epoch can be queried in any order):

* ``constant``: ``base_lr``
* ``step``: ``base_lr * gamma ** (t // step_size)`` (torch ``StepLR``)
* ``exponential``: ``base_lr * gamma ** t`` (torch ``ExponentialLR``)
* ``cosine``: ``min_lr + (base_lr - min_lr) * (1 + cos(pi * t / T)) / 2`` for ``t <= T`` and
  ``min_lr`` after (torch ``CosineAnnealingLR`` closed form with ``T_max = T``,
  ``eta_min = min_lr``, but clamped instead of rising again after ``T``).

Optional linear warm-up over ``warmup_epochs`` W: epoch ``e < W`` gets
``base_lr * (e + 1) / (W + 1)`` (never 0, rising linearly towards ``base_lr``); afterwards the
schedule runs on the shifted epoch ``t = e - W``. For cosine, ``total_epochs`` counts the whole
run including warm-up, so the decay spans ``T = total_epochs - W`` epochs and reaches
``min_lr`` at epoch ``total_epochs``.
"""

from __future__ import annotations

import inspect
import math

from . import _validate as V


class Schedule:
    """Base class: warm-up handling; subclasses implement ``_lr(t)`` for ``t >= 0``."""

    name = ""

    def __init__(self, base_lr: float, warmup_epochs: int = 0) -> None:
        self.base_lr = V.number("base_lr", base_lr, low=0.0, low_open=True)
        self.warmup_epochs = V.integer("warmup_epochs", warmup_epochs, low=0)

    def __call__(self, epoch: int) -> float:
        epoch = V.integer("epoch", epoch, low=0)
        w = self.warmup_epochs
        if epoch < w:
            return self.base_lr * (epoch + 1) / (w + 1)
        return self._lr(epoch - w)

    def _lr(self, t: int) -> float:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    name = "constant"

    def _lr(self, t):
        return self.base_lr


class Step(Schedule):
    """Multiply by ``gamma`` every ``step_size`` epochs."""

    name = "step"

    def __init__(
        self, base_lr: float, step_size: int = 30, gamma: float = 0.1, warmup_epochs: int = 0
    ) -> None:
        super().__init__(base_lr, warmup_epochs)
        self.step_size = V.integer("step_size", step_size, low=1)
        self.gamma = V.number("gamma", gamma, low=0.0, high=1.0, low_open=True)

    def _lr(self, t):
        return self.base_lr * self.gamma ** (t // self.step_size)


class Exponential(Schedule):
    """Multiply by ``gamma`` every epoch."""

    name = "exponential"

    def __init__(self, base_lr: float, gamma: float = 0.95, warmup_epochs: int = 0) -> None:
        super().__init__(base_lr, warmup_epochs)
        self.gamma = V.number("gamma", gamma, low=0.0, high=1.0, low_open=True)

    def _lr(self, t):
        return self.base_lr * self.gamma**t


class Cosine(Schedule):
    """Half-cosine decay from ``base_lr`` to ``min_lr`` over ``total_epochs - warmup_epochs``."""

    name = "cosine"

    def __init__(
        self, base_lr: float, total_epochs: int = 100, min_lr: float = 0.0, warmup_epochs: int = 0
    ) -> None:
        super().__init__(base_lr, warmup_epochs)
        self.total_epochs = V.integer("total_epochs", total_epochs, low=1)
        self.min_lr = V.number("min_lr", min_lr, low=0.0, high=self.base_lr)
        if self.warmup_epochs >= self.total_epochs:
            raise ValueError(
                f"warmup_epochs must be < total_epochs={self.total_epochs}, got {warmup_epochs!r}"
            )

    def _lr(self, t):
        T = self.total_epochs - self.warmup_epochs
        if t >= T:
            return self.min_lr
        return self.min_lr + (self.base_lr - self.min_lr) * (1.0 + math.cos(math.pi * t / T)) / 2.0


SCHEDULES: dict[str, type[Schedule]] = {
    "constant": Constant,
    "step": Step,
    "exponential": Exponential,
    "cosine": Cosine,
}


def make_schedule(name: str, base_lr: float, **kwargs) -> Schedule:
    """Build ``SCHEDULES[name](base_lr, **kwargs)``; a callable ``epoch -> lr``."""
    cls = V.lookup(SCHEDULES, name, "schedule")
    valid = tuple(
        p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "base_lr")
    )
    V.no_extra_kwargs(f"schedule {name!r}", kwargs, valid)
    return cls(base_lr, **kwargs)

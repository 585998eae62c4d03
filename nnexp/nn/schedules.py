"""Learning-rate schedules: ``sched = make_schedule(name, base_lr, **kw)``, ``sched(t) -> lr``.

``t`` is a 0-based counter: the epoch, or the optimiser step when the schedule is stepped every
batch (``optimizer.schedule.interval=step``; then ``step_size``, ``total_epochs`` and
``warmup_epochs`` count steps, as torch's schedulers count ``scheduler.step()`` calls). Closed
forms (no hidden state, so any ``t`` can be queried in any order):

* ``constant``: ``base_lr``
* ``step``: ``base_lr * gamma ** (t // step_size)`` (torch ``StepLR``)
* ``exponential``: ``base_lr * gamma ** t`` (torch ``ExponentialLR``)
* ``cosine``: ``min_lr + (base_lr - min_lr) * (1 + cos(pi * t / T)) / 2`` for ``t <= T`` and
  ``min_lr`` after (torch ``CosineAnnealingLR`` closed form with ``T_max = T``,
  ``eta_min = min_lr``, but clamped instead of rising again after ``T``).

* ``one_cycle``: torch ``OneCycleLR`` (``max_lr = base_lr``, ``total_steps``, ``pct_start``,
  ``div_factor``, ``final_div_factor``, ``anneal_strategy``, ``three_phase``): from
  ``base_lr / div_factor`` up to ``base_lr`` over the first ``pct_start`` of the steps, then
  down to ``base_lr / div_factor / final_div_factor``. Only the learning rate is cycled
  (torch's ``cycle_momentum=False``); it has its own warm-up, so ``warmup_epochs`` must be 0.

Optional linear warm-up over ``warmup_epochs`` W: ``e < W`` gets ``base_lr * (e + 1) / W``,
so the rate rises linearly from ``base_lr / W`` and reaches ``base_lr`` at the warm-up's last
epoch (torch ``LinearLR(start_factor=1/W, total_iters=W-1)``); afterwards the schedule runs on
the shifted counter ``t = e - W`` (torch ``SequentialLR(milestones=[W])``). For cosine,
``total_epochs`` counts the whole run including warm-up, so the decay spans
``T = total_epochs - W`` and reaches ``min_lr`` at ``total_epochs``.
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
            return self.base_lr * (epoch + 1) / w
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


class OneCycle(Schedule):
    """torch ``OneCycleLR`` learning rates (``max_lr = base_lr``) over ``total_steps`` steps.

    Phases (two, or three with ``three_phase``) end at steps ``pct_start * total - 1``
    [``2 pct_start * total - 2``] and ``total - 1``; within a phase the rate is annealed
    (cosine ``end + (start - end) (1 + cos(pi pct)) / 2`` or linear) from its start to its end
    rate, with ``pct`` the fraction of the phase done. Past ``total_steps`` torch raises; this
    keeps the final rate.
    """

    name = "one_cycle"

    def __init__(
        self,
        base_lr: float,
        total_steps: int = 100,
        pct_start: float = 0.3,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        anneal_strategy: str = "cos",
        three_phase: bool = False,
        warmup_epochs: int = 0,
    ) -> None:
        super().__init__(base_lr, warmup_epochs)
        if self.warmup_epochs:
            raise ValueError("one_cycle has its own warm-up (pct_start): warmup_epochs must be 0")
        self.total_steps = V.integer("total_steps", total_steps, low=1)
        self.pct_start = V.number("pct_start", pct_start, low=0.0, high=1.0)
        self.div_factor = V.number("div_factor", div_factor, low=0.0, low_open=True)
        self.final_div_factor = V.number(
            "final_div_factor", final_div_factor, low=0.0, low_open=True
        )
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        self.three_phase = bool(three_phase)
        initial = self.base_lr / self.div_factor
        final = initial / self.final_div_factor
        ends = one_cycle_phase_ends(self.total_steps, self.pct_start, self.three_phase)
        empty = empty_one_cycle_phase(ends)
        if empty is not None:
            low, high = one_cycle_pct_range(self.total_steps, self.three_phase)
            raise ValueError(
                f"one_cycle phase {empty + 1} of {len(ends)} has no step: pct_start="
                f"{self.pct_start!r} with total_steps={self.total_steps}; pct_start must be in "
                f"({low:.6g}, {high:.6g})"
            )
        if self.three_phase:
            rates = [(initial, self.base_lr), (self.base_lr, initial), (initial, final)]
        else:
            rates = [(initial, self.base_lr), (self.base_lr, final)]
        self._phases = [(end, start, stop) for end, (start, stop) in zip(ends, rates, strict=True)]

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _lr(self, t):
        step = min(t, self.total_steps - 1)
        start_step = 0.0
        lr = self.base_lr
        for i, (end_step, start_lr, end_lr) in enumerate(self._phases):
            if step <= end_step or i == len(self._phases) - 1:
                pct = (step - start_step) / (end_step - start_step)
                lr = self._anneal(start_lr, end_lr, pct)
                break
            start_step = end_step
        return lr


def one_cycle_phase_ends(total_steps: int, pct_start: float, three_phase: bool) -> list[float]:
    """The last step of each phase, as torch's ``OneCycleLR`` computes them:
    ``[pct_start * T - 1, T - 1]``, or ``[pct_start * T - 1, 2 pct_start * T - 2, T - 1]``."""
    total = float(total_steps)
    first = float(pct_start * total) - 1
    if three_phase:
        return [first, float(2 * pct_start * total) - 2, total - 1]
    return [first, total - 1]


def empty_one_cycle_phase(ends: list[float]) -> int | None:
    """The index of the first phase that ends at or before its start (phase 0 starts at step
    0): it has no step, and torch divides by its zero length or skips it; None if none."""
    start = 0.0
    for index, end in enumerate(ends):
        if not end > start:
            return index
        start = end
    return None


def one_cycle_pct_range(total_steps: int, three_phase: bool) -> tuple[float, float]:
    """The open interval of ``pct_start`` that gives every phase at least part of a step:
    ``pct_start * T > 1`` and, with ``three_phase``, ``2 pct_start * T - 2 < T - 1``."""
    total = float(total_steps)
    high = (total + 1) / (2 * total) if three_phase else 1.0
    return 1.0 / total, high


SCHEDULES: dict[str, type[Schedule]] = {
    "constant": Constant,
    "step": Step,
    "exponential": Exponential,
    "cosine": Cosine,
    "one_cycle": OneCycle,
}


def make_schedule(name: str, base_lr: float, **kwargs) -> Schedule:
    """Build ``SCHEDULES[name](base_lr, **kwargs)``; a callable ``epoch -> lr``."""
    cls = V.lookup(SCHEDULES, name, "schedule")
    valid = tuple(
        p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "base_lr")
    )
    V.no_extra_kwargs(f"schedule {name!r}", kwargs, valid)
    return cls(base_lr, **kwargs)

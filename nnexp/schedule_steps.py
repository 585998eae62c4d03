"""one_cycle's phases need steps: refused once the training split's size is known, before any run.

torch's ``OneCycleLR`` ends its warm-up phase at step ``pct_start * T - 1`` (``T`` the
scheduler's steps: epochs, or epochs x batches per epoch with ``interval=step``). When that is
step 0 or earlier the phase has no step: torch (and the engine, :mod:`nnexp.nn.schedules`)
divided by its zero length (``ZeroDivisionError`` mid-run, a FAILED run) or skipped it; with
``three_phase`` the last phase, which starts at ``2 pct_start * T - 2``, can likewise get none.
``T`` depends on the training split and the batch size, so the check runs with the other
data-dependent checks (:func:`nnexp.preflight.check_run_inputs`, also run on a sweep's base
config and the ends of its space).
"""

from __future__ import annotations

from typing import Any

from nnexp.errors import ConfigError

#: torch's OneCycleLR default
DEFAULT_PCT_START = 0.3


def scheduler_steps(cfg: Any, n_train: int) -> tuple[int, str]:
    """``(T, how)``: the number of times the schedule steps over the run, and a phrase saying
    how that number comes about, e.g. ``20 epochs x 4 batches (batch_size=32, 120 samples)``."""
    from nnexp.build import schedule_interval

    epochs = int(cfg.trainer.epochs)
    if schedule_interval(cfg.optimizer.schedule) != "step":
        return epochs, f"{_count(epochs, 'epoch')}, interval=epoch"
    batch_size = cfg.trainer.batch_size
    per_epoch = -(-n_train // batch_size) if batch_size else 1
    batches = (
        f"batch_size={batch_size} of {n_train} training samples" if batch_size else "full batch"
    )
    how = f"{_count(epochs, 'epoch')} x {_count(per_epoch, 'step')} ({batches}), interval=step"
    return epochs * per_epoch, how


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def check_one_cycle_steps(cfg: Any, n_train: int) -> None:
    """Refuse a one_cycle ``pct_start`` that leaves one of its phases without a step."""
    from nnexp.nn.schedules import empty_one_cycle_phase, one_cycle_pct_range, one_cycle_phase_ends

    sched = cfg.optimizer.schedule
    if sched.name != "one_cycle":
        return
    total, how = scheduler_steps(cfg, n_train)
    pct = DEFAULT_PCT_START if sched.pct_start is None else float(sched.pct_start)
    three_phase = bool(sched.three_phase)
    ends = one_cycle_phase_ends(total, pct, three_phase)
    empty = empty_one_cycle_phase(ends)
    if empty is None:
        return
    shown = f"{pct!r}" + (" (the default)" if sched.pct_start is None else "")
    low, high = one_cycle_pct_range(total, three_phase)
    if empty == len(ends) - 1:
        where = (
            f"its last phase starts at step 2 * pct_start * {total} - 2 = {ends[-2]:g}, not "
            f"before the last step {total - 1}, so it has no step"
        )
    else:
        where = (
            f"its warm-up ends at step pct_start * {total} - 1 = {ends[0]:g}, so it has no step "
            + (
                "(torch's OneCycleLR divides by its zero length)"
                if ends[0] == 0
                else "(torch's OneCycleLR would skip it)"
            )
        )
    if low < high:
        valid = f"use pct_start in ({low:.6g}, {high:.6g}) or more steps"
    else:
        valid = "one_cycle needs at least 2 steps: use more epochs or interval=step"
    raise ConfigError(
        f"optimizer.schedule.pct_start={shown} is invalid: one_cycle steps "
        f"{_count(total, 'time')} "
        f"({how}); {where}; {valid}"
    )

"""Re-run a config and compare what it would log with what a run logged, bit for bit.

A run logs each epoch record's numeric values at ``step=epoch`` and its final/best/test metrics
at step 0, skipping non-finite values (:class:`nnexp.tracking.recorder.RunRecorder`). The
replay collects exactly that, from the same records the recorder saw (a training callback), and
:func:`compare_metrics` walks epoch by epoch so the first difference is where the runs part.
MLflow stores metrics as float64, so ``float(recorded) == float(reproduced)`` is bit equality
for every finite value. Time-like metrics are skipped.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nnexp.epoch_thinning import EpochThinner

TIME_METRICS = ("epoch_time", "train_time")
FINAL_STEP = 0

#: metric -> step -> value, as a run would log it.
Expected = dict[str, dict[int, float]]
#: metric -> [(step, value), ...], as MLflow returned it (repeated steps possible).
Recorded = Mapping[str, Sequence[tuple[int, float]]]


class ReplayStop(Exception):
    """Ends a replay at the last epoch an unfinished (pruned, killed) run recorded."""


class _Capture:
    """Training callback: keep every epoch record the way the recorder would log it."""

    def __init__(self, stop_after: int | None, log_every: int = 1):
        self.stop_after = stop_after
        self.epochs: Expected = {}
        self.thinner = EpochThinner(log_every)

    def on_epoch_end(self, record: Mapping[str, Any]) -> None:
        epoch = int(record["epoch"])
        values = {k: float(v) for k, v in record.items() if k != "epoch" and _loggable(v)}
        kept = self.thinner.take(epoch, values)
        if kept is not None:
            self.keep(epoch, kept)
        if self.stop_after is not None and epoch >= self.stop_after:
            raise ReplayStop(f"replayed the {epoch} recorded epochs")

    def keep(self, epoch: int, values: Mapping[str, float]) -> None:
        for key, value in values.items():
            self.epochs.setdefault(key, {})[epoch] = value

    def finish(self) -> None:
        """The run ended: keep its last epoch if thinning held it back (as the recorder does)."""
        held = self.thinner.last()
        if held is not None:
            self.keep(*held)


@dataclass
class Replay:
    """What the re-run would have logged; ``run_id`` is set when it was recorded."""

    expected: Expected
    seconds: float
    run_id: str | None = None


def replay(
    cfg: Any,
    *,
    stop_after: int | None = None,
    record_tags: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
) -> Replay:
    """Train ``cfg`` again: tracking off, or recorded as a new run when ``record_tags`` is given.

    ``stop_after`` stops after that epoch (and then no final metrics exist, as for the original).
    """
    from nnexp.run import run_experiment

    capture = _Capture(stop_after, cfg.tracking.get("log_every", 1))
    cfg.tracking.enabled = record_tags is not None
    started = time.perf_counter()
    result = None
    with contextlib.suppress(ReplayStop):  # an unfinished run: no result, epochs captured
        result = run_experiment(
            cfg,
            overrides=overrides,
            extra_tags=record_tags,
            callbacks=[capture],
            progress=False,
        )
    capture.finish()
    expected = dict(capture.epochs)
    if result is not None:
        for key, value in result.final_metrics.items():
            if _loggable(value):
                expected.setdefault(key, {})[FINAL_STEP] = float(value)
    seconds = time.perf_counter() - started
    return Replay(expected, seconds, result.run_id if result is not None else None)


@dataclass
class Difference:
    metric: str
    step: int
    recorded: float | None
    reproduced: float | None

    def describe(self) -> str:
        where = (
            f"final metric {self.metric}"
            if self.step == FINAL_STEP
            else (f"{self.metric} at epoch {self.step}")
        )
        if self.recorded is None:
            return f"{where}: not recorded, reproduced {self.reproduced!r}"
        if self.reproduced is None:
            return f"{where}: recorded {self.recorded!r}, not reproduced"
        return f"{where}: recorded {self.recorded!r}, reproduced {self.reproduced!r}"


@dataclass
class Comparison:
    epoch_metrics: list[str] = field(default_factory=list)
    n_epochs: int = 0
    final_metrics: list[str] = field(default_factory=list)
    first: Difference | None = None

    @property
    def identical(self) -> bool:
        return self.first is None

    def summary(self) -> str:
        text = (
            f"{len(self.epoch_metrics)} per-epoch metrics x {self.n_epochs} epochs and "
            f"{len(self.final_metrics)} final metrics"
        )
        return f"{text} (skipped {', '.join(TIME_METRICS)})"


def compare_metrics(recorded: Recorded, expected: Expected) -> Comparison:
    """Walk epochs 1, 2, ... then the final metrics; stop at the first value that differs."""
    recorded = {k: v for k, v in recorded.items() if k not in TIME_METRICS}
    expected = {k: v for k, v in expected.items() if k not in TIME_METRICS}
    keys = list(expected) + sorted(set(recorded) - set(expected))
    steps_by_key = {
        key: {step for step, _ in recorded.get(key, ())} | set(expected.get(key, {}))
        for key in keys
    }
    epochs = sorted({step for steps in steps_by_key.values() for step in steps} - {FINAL_STEP})
    comparison = Comparison(
        epoch_metrics=[k for k in keys if steps_by_key[k] - {FINAL_STEP}],
        n_epochs=len(epochs),
        final_metrics=[k for k in keys if FINAL_STEP in steps_by_key[k]],
    )
    for step in [*epochs, FINAL_STEP]:
        for key in keys:
            if step not in steps_by_key[key]:
                continue
            stored = [value for s, value in recorded.get(key, ()) if s == step]
            mine = expected.get(key, {}).get(step)
            difference = _differs(key, step, stored, mine)
            if difference is not None:
                comparison.first = difference
                return comparison
    return comparison


def _differs(key: str, step: int, stored: list[float], mine: float | None) -> Difference | None:
    if not stored:
        return Difference(key, step, None, mine)
    for value in stored:  # a point logged twice at one step must agree both times
        if mine is None or float(value) != float(mine):
            return Difference(key, step, float(value), mine)
    return None


def _loggable(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )

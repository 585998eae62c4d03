"""Which epochs' metrics a run logs to MLflow: the first, every ``every``-th, and the last.

Why thin at all: MLflow's SQL store costs about 75 us per metric point (ORM rows), so a
200-epoch sweep trial with five curves is 1,000 points and about 80 ms, most of a trial's
tracking budget. Single runs log every epoch (``tracking.log_every=1``); sweeps log every 5th by
default (``sweep.log_every``). The first and last epochs are always logged, so a curve spans the
whole run however it ended (completed, early-stopped, pruned, diverged); ``history.csv`` keeps
every epoch, and the final/best metrics are computed from the full history.

The recorder and ``nnexp reproduce``'s replay both use :class:`EpochThinner`, so they agree on
the steps and a replay compares point for point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class EpochThinner:
    """Pass epochs 1, ``every``, ``2 * every``, ...; hold the others back until the next one.

    ``take`` returns the values to log now (or None); ``last`` returns the final held-back epoch
    once the run has ended, so it is logged too.
    """

    def __init__(self, every: int = 1) -> None:
        self.every = max(1, int(every))
        self._held: tuple[int, Mapping[str, Any]] | None = None

    def take(self, epoch: int, values: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if self.every == 1 or epoch == 1 or epoch % self.every == 0:
            self._held = None
            return values
        self._held = (epoch, values)
        return None

    def last(self) -> tuple[int, Mapping[str, Any]] | None:
        """``(epoch, values)`` of the last epoch seen if ``take`` held it back, once."""
        held, self._held = self._held, None
        return held

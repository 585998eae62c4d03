"""Optuna sweeps, and the only place in nnexp that imports Optuna (lazily, inside functions).

``python -m nnexp +sweep=lr`` composes ``conf/sweep/lr.yaml`` into the root config's ``sweep``
key (typed by :class:`nnexp.sweep.config.SweepConfig`) and the command line calls
:func:`run_sweep`. A trial is a list of Hydra overrides run through ``nnexp.run.run_experiment``
exactly like a single run; see :mod:`nnexp.sweep.driver` for the order of events.

Modules: ``config`` (schema), ``space`` (sampling, override text), ``overrides`` (trial
overrides, seeds, fast composition), ``validate``, ``samplers``, ``storage`` (journal, lock,
counting), ``objective`` (one trial), ``orphans``, ``parent`` (MLflow), ``report``, ``plots``,
``workers``, ``driver``.
"""

from __future__ import annotations

from typing import Any

from nnexp.sweep.config import SweepConfig

__all__ = ["SweepConfig", "run_sweep"]


def run_sweep(cfg: Any, overrides: list[str]) -> dict[str, Any]:
    """Run, resume or join the study described by ``cfg.sweep``; see :mod:`nnexp.sweep.driver`."""
    from nnexp.sweep.driver import run_sweep as _run_sweep

    return _run_sweep(cfg, overrides)

"""The typed schema of a sweep config (``conf/sweep/*.yaml``, selected with ``+sweep=NAME``).

Hydra merges the chosen file into the root config's ``sweep`` key, typed by :class:`SweepConfig`,
so a misspelled key (``sweep.n_trails=5``, ``log: ture``) fails while the config is composed.
Ranges and names are checked by :mod:`nnexp.sweep.validate` before any trial runs.

Search-space entries are keyed by a short *name* (an identifier, so that ``sweep.space.lr.high=0.3``
works on the command line) and point at a dotted config ``key`` (``optimizer.lr``) or at a config
*group* (``optimizer``, whose choices are files in ``conf/optimizer/``). The name is also the
Optuna parameter name, shown in plots, the trials table and the child runs' ``trial.param.*`` tags.

Every field is overridable on the command line (``sweep.space.lr.high=0.3``,
``sweep.pruner.name=hyperband``) and entries can be dropped (``~sweep.space.lr``); a *new* entry
goes in a sweep file, because OmegaConf cannot add a typed ``ParamSpec`` from an override.
Pruner/sampler ``args`` that only another pruner/sampler takes are ignored with a warning, so
switching ``sweep.pruner.name`` works on a file written for another pruner.

This module imports only the standard library, so the root schema can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SAMPLERS = ("tpe", "random", "grid", "cmaes", "gp", "qmc")
PRUNERS = ("none", "median", "percentile", "hyperband", "successive_halving")
PARAM_TYPES = ("float", "int", "categorical")
DIRECTIONS = ("minimize", "maximize")
LOG_MODEL = ("best", "all", "none")


@dataclass
class ParamSpec:
    """One dimension of the search space.

    ``type``: float | int | categorical (default: categorical when ``choices`` is set, else
    float). ``key``: the dotted config key or config group it sets (default: the entry's name).
    float/int take ``low`` < ``high``, optional ``log`` (low > 0) or ``step``; categorical takes
    ``choices`` (scalars, or lists such as ``[64, 64]`` for ``model.hidden_sizes``).
    ``format`` turns the sampled value into the override's value, e.g. ``"[{value}]"`` makes a
    sampled width 32 into ``model.hidden_sizes=[32]``.
    """

    key: str | None = None
    type: str | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None
    format: str | None = None


@dataclass
class SamplerConfig:
    """An Optuna sampler by name; ``args`` go to its constructor (e.g. ``n_startup_trials``)."""

    name: str = "tpe"
    seed: int | None = 0
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class PrunerConfig:
    """An Optuna pruner by name (``none`` never prunes); ``args`` go to its constructor."""

    name: str = "none"
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class ConfirmConfig:
    """Re-run the search's best configurations over fresh seeds (:mod:`nnexp.sweep.confirm`).

    ``top_k``: how many distinct configurations (0 = no confirm phase); ``seeds``: runs of each
    (init and shuffling; the data split stays the sweep's), at least 2 for an interval;
    ``baseline``: also run the base config (``base_overrides``, nothing swept) on the same seeds,
    for the paired comparison against it.
    """

    top_k: int = 0
    seeds: int = 5
    baseline: bool = True


@dataclass
class SweepConfig:
    """An Optuna study over nnexp runs.

    ``metric``/``direction`` name the value each trial returns, one of the run's final metrics
    (``best_val_loss``, ``final_val_accuracy``, ``test_loss``...); for several objectives set
    ``metrics`` and ``directions`` instead. ``n_trials`` is the study's *total* (a resumed study
    stops there); ``timeout`` (seconds) bounds one launch. ``storage`` is any Optuna storage URL;
    by default a journal file ``optuna/<study>.journal`` next to the MLflow SQLite database
    (``mlruns/optuna/``). ``base_overrides`` are Hydra overrides every trial starts from (the
    user's command-line overrides come after them, the sampled values last). ``vary_seed``:
    each trial gets its own seed (derived from the base seed and the trial number); false gives
    every trial the base seed (same data split and initialisation: a controlled comparison, as
    the capacity U-curve needs). ``report_every``:
    epochs between two ``trial.report`` calls (each is a synced journal write, about 3 ms).
    ``log_model``: which trials get the full pyfunc model (best | all | none); ``log_plots``:
    learning-curve PNG per trial; ``log_every``: epochs between two logged metric points of a
    trial (the first and last epoch always; 1 = every epoch, as a single run logs): each point
    costs MLflow about 75 us, and every epoch of a 200-epoch trial would be most of its
    tracking time (:mod:`nnexp.epoch_thinning`). ``heartbeat_interval``/``grace_period`` (seconds; RDB
    storages such as PostgreSQL only): each running trial records a heartbeat every interval;
    one silent for longer than the grace period (default: twice the interval) lost its worker,
    and the other workers fail it and run it again once. ``launcher``: where the ``workers``
    run: ``local`` (processes on this machine) or ``slurm`` (jobs on a Slurm cluster, with the
    ``launcher`` group's options; see :mod:`nnexp.launch.slurm_sweep`).
    """

    name: str = "sweep"
    study_name: str | None = None
    description: str = ""
    metric: str = "best_val_loss"
    direction: str = "minimize"
    metrics: list[str] = field(default_factory=list)
    directions: list[str] = field(default_factory=list)
    n_trials: int | None = 20
    timeout: float | None = None
    workers: int = 1
    launcher: str = "local"
    storage: str | None = None
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    pruner: PrunerConfig = field(default_factory=PrunerConfig)
    space: dict[str, ParamSpec] = field(default_factory=dict)
    base_overrides: list[str] = field(default_factory=list)
    report_every: int = 5
    vary_seed: bool = True
    log_model: str = "best"
    log_plots: bool = False
    log_every: int = 5
    top_k: int = 5
    heartbeat_interval: int = 60
    grace_period: int | None = None
    confirm: ConfirmConfig = field(default_factory=ConfirmConfig)

    @property
    def objective_metrics(self) -> list[str]:
        return list(self.metrics) if self.metrics else [self.metric]

    @property
    def objective_directions(self) -> list[str]:
        return list(self.directions) if self.metrics else [self.direction]

    @property
    def study(self) -> str:
        return self.study_name or self.name


def to_sweep_config(node: Any) -> SweepConfig:
    """The :class:`SweepConfig` object for ``cfg.sweep`` (a DictConfig, dict or the object)."""
    if isinstance(node, SweepConfig):
        return node
    from omegaconf import OmegaConf

    merged = OmegaConf.merge(OmegaConf.structured(SweepConfig), node)
    return OmegaConf.to_object(merged)  # type: ignore[return-value]

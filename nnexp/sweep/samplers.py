"""Optuna samplers and pruners by name, with one-line errors for bad names and arguments.

Seeds: a sampler's random stream restarts whenever a process builds it, so a resumed study or a
second worker seeded like the first would re-draw the first trials' values. Each launch on a
study therefore gets an index (0 for the first, counted in the study's user attributes) and the
sampler is seeded with ``seed + LAUNCH_SEED_STRIDE * index``: a fresh single-process sweep is
reproducible from its seed, and resumes and parallel workers draw new points. QMC is indexed by
trial number, not by a stream, so it keeps its seed.
"""

from __future__ import annotations

import inspect
from typing import Any

from nnexp.errors import ConfigError
from nnexp.sweep.config import PRUNERS, SAMPLERS, PrunerConfig, SamplerConfig

LAUNCH_SEED_STRIDE = 7919


def build_sampler(
    config: SamplerConfig,
    *,
    launch_index: int = 0,
    grid_space: dict[str, list[Any]] | None = None,
    warn: bool = True,
) -> Any:
    """The sampler named by ``config.name`` (``grid`` needs ``grid_space``)."""
    import optuna.samplers as samplers

    name = config.name
    if name not in SAMPLERS:
        raise ConfigError(
            f"sweep.sampler.name={name!r} is invalid: valid samplers: {', '.join(SAMPLERS)}"
        )
    seed = config.seed
    if seed is not None and name != "qmc":
        seed = int(seed) + LAUNCH_SEED_STRIDE * int(launch_index)
    args = dict(config.args or {})
    if name == "cmaes":
        try:
            import cmaes  # noqa: F401
        except ImportError:
            raise ConfigError(
                "sweep.sampler.name=cmaes needs the 'cmaes' package: pip install cmaes"
            ) from None
    classes = {
        "tpe": samplers.TPESampler,
        "random": samplers.RandomSampler,
        "grid": _ask_tell_grid_sampler(),
        "cmaes": samplers.CmaEsSampler,
        "gp": samplers.GPSampler,
        "qmc": samplers.QMCSampler,
    }
    if name == "grid":
        args["search_space"] = grid_space or {}
    return _construct(
        classes[name], "sweep.sampler", name, args, list(classes.values()), warn=warn, seed=seed
    )


def _ask_tell_grid_sampler() -> type:
    """Optuna's GridSampler without its ``Study.stop()`` call after the last grid point.

    ``GridSampler.after_trial`` stops the study once every point has been drawn, but
    ``Study.stop()`` raises ``RuntimeError`` outside ``study.optimize`` and nnexp drives the
    study with ask/tell: the error escaped ``study.tell`` on the last trial and failed the
    sweep. The driver already stops at the grid's size (``SweepPlan.max_trials``).
    """
    from optuna.samplers import GridSampler

    class AskTellGridSampler(GridSampler):
        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            return None

    return AskTellGridSampler


def build_pruner(config: PrunerConfig, *, multi_objective: bool = False) -> Any:
    """The pruner named by ``config.name``; ``none`` is Optuna's NopPruner."""
    import optuna.pruners as pruners

    name = config.name
    if name not in PRUNERS:
        raise ConfigError(
            f"sweep.pruner.name={name!r} is invalid: valid pruners: {', '.join(PRUNERS)}"
        )
    if multi_objective and name != "none":
        raise ConfigError(
            f"sweep.pruner.name={name!r} is invalid with several metrics: Optuna "
            "cannot prune multi-objective studies; use sweep.pruner.name=none"
        )
    classes = {
        "none": pruners.NopPruner,
        "median": pruners.MedianPruner,
        "percentile": pruners.PercentilePruner,
        "hyperband": pruners.HyperbandPruner,
        "successive_halving": pruners.SuccessiveHalvingPruner,
    }
    return _construct(
        classes[name], "sweep.pruner", name, dict(config.args or {}), list(classes.values())
    )


def _construct(
    cls: type,
    where: str,
    name: str,
    args: dict[str, Any],
    family: list[type],
    warn: bool = True,
    **fixed: Any,
) -> Any:
    """``cls(**args, **fixed)``. An argument that no class of the ``family`` takes is a typo
    (an error); one that only another sampler/pruner takes is dropped with a warning, so that
    ``sweep.pruner.name=hyperband`` works on a sweep file written for the median pruner.
    """
    import sys

    accepted = inspect.signature(cls).parameters
    known = {key for member in family for key in inspect.signature(member).parameters}
    kwargs = {}
    for key, value in args.items():
        if key in accepted and key not in fixed:
            kwargs[key] = value
        elif key in known:
            if warn and name != "none":
                print(
                    f"nnexp: warning: ignoring {where}.args.{key} (not an argument of "
                    f"{where.split('.')[-1]}={name})",
                    file=sys.stderr,
                    flush=True,
                )
        else:
            valid = ", ".join(k for k in accepted if k not in fixed and k != "search_space")
            raise ConfigError(
                f"{where}.args.{key} is not an argument of {where.split('.')[-1]}="
                f"{name}; valid: {valid or '(none)'}"
            )
    kwargs.update({k: v for k, v in fixed.items() if k in accepted})
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental" notices
            return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{where}: {name}({_args_text(args)}) is invalid: {first}") from None


def _args_text(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items() if k != "search_space")

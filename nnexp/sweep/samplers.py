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

from nnexp.errors import ConfigError, first_line
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
            check_argument(f"{where}.args.{key}", value, accepted[key].default)
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
    required = [
        key
        for key, parameter in accepted.items()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
        and key not in kwargs
    ]
    if required:  # Optuna's TypeError named a constructor argument, not the key to set
        settings = " and ".join(f"+{where}.args.{key}=VALUE" for key in required)
        raise ConfigError(
            f"{where}.name={name} needs {', '.join(required)}, which has no default: set {settings}"
        )
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "experimental" notices
            return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{where}: {name}({_args_text(args)}) is invalid: {first_line(exc)}"
        ) from None


#: Arguments Optuna takes without checking them, and that fail (or silently do nothing) only
#: once a trial samples or reports: ``n_startup_trials=-1``, ``n_ei_candidates=0`` or
#: ``multivariate: yes`` were accepted, and the sweep failed, or ran as something else, after
#: its runs existed. Checked here, before anything runs.
_NON_NEGATIVE_INTS = {
    "n_startup_trials",
    "n_warmup_steps",
    "bootstrap_count",
    "min_early_stopping_rate",
}
_POSITIVE_INTS = {"n_ei_candidates", "interval_steps", "n_min_trials", "popsize"}
_AUTO_OR_POSITIVE_INTS = {"min_resource", "max_resource"}
_BOOLS = {
    "consider_prior",
    "consider_magic_clip",
    "consider_endpoints",
    "multivariate",
    "group",
    "constant_liar",
    "warn_independent_sampling",
    "consider_pruned_trials",
    "use_separable_cma",
    "with_margin",
    "lr_adapt",
    "scramble",
    "deterministic_objective",
    "warn_asynchronous_seeding",
}
_CHOICES = {"qmc_type": ("sobol", "halton"), "restart_strategy": ("ipop", "bipop")}
#: Python objects (callables, samplers, trials): a config value cannot be one
_OBJECTS = {"gamma", "weights", "constraints_func", "independent_sampler", "source_trials"}


def check_argument(where: str, value: Any, default: Any = inspect.Parameter.empty) -> None:
    """Refuse a sampler/pruner argument Optuna would take but cannot use, in one line naming
    the value and what is valid (``where`` is the dotted config key). ``null`` is taken where
    Optuna's own default is ``None``."""
    key = where.rsplit(".", 1)[-1]
    if value is None and default is None:
        return
    is_int = isinstance(value, int) and not isinstance(value, bool)
    problem = None
    if key in _NON_NEGATIVE_INTS and not (is_int and value >= 0):
        problem = "must be an integer >= 0"
    elif key in _POSITIVE_INTS and not (is_int and value >= 1):
        problem = "must be an integer >= 1"
    elif key == "reduction_factor" and not (is_int and value >= 2):
        problem = "must be an integer >= 2"
    elif key in _AUTO_OR_POSITIVE_INTS and value != "auto" and not (is_int and value >= 1):
        problem = "must be an integer >= 1 or 'auto'"
    elif key in _BOOLS and not isinstance(value, bool):
        problem = "must be true or false"
    elif key == "percentile" and not (
        isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100
    ):
        problem = "must be a number from 0 to 100"
    elif key in _CHOICES and value not in _CHOICES[key]:
        problem = f"valid: {', '.join(_CHOICES[key])}"
    elif key in _OBJECTS:
        problem = "it takes a Python object, which a config cannot give"
    if problem:
        raise ConfigError(f"{where}={value!r} is invalid: {problem}")


def _args_text(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items() if k != "search_space")

"""Refuse a multirun's bad value before its MLflow parent run exists.

Hydra composes each job of ``python -m nnexp -m optimizer.lr=0.1,abc`` only when it launches
it, after ``on_multirun_start`` has created the parent: a bad value left a FAILED parent with
no (or some) jobs behind it. Here every *value* of every swept key is composed and validated
once, the other keys at their first value: ``1 + sum(len(values) - 1)`` compositions, not one
per job (a 5 x 5 grid costs 9, not 25). What only a combination of values gets wrong, or only
the data show (a batch larger than the split), is still refused by the job itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def swept_alternatives(task_overrides: Sequence[str]) -> list[list[str]] | None:
    """Each override's values as ``key=value`` words, in order (Hydra's basic sweeper's
    expansion: ``key=a,b``, ``range(...)``, ``choice(...)``, ``glob(...)``, the last with the
    config loader of the running Hydra, as the sweeper does); ``None`` for an ``interval()``
    (refused with Hydra's basic sweeper: :mod:`nnexp.override_check`)."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from nnexp.override_check import check_multirun_sweep

    global_hydra = GlobalHydra.instance()
    loader = global_hydra.config_loader() if global_hydra.is_initialized() else None
    parser = OverridesParser.create(config_loader=loader)
    alternatives: list[list[str]] = []
    for override in parser.parse_overrides(list(task_overrides)):
        key = override.get_key_element()
        if override.is_sweep_override() and not override.is_discrete_sweep():
            return None
        if override.is_sweep_override():
            check_multirun_sweep(override)  # an empty range
            values = [f"{key}={value}" for value in override.sweep_string_iterator()]
            if not values:
                raise _empty_glob(override, loader)
            alternatives.append(values)
        else:
            alternatives.append([f"{key}={override.get_value_element_as_str()}"])
    return alternatives


def job_variants(task_overrides: Sequence[str]) -> list[list[str]]:
    """Override lists that together use every value of every swept key once
    (:func:`swept_alternatives`); none for an ``interval()``."""
    alternatives = swept_alternatives(task_overrides)
    if alternatives is None:
        return []
    first = [values[0] for values in alternatives]
    variants = [first]
    for index, values in enumerate(alternatives):
        for value in values[1:]:
            variant = list(first)
            variant[index] = value
            variants.append(variant)
    return variants


def _empty_glob(override: Any, loader: Any) -> Exception:
    """``optimizer=glob(lion*)``: a glob no option matches would run no job at all."""
    from nnexp.errors import ConfigError

    group = override.key_or_group
    options = loader.get_group_options(group) if loader is not None else []
    return ConfigError(
        f"{override.input_line} matches no option of '{group}'; valid options: "
        f"{', '.join(options) or '(none)'}"
    )


def check_cluster_store(config: Any) -> None:
    """With Hydra's submitit Slurm launcher, refuse a local MLflow store as ``sweep.launcher=
    slurm`` does (the jobs run on other nodes), unless ``launcher.shared_filesystem=true``."""
    from omegaconf import OmegaConf

    target = str(OmegaConf.select(config, "hydra.launcher._target_") or "")
    if "submitit" not in target or "Local" in target.rsplit(".", 1)[-1]:
        return
    from nnexp.launch.shared import check_shared_tracking
    from nnexp.project import tracking_uri

    check_shared_tracking(
        tracking_uri(config.tracking.uri).value, bool(config.launcher.shared_filesystem)
    )


def check_job_file_secrets(config: Any) -> None:
    """With Hydra's submitit launchers (``submitit_local``, ``submitit_slurm``), refuse a config
    that holds a password: the launcher pickles the whole composed config and every job's
    overrides into ``<sweep dir>/.submitit/*.pkl``, where it would stay in clear. The jobs
    inherit the environment, where the credentials can go instead."""
    from omegaconf import OmegaConf

    target = str(OmegaConf.select(config, "hydra.launcher._target_") or "")
    if "submitit" not in target:
        return
    from nnexp.errors import ConfigError
    from nnexp.redact import redact

    for line in [*config.hydra.overrides.task, *OmegaConf.to_yaml(config).splitlines()]:
        if redact(line) != line:
            raise ConfigError(
                f"{redact(line).strip()} holds a password, which Hydra's submitit launcher would "
                "write in clear into its job files (.submitit/*.pkl): give it through the "
                "environment the jobs inherit instead (MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD for an MLflow server, PGPASSWORD for PostgreSQL)"
            )


def check_multirun_values(
    task_overrides: Sequence[str], config_sources: Any = (), config_name: str | None = None
) -> None:
    """Raise :class:`nnexp.errors.ConfigError` (one line) on the first value a job would refuse
    at composition or config validation. ``config_sources``: Hydra's
    ``hydra.runtime.config_sources``, and ``config_name`` the primary config
    (``--config-name``), so that the user's ``--config-dir`` and config are seen as the jobs
    will see them."""
    from nnexp.config.compose import compose_config
    from nnexp.launch.slurm_sweep import refuse_launcher_options

    sources = list(config_sources) if config_sources else None
    for variant in job_variants(task_overrides):
        refuse_launcher_options(variant)
        compose_config(variant, config_name=config_name, sources=sources)
    from nnexp.multirun_heads import check_multirun_heads

    # identity on class labels: refused before the parent
    check_multirun_heads(task_overrides, config_name=config_name, sources=sources)

"""Refuse a multirun job whose output head does not fit its data, before the parent run exists.

Whether ``model.output`` / ``model.loss`` fit shows only once the data are loaded (the task,
the number of classes): :func:`nnexp.head_fit.check_head_fits`. A multirun sweeping
``model.output=auto,identity`` on class labels, or ``data=moons,sine`` with
``model.output=sigmoid``, used to create its parent and then fail a job. Here every
combination of the values of the keys that decide the head (the data and model groups and
their keys, experiments) is composed, the other keys at their first value, and checked against
its loaded data set; a combination whose head is all ``auto`` always fits and loads nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

#: override keys (without a leading ``+``/``~``) that can change the data or the head
HEAD_KEY_PREFIXES = ("data", "model", "experiment")


def head_variants(task_overrides: Sequence[str]) -> list[list[str]]:
    """Override lists covering every combination of the head-deciding keys' values (the
    other keys at their first value)."""
    from nnexp.multirun_check import swept_alternatives

    swept = swept_alternatives(task_overrides)
    if swept is None:
        return []  # an interval sweep: refused on the command line
    alternatives = []
    for values in swept:
        bare = values[0].split("=", 1)[0].lstrip("+~").split("/")[0].split(".")[0]
        alternatives.append(values if bare in HEAD_KEY_PREFIXES else values[:1])
    return [list(variant) for variant in itertools.product(*alternatives)]


def check_multirun_heads(
    task_overrides: Sequence[str],
    *,
    config_name: str | None = None,
    sources: Sequence[Any] | None = None,
) -> None:
    """Raise :class:`nnexp.errors.ConfigError` on the first job whose head does not fit its
    data. A data set that fails to load is left to the job, which reports it. ``config_name``
    and ``sources``: the job's primary config and config folders (as
    :func:`nnexp.config.compose.compose_config` takes them)."""
    from omegaconf import OmegaConf

    from nnexp.build import build_dataset, resolve_head
    from nnexp.config.compose import compose_config
    from nnexp.errors import ConfigError, NnexpError

    loaded: dict[str, Any] = {}
    for variant in head_variants(task_overrides):
        cfg = compose_config(variant, config_name=config_name, sources=sources)
        if cfg.model.output == "auto" and cfg.model.loss == "auto":
            continue
        key = OmegaConf.to_yaml(cfg.data) + f"seed: {cfg.seed}"
        if key not in loaded:
            try:
                loaded[key] = build_dataset(cfg.data, int(cfg.seed))
            except ConfigError:
                raise
            except NnexpError:
                loaded[key] = None
        if loaded[key] is not None:
            resolve_head(cfg.model, loaded[key])

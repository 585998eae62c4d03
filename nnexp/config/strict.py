"""Every key of a composed config must be declared by the schema, however it got there.

Hydra adds a ``+key=value`` override inside ``open_dict``, past the struct flag the dataclass
schema sets, so ``+optimizer.lrr=5`` composed and trained as if nothing had been said, and
``+launcher=slurm`` (no such config group) became a stray root key ``launcher: slurm``. This
module walks the composed config against the dataclasses of :mod:`nnexp.config.schema` and
refuses the first key they do not declare, with the same line a misspelled key without ``+``
gets. Two things may be added:

* the node of a config group that was selected (``+sweep=lr``, ``+experiment=NAME``, any group
  found in Hydra's config search path, e.g. one added later under ``conf/``): its root key is
  allowed; inside it, the schema's fields (if the schema declares it) are checked as usual;
* the open dictionaries the schema declares as ``dict[str, Any]`` (a sampler's or pruner's
  ``args``), whose keys belong to Optuna.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from nnexp.errors import ConfigError


def check_known_keys(cfg: Any, selected_groups: Iterable[str] = ()) -> None:
    """Raise :class:`ConfigError` for the first key of ``cfg`` the schema does not declare.

    ``selected_groups`` are the config groups Hydra composed (``hydra.runtime.choices`` keys,
    e.g. ``data``, ``sweep``, ``launcher``, ``hydra/launcher``); their root keys may be present
    even when :class:`~nnexp.config.schema.NnexpConfig` has no field for them.
    """
    from nnexp.config.schema import NnexpConfig

    group_roots = {
        group.split("/", 1)[0] for group in selected_groups if not group.startswith("hydra")
    }
    _check_node(cfg, NnexpConfig, "", group_roots | {"hydra"})


def search_path_groups() -> list[str]:
    """The config groups a user may select: Hydra's config search path when Hydra is
    initialised (``conf/``, the ConfigStore's ``experiment``, any added path), else ``conf/``'s
    folders and ``experiment``. Hydra's own ``hydra/...`` groups are left out."""
    from hydra.core.global_hydra import GlobalHydra

    groups: set[str] = set()
    global_hydra = GlobalHydra.instance()
    if global_hydra.is_initialized():
        try:
            groups = set(global_hydra.config_loader().list_groups(""))
        except Exception:  # a listing problem must not hide the user's error
            groups = set()
    if not groups:
        from nnexp.config.store import CONF_DIR

        groups = {folder.name for folder in CONF_DIR.iterdir() if folder.is_dir()}
        groups.add("experiment")
    return sorted(g for g in groups if g != "hydra")


def _check_node(node: Any, schema: type, path: str, extra_roots: set[str]) -> None:
    from omegaconf import DictConfig

    hints = _fields(schema)
    for key in node:
        key = str(key)
        dotted = f"{path}.{key}" if path else key
        if key not in hints:
            if not path and key in extra_roots:
                continue
            raise ConfigError(_unknown_key_message(dotted, path, hints))
        child = node._get_node(key)
        if not isinstance(child, DictConfig) or child._is_missing() or child._is_none():
            continue
        target = _unwrap_optional(hints[key])
        if dataclasses.is_dataclass(target):
            _check_node(child, target, dotted, set())
            continue
        value_type = _dict_value_type(target)
        if value_type is not None and dataclasses.is_dataclass(value_type):
            for name in child:
                entry = child._get_node(name)
                if isinstance(entry, DictConfig) and not entry._is_none():
                    _check_node(entry, value_type, f"{dotted}.{name}", set())
        # dict[str, Any] (sampler/pruner args) and other leaves are open by design


def _unknown_key_message(dotted: str, parent: str, hints: Mapping[str, Any]) -> str:
    where = f"'{parent}'" if parent else "the root config"
    message = f"unknown config key '{dotted}'; valid keys in {where}: {', '.join(hints)}"
    if not parent:
        groups = ", ".join(search_path_groups())
        message += f"; config groups (select with GROUP=OPTION or +GROUP=OPTION): {groups}"
    return message


def _fields(schema: type) -> dict[str, Any]:
    """``{field name: resolved type}`` in declaration order."""
    hints = typing.get_type_hints(schema)
    return {f.name: hints[f.name] for f in dataclasses.fields(schema)}


def _unwrap_optional(tp: Any) -> Any:
    """``X | None`` -> ``X``; anything else unchanged."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, _union_type()) and len(args) == 1:
        return args[0]
    return tp


def _dict_value_type(tp: Any) -> Any:
    """The value type of ``dict[str, V]``; None for anything else."""
    if typing.get_origin(tp) in (dict, Mapping) and len(typing.get_args(tp)) == 2:
        return typing.get_args(tp)[1]
    return None


def _union_type() -> Any:
    import types

    return types.UnionType

"""Compose configs outside ``@hydra.main`` and turn Hydra's errors into one line.

Sweeps compose one config per trial from a list of overrides, and tests compose every option of
every group; both go through :func:`compose_config`, the same composition the command line uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnexp.config.store import CONF_DIR, register_configs
from nnexp.errors import ConfigError


def compose_config(
    overrides: Sequence[str] = (),
    *,
    validate: bool = True,
    config_name: str | None = None,
    sources: Sequence[Any] | None = None,
) -> Any:
    """Compose the primary config with ``overrides``; raise :class:`ConfigError` on bad input.

    The primary config and the search path are the running Hydra job's (``--config-name``,
    ``--config-dir``, ``hydra.searchpath``: :mod:`nnexp.config.job_source`), so that a sweep's
    trials compose exactly as its command does; outside a job, ``conf/config.yaml``.
    ``config_name`` and ``sources`` (Hydra's ``hydra.runtime.config_sources``) choose them
    explicitly. Returns an OmegaConf ``DictConfig`` typed by
    :class:`nnexp.config.schema.NnexpConfig`. Works whether or not Hydra is already
    initialised (it uses a fresh, scoped instance).
    """
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra

    from nnexp.config.job_source import job_config_name, job_sources

    register_configs()
    name = config_name or job_config_name()
    if sources is None:
        sources = job_sources()
    global_hydra = GlobalHydra.instance()
    outer = global_hydra.hydra if global_hydra.is_initialized() else None
    global_hydra.clear()  # inside @hydra.main (a sweep) Hydra is already initialised
    try:
        _initialize(sources)
        cfg = compose(name, overrides=list(overrides), return_hydra_config=True)
        _drop_hydra_node(cfg)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(describe_config_error(exc)) from exc
    finally:
        global_hydra.clear()
        if outer is not None:
            global_hydra.hydra = outer
    if validate:
        from nnexp.config.validate import validate_config

        validate_config(cfg, overrides)
    return cfg


def _initialize(sources: Sequence[Any] | None) -> None:
    """Initialise Hydra on nnexp's ``conf/`` (what ``initialize_config_dir`` does) or, given a
    job's ``sources``, on that very search path, in its order: a primary config from the
    user's folder is found only if the folder is on the search path from the start (Hydra
    reads the primary config before it applies a ``hydra.searchpath`` override)."""
    from hydra import version
    from hydra._internal.config_search_path_impl import ConfigSearchPathImpl
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_config_search_path

    version.setbase("1.3")
    if sources is None:
        search_path = create_config_search_path(str(CONF_DIR))
    else:
        search_path = ConfigSearchPathImpl()
        for source in sources:
            search_path.append(source.provider, f"{source.schema}://{source.path}")
    Hydra.create_main_hydra2(task_name="app", config_search_path=search_path)


def search_path_override(sources: Any) -> list[str]:
    """``hydra.searchpath=[...]`` for the user's config folders among Hydra's ``sources``
    (``hydra.runtime.config_sources``), ``[]`` if there are none."""
    extra = [
        f"{source.schema}://{source.path}"
        for source in sources
        if source.provider not in ("hydra", "main", "schema") and source.schema in ("file", "pkg")
    ]
    if not extra:
        return []
    quoted = ("'" + path.replace("\\", "\\\\").replace("'", "\\'") + "'" for path in extra)
    return [f"hydra.searchpath=[{','.join(quoted)}]"]


def _drop_hydra_node(cfg: Any) -> None:
    """Check every key against the schema (``+key=`` included, see :mod:`nnexp.config.strict`)
    using the groups Hydra selected, then drop the ``hydra`` node as ``compose`` does."""
    from omegaconf import open_dict

    from nnexp.config.strict import check_known_keys

    check_known_keys(cfg, cfg.hydra.runtime.choices.keys())
    with open_dict(cfg):
        del cfg["hydra"]


def describe_config_error(exc: BaseException) -> str:
    """One line for a Hydra/OmegaConf composition error: the key, the bad value, what is valid."""
    from hydra.errors import MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, OverrideParseException):  # Hydra's message does not say which one
        return (
            f"cannot parse the override '{exc.override}': {_first_line(exc.message)} "
            "(quote the value for Hydra when it holds = ? : or spaces, e.g. "
            "'key=\"value\"'; see https://hydra.cc/docs/advanced/override_grammar/basic/)"
        )
    if isinstance(exc, MissingConfigException):
        missing = exc.missing_cfg_file or ""
        group, _, option = missing.rpartition("/")
        if exc.options:
            valid = ", ".join(sorted(exc.options))
            return f"unknown option '{option}' for '{group}'; valid options: {valid}"
        return _first_line(str(exc))
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if cause is exc and isinstance(exc.__context__, OmegaConfBaseException):
        cause = exc.__context__  # Hydra re-raises a group file's merge error without "from"
    if isinstance(cause, OmegaConfBaseException):
        return _describe_omegaconf_error(exc, cause)
    return _first_line(str(exc))


def _describe_omegaconf_error(exc: BaseException, cause: Any) -> str:
    key = getattr(cause, "full_key", None) or ""
    message = _first_line(getattr(cause, "msg", None) or str(cause))
    override = _override_from_message(str(exc))
    if "not in" in message or "Could not override" in str(exc) or "Key '" in message:
        parent, _, leaf = (key or override.split("=")[0].lstrip("+~")).rpartition(".")
        if parent.endswith(".args") and _append_hint(exc):  # an open dict: Optuna's arguments
            present = ", ".join(_present_keys(cause)) or "nothing"
            return (
                f"unknown config key '{key or leaf}': '{parent}' sets {present} so far; "
                f"to add it use {_append_hint(exc)}"
            )
        valid = _valid_keys(parent) or _present_keys(cause)
        where = f"'{parent}'" if parent else "the root config"
        choices = f"; valid keys in {where}: {', '.join(valid)}" if valid else ""
        return f"unknown config key '{key or leaf}'{choices}"
    prefix = f"{override}: " if override else (f"{key}: " if key else "")
    return f"{prefix}{message}"


def _present_keys(cause: Any) -> list[str]:
    """The keys of the dictionary the unknown key was looked up in (``sweep.space``'s entries,
    ``sweep.pruner.args``), which the schema does not list."""
    from omegaconf import DictConfig

    node = getattr(cause, "parent_node", None)
    return [str(key) for key in node] if isinstance(node, DictConfig) else []


def _append_hint(exc: BaseException) -> str:
    """Hydra's "To append to your config use +KEY=VALUE" (second line of its message), for a new
    key of a sampler's or pruner's open ``args`` (``+sweep.pruner.args.percentile=25``)."""
    marker = "To append to your config use "
    lines = [line.strip() for line in str(exc).splitlines()]
    hint = next((line[len(marker) :] for line in lines if line.startswith(marker)), "")
    return hint


def _override_from_message(text: str) -> str:
    marker = "Error merging override "
    first = _first_line(text)
    if first.startswith(marker):
        return first[len(marker) :].strip()
    return ""


def _valid_keys(dotted_parent: str) -> list[str]:
    """The keys the schema allows under ``dotted_parent`` (empty for unknown parents)."""
    import dataclasses

    from nnexp.config.schema import NnexpConfig

    node: Any = NnexpConfig
    for part in filter(None, dotted_parent.split(".")):
        fields = (
            {f.name: f for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else {}
        )
        if part not in fields:
            return []
        default = fields[part].default_factory  # type: ignore[misc]
        if default is dataclasses.MISSING:
            return []
        node = type(default())
    if not dataclasses.is_dataclass(node):
        return []
    return [f.name for f in dataclasses.fields(node)]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text

"""Where the running Hydra job's configs come from, so that what nnexp does inside it uses them.

A job started with ``--config-dir DIR``, ``hydra.searchpath=[...]`` or ``--config-name NAME``
composes from the user's folder and primary config. Three things built inside the job must see
the same: the configs a sweep composes for its trials (:func:`nnexp.config.compose
.compose_config` takes :func:`job_config_name` and :func:`job_sources`), the worker processes a
sweep starts, and every command line nnexp records or prints (:func:`with_job_sources` adds the
flags the words lack). Without them a sweep's trials were composed from nnexp's ``config``
(``--config-name`` ignored), its extra workers died on the user's options, and its ``re-run
it:`` line ran another config.

Hydra reads the primary config before it applies a ``hydra.searchpath`` override, so a primary
config from the user's folder needs ``--config-dir`` (or ``--config-path``) on a command line;
the words keep the form the job was given: ``--config-dir`` for Hydra's ``command-line``
source, ``hydra.searchpath=[...]`` for the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: nnexp's own primary config (``conf/config.yaml``)
DEFAULT_CONFIG_NAME = "config"
#: Hydra's search path providers that every nnexp process has (not the user's)
BUILT_IN_PROVIDERS = ("hydra", "main", "schema")
CONFIG_DIR_FLAGS = ("--config-dir", "-cd")
CONFIG_PATH_FLAGS = ("--config-path", "-cp")
CONFIG_NAME_FLAGS = ("--config-name", "-cn")
SEARCH_PATH_OVERRIDES = ("hydra.searchpath=", "+hydra.searchpath=", "++hydra.searchpath=")


def job_config_name() -> str:
    """The running job's primary config name (``--config-name``); ``config`` outside a job."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return DEFAULT_CONFIG_NAME
    return str(HydraConfig.get().job.config_name or DEFAULT_CONFIG_NAME)


def job_sources() -> list[Any] | None:
    """The running job's config search path (``hydra.runtime.config_sources``: objects with
    ``provider``, ``schema`` and ``path``), in Hydra's order; None outside a job."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return list(HydraConfig.get().runtime.config_sources)


def user_config_folders() -> list[Any]:
    """The running job's config folders of the user (``--config-dir``, ``hydra.searchpath``
    ``file://`` entries) as paths, in Hydra's order; ``[]`` outside a job."""
    from pathlib import Path

    return [
        Path(source.path)
        for source in job_sources() or []
        if source.provider not in BUILT_IN_PROVIDERS and source.schema == "file"
    ]


def job_source_words() -> list[str]:
    """The words that give a new ``python -m nnexp`` this job's configs; ``[]`` outside a job
    or for nnexp's own configs only. E.g. ``['--config-dir', '/tmp/X/myconf',
    '--config-name', 'myprimary']``."""
    sources = job_sources()
    if sources is None:
        return []
    return source_words(sources, job_config_name())


def source_words(sources: Sequence[Any], config_name: str) -> list[str]:
    """:func:`job_source_words` for Hydra's ``sources`` and ``config_name``."""
    from nnexp.config.compose import search_path_override
    from nnexp.config.store import CONF_DIR

    words: list[str] = []
    for source in sources:
        if source.provider == "main" and source.schema == "file":
            if _same_folder(source.path, CONF_DIR):
                continue
            words += [CONFIG_PATH_FLAGS[0], source.path]
        elif source.provider == "command-line" and source.schema == "file":
            words += [CONFIG_DIR_FLAGS[0], source.path]
    others = [s for s in sources if s.provider not in (*BUILT_IN_PROVIDERS, "command-line")]
    words += search_path_override(others)
    if config_name != DEFAULT_CONFIG_NAME:
        words += [CONFIG_NAME_FLAGS[0], config_name]
    return words


def with_job_sources(words: Sequence[str]) -> list[str]:
    """``words`` (arguments after ``python -m nnexp``) with the job's config flags that they
    lack put first: a command the user typed keeps its own, a list of overrides gets them."""
    words = list(words)
    has_dir = any(word.startswith(CONFIG_DIR_FLAGS) for word in words)
    has_path = any(word.startswith(CONFIG_PATH_FLAGS) for word in words)
    has_name = any(word.startswith(CONFIG_NAME_FLAGS) for word in words)
    has_search = any(word.startswith(SEARCH_PATH_OVERRIDES) for word in words)
    extra: list[str] = []
    added = job_source_words()
    index = 0
    while index < len(added):
        word = added[index]
        if word.startswith("-"):
            flag, value = word, added[index + 1]
            index += 2
            skip = (
                (flag in CONFIG_DIR_FLAGS and has_dir)
                or (flag in CONFIG_PATH_FLAGS and has_path)
                or (flag in CONFIG_NAME_FLAGS and has_name)
            )
            if not skip:
                extra += [flag, value]
        else:
            index += 1
            if not has_search:
                extra.append(word)
    return [*extra, *words]


def _same_folder(path: str, folder: Any) -> bool:
    from pathlib import Path

    try:
        return Path(path).resolve() == Path(folder).resolve()
    except OSError:
        return False

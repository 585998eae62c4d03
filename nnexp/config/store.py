"""Register nnexp's configs with Hydra: the root schema and the named experiments.

``conf/`` is the primary config directory. ``experiments/`` holds named research experiments
(``# @package _global_`` files) used as ``+experiment=NAME``; they are registered in Hydra's
ConfigStore under the ``experiment`` group, so the folder can stay flat and versioned on its own.

Where they are: an installed wheel carries them inside the package (``nnexp/_conf``,
``nnexp/_experiments``, mapped by setup.py); a checkout (editable install, ``PYTHONPATH``) has
them at the top of the repository, beside ``nnexp/``. The package's own copy wins when present.
A user's own config folders join through Hydra's search path (see the README).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = PACKAGE_DIR.parent


def _config_dir(installed: str, checkout: str) -> Path:
    packaged = PACKAGE_DIR / installed
    return packaged if packaged.is_dir() else REPO_ROOT / checkout


CONF_DIR = _config_dir("_conf", "conf")
EXPERIMENTS_DIR = _config_dir("_experiments", "experiments")

_registered = False


def register_configs() -> None:
    """Put the schema and every ``experiments/*.yaml`` into Hydra's ConfigStore (idempotent)."""
    global _registered
    if _registered:
        return
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from nnexp.config.schema import NnexpConfig

    # Hydra's multirun folder follows the store (``${nnexp_store_dir:}/.hydra``), never conf/.
    OmegaConf.register_new_resolver("nnexp_store_dir", _store_dir, replace=True)
    store = ConfigStore.instance()
    store.store(name="nnexp_schema", node=NnexpConfig)
    for path in sorted(EXPERIMENTS_DIR.glob("*.yaml")):
        store.store(
            group="experiment", name=path.stem, node=OmegaConf.load(path), package="_global_"
        )
    _registered = True


def _store_dir() -> str:
    from nnexp.project import store_dir

    return str(store_dir())


def experiment_names() -> list[str]:
    """The names accepted by ``+experiment=NAME``."""
    return sorted(path.stem for path in EXPERIMENTS_DIR.glob("*.yaml"))

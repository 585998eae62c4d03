"""Where the default store lives, and which tracking URI a command uses.

One project, one store. From any folder inside a project, the default MLflow store is the
project's ``mlruns/mlflow.db``: the project's root is found as git finds its own, walking up from
the working directory to the first folder that holds ``.git`` or ``pyproject.toml``. Outside any
project it is the working directory's ``mlruns/``. So ``cd conf && python -m nnexp`` records in
the same store as the project's root (it used to create ``conf/mlruns/``, which Hydra then listed
as a config group).

Which store, in order (MLflow's own convention):

1. an explicit ``tracking.uri=...`` (or a ``tracking`` option that sets one) or ``--tracking-uri``;
2. the environment variable ``MLFLOW_TRACKING_URI``;
3. the default ``sqlite:///<project>/mlruns/mlflow.db``.

``MLFLOW_EXPERIMENT_NAME`` works the same way for ``tracking.experiment_name`` and ``runs
--experiment``. Stdlib only: imported by the config, the sweep and the commands alike.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROJECT_MARKERS = (".git", "pyproject.toml")
STORE_FOLDER = "mlruns"
STORE_FILE = "mlflow.db"
DEFAULT_EXPERIMENT = "nnexp"
URI_ENV = "MLFLOW_TRACKING_URI"
EXPERIMENT_ENV = "MLFLOW_EXPERIMENT_NAME"
EXPERIMENT_ID_ENV = "MLFLOW_EXPERIMENT_ID"
RUN_ID_ENV = "MLFLOW_RUN_ID"


def project_root(start: Path | None = None) -> Path | None:
    """The nearest folder from ``start`` (the working directory) up holding a project marker."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if any((folder / marker).exists() for marker in PROJECT_MARKERS):
            return folder
    return None


def store_dir(start: Path | None = None) -> Path:
    """The default store's folder: ``<project root>/mlruns``, else ``<cwd>/mlruns``."""
    return (project_root(start) or (start or Path.cwd()).resolve()) / STORE_FOLDER


def launch_directory() -> Path:
    """The directory the user ran the command in: Hydra's ``hydra.runtime.cwd`` inside a Hydra
    job (``hydra.job.chdir=true`` moves the process into the job's output folder), else the
    working directory."""
    if "hydra.core.hydra_config" in sys.modules:  # never import Hydra just to ask
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            return Path(HydraConfig.get().runtime.cwd)
    return Path.cwd()


@contextlib.contextmanager
def in_launch_directory() -> Iterator[Path]:
    """Run a Hydra job in :func:`launch_directory`, then go back to where Hydra put it.

    Every relative path nnexp resolves (the store, ``data.path``, ``sweep.storage``, the UI
    command it prints) is then the user's, as if ``hydra.job.chdir`` were false.
    """
    job_dir = os.getcwd()
    target = launch_directory()
    os.chdir(target)
    try:
        yield target
    finally:
        os.chdir(job_dir)


@dataclass(frozen=True)
class Choice:
    """A chosen value and where it came from (``tracking.uri``, ``MLFLOW_TRACKING_URI``...)."""

    value: str
    source: str

    @property
    def note(self) -> str:
        """`` (from MLFLOW_TRACKING_URI)`` when the environment chose, else empty."""
        return f" (from {self.source})" if self.source.startswith("MLFLOW_") else ""


def tracking_uri(explicit: str | None, flag: str = "tracking.uri") -> Choice:
    """The tracking URI: ``explicit`` if given, else ``$MLFLOW_TRACKING_URI``, else the default."""
    if explicit is not None and str(explicit).strip():
        return Choice(str(explicit), flag)
    from_env = os.environ.get(URI_ENV, "").strip()
    if from_env:
        return Choice(from_env, URI_ENV)
    return Choice(f"sqlite:///{store_dir() / STORE_FILE}", "default")


def experiment_name(explicit: str | None, flag: str = "tracking.experiment_name") -> Choice:
    """The experiment: ``explicit``, else ``$MLFLOW_EXPERIMENT_NAME``, else
    ``$MLFLOW_EXPERIMENT_ID`` (then ``value`` is an experiment id, resolved against the store by
    its reader), else ``nnexp``.

    A name holding a password or token is refused: the store keeps experiment names in clear
    (redacting one would name another experiment).
    """
    if explicit is not None and str(explicit).strip():
        return _without_secret(Choice(str(explicit), flag))
    from_env = os.environ.get(EXPERIMENT_ENV, "").strip()
    if from_env:
        return _without_secret(Choice(from_env, EXPERIMENT_ENV))
    from_id = os.environ.get(EXPERIMENT_ID_ENV, "").strip()
    if from_id:
        return Choice(from_id, EXPERIMENT_ID_ENV)
    return Choice(DEFAULT_EXPERIMENT, "default")


def _without_secret(choice: Choice) -> Choice:
    from nnexp.errors import ConfigError
    from nnexp.redact import redact

    shown = redact(choice.value)
    if shown != choice.value:
        raise ConfigError(
            f"{choice.source}={shown!r} is invalid: it holds a password or token, and MLflow "
            "stores experiment names in clear; choose a name without one"
        )
    return choice

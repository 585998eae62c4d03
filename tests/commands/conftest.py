"""Fixtures for the ``reproduce``/``runs``/``compare`` tests: real runs in a temporary store."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from nnexp_testing import run_nnexp

FAST = [
    "data.n_samples=120",
    "trainer.epochs=6",
    "trainer.progress=false",
    "tracking.log_model=false",
    "tracking.log_plots=false",
]


class Store:
    """A temporary MLflow store; runs are made in-process with ``run_experiment``."""

    def __init__(self, root: Path, template: Path):
        seed_store(root, template)
        self.root = root
        self.uri = f"sqlite:///{root / 'mlruns' / 'mlflow.db'}"
        self.artifacts = root / "mlruns" / "artifacts"

    def overrides(self, *extra: str) -> list[str]:
        return [
            *FAST,
            f"tracking.uri={self.uri}",
            f"tracking.artifact_location={self.artifacts}",
            *extra,
        ]

    def make_run(self, *extra: str, callbacks=(), parent_run_id=None) -> str:
        """Train and record one run; return its id."""
        from nnexp.config.compose import compose_config
        from nnexp.run import run_experiment

        overrides = self.overrides(*extra)
        cfg = compose_config(overrides)
        result = run_experiment(
            cfg, overrides=overrides, callbacks=callbacks, parent_run_id=parent_run_id
        )
        return result.run_id

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri)

    def command(self, name: str, *args: str) -> int:
        """``nnexp.commands.<name>.main([..., --tracking-uri URI])`` in this process."""
        import importlib

        module = importlib.import_module(f"nnexp.commands.{name}")
        return module.main([*args, "--tracking-uri", self.uri])


class Cli:
    """``cli(cwd, *args)``: ``python -m nnexp ARGS`` in ``cwd`` (given a seeded empty store)."""

    def __init__(self, template: Path):
        self.template = template

    def __call__(self, cwd: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        seed_store(cwd, self.template)
        return run_nnexp(cwd, *args, timeout=timeout)


def seed_store(workdir: Path, template: Path) -> None:
    """Put a copy of an empty MLflow database at ``workdir/mlruns/mlflow.db``.

    Creating the schema of a new SQLite store takes MLflow seconds (its migrations); a copy of
    a store created once per session takes milliseconds and is the same database.
    """
    target = workdir / "mlruns" / "mlflow.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        shutil.copyfile(template, target)


@pytest.fixture(scope="session")
def empty_store_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlflow import MlflowClient

    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def store(tmp_path: Path, empty_store_db: Path) -> Store:
    return Store(tmp_path, empty_store_db)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory, empty_store_db: Path) -> Store:
    """One store per test module, for tests that only read it."""
    return Store(tmp_path_factory.mktemp("store"), empty_store_db)


@pytest.fixture(scope="session")
def cli(empty_store_db: Path) -> Cli:
    return Cli(empty_store_db)

"""The scale-out tests: sweep workers as separate processes on a shared PostgreSQL study and an
``mlflow server`` (both started by ``tests/services.py``, shared with ``tests/slurm``); plus the
basic-auth server. Without PostgreSQL's binaries every test here is skipped with the reason.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from nnexp_testing import server_env
from services import Postgres, Server, mlflow_server, postgres, serve

__all__ = ["mlflow_server", "postgres"]  # fixtures used here, defined in tests/services.py

# Tiny trials: the work here is the coordination, not the training.
TINY = ["data.n_samples=100", "trainer.epochs=20", "trainer.progress=false"]


@pytest.fixture(scope="session")
def auth_server(postgres: Postgres) -> Iterator[tuple[Server, str]]:
    """``mlflow server --app-name basic-auth`` (README "Scale out"); yields it and the admin's
    password (MLflow's auth database is SQLite in the server's folder)."""
    pytest.importorskip(
        "flask_wtf", reason="MLflow's basic-auth app needs mlflow[auth]: pip install 'mlflow[auth]'"
    )
    database = "mlflow_auth_" + secrets.token_hex(3)
    postgres.createdb(database)
    admin_password = "admin-" + secrets.token_hex(8)
    env = {
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
    }
    with serve(postgres.uri(database), "--app-name", "basic-auth", env=env) as server:
        yield server, admin_password


class Cluster:
    """Sweep workers as separate ``python -m nnexp`` processes, each as if on its own machine.

    Every worker gets its own working directory and ``TMPDIR``, so nothing local (the file locks
    nnexp keeps in the temp folder) is shared: only PostgreSQL and the MLflow server are.
    """

    def __init__(self, postgres: Postgres, server: Server, root: Path, name: str):
        self.postgres, self.server, self.root, self.name = postgres, server, root, name
        self.experiment = f"scaleout-{name}"
        self.study = name
        self._count = 0
        self._storage = None

    def args(self, *extra: str, storage: str | None = None) -> list[str]:
        return [
            "+sweep=lr",
            *TINY,
            "tracking=server",
            f"tracking.uri={self.server.url}",
            f"tracking.experiment_name={self.experiment}",
            f"sweep.storage={storage or self.postgres.uri('optuna')}",
            f"sweep.study_name={self.study}",
            "sweep.log_model=none",
            "sweep.pruner.name=none",
            "sweep.confirm.top_k=0",
            *extra,
        ]

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        self._count += 1
        machine = self.root / f"machine{self._count}"
        (machine / "tmp").mkdir(parents=True)
        env = {**server_env(), **(env or {})}
        env["TMPDIR"] = str(machine / "tmp")
        return subprocess.Popen(
            [sys.executable, "-m", "nnexp", *args],
            cwd=machine,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )

    # -- reading the results back ------------------------------------------------------------
    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.server.url)

    def runs(self) -> list:
        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment)
        if experiment is None:
            return []
        return client.search_runs([experiment.experiment_id], max_results=1000)

    def parents_and_children(self) -> tuple[list, list]:
        runs = self.runs()
        parents = [r for r in runs if r.data.tags.get("nnexp.kind") == "sweep"]
        children = [r for r in runs if r.data.tags.get("nnexp.kind") == "trial"]
        return parents, children

    def study_trials(self, missing_ok: bool = False) -> list:
        """The study's trials (``[]`` if ``missing_ok`` and the workers have not created it)."""
        import optuna
        import sqlalchemy.exc

        try:
            if self._storage is None:  # never creates the schema: that is the workers' race
                self._storage = optuna.storages.RDBStorage(
                    self.postgres.uri("optuna"), skip_table_creation=True
                )
            return optuna.load_study(study_name=self.study, storage=self._storage).get_trials()
        except (KeyError, sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError):
            if not missing_ok:
                raise
            self.close()
            return []

    def close(self) -> None:
        if self._storage is not None:
            self._storage.engine.dispose()
            self._storage = None


@pytest.fixture
def cluster(
    postgres: Postgres, mlflow_server: Server, tmp_path: Path, request
) -> Iterator[Cluster]:
    name = request.node.name.replace("test_", "", 1)[:40] + "-" + secrets.token_hex(3)
    cluster = Cluster(postgres, mlflow_server, tmp_path, name)
    try:
        yield cluster
    finally:
        cluster.close()

"""Real services for the scale-out tests: a throwaway PostgreSQL cluster and an `mlflow server`.

The session starts, on 127.0.0.1 and free ports:

- PostgreSQL (Debian's binaries, ``/usr/lib/postgresql/*/bin``): ``initdb`` in a temporary
  folder owned by the ``postgres`` user (PostgreSQL refuses to run as root), password auth
  (scram-sha-256) for TCP connections, a login role ``nnexp`` with a random password, and the
  databases ``mlflow`` and ``optuna`` (the README's "Scale out" commands);
- ``mlflow server`` backed by the ``mlflow`` database, artifacts served by the server, waited
  for on ``/health``.

Both are torn down at the end (process group kill, ``pg_ctl stop``). Without PostgreSQL's
binaries every test here is skipped with the reason; CI installs them (``.ci/run``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nnexp_testing import free_port, server_env, stop_group, wait_for_health

SERVER_START_TIMEOUT = 90.0
PG_USER = "nnexp"
# Tiny trials: the work here is the coordination, not the training.
TINY = ["data.n_samples=100", "trainer.epochs=20", "trainer.progress=false"]


def postgres_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` with ``initdb`` (or ``initdb`` on PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Postgres:
    """A running throwaway cluster."""

    bin: Path
    root: Path
    port: int
    password: str
    as_postgres: list[str]  # command prefix that runs as the cluster's owner

    def uri(self, database: str, password: str | None = None, port: int | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql+psycopg://{PG_USER}:{secret}@127.0.0.1:{port or self.port}/{database}"

    def createdb(self, name: str) -> None:
        """A new database owned by the test role (over the cluster's Unix socket, as postgres)."""
        self.run(str(self.bin / "createdb"), *self.socket_args(), "-O", PG_USER, name)

    def socket_args(self) -> list[str]:
        return ["-h", str(self.root), "-p", str(self.port), "-U", "postgres"]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_postgres, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            cwd=self.root,
        )


def _start_postgres(pg_bin: Path) -> Postgres:
    root = Path(tempfile.mkdtemp(prefix="nnexp-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as `postgres`
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    root.chmod(0o700)
    pg = Postgres(pg_bin, root, free_port(), "pw" + secrets.token_hex(12), prefix)
    data, log = root / "data", root / "postgres.log"
    pg.run(
        str(pg_bin / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--no-sync",
    )
    pg.run(
        str(pg_bin / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(log),
        "-w",
        "-t",
        "60",
        "-o",
        f"-h 127.0.0.1 -p {pg.port} -k {root} -c fsync=off -c synchronous_commit=off",
        "start",
        timeout=90,
    )
    pg.run(
        str(pg_bin / "psql"),
        *pg.socket_args(),
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        f"CREATE ROLE {PG_USER} LOGIN PASSWORD '{pg.password}'",
    )
    for database in ("mlflow", "optuna"):
        pg.createdb(database)
    return pg


def _stop_postgres(pg: Postgres) -> None:
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        pg.run(str(pg.bin / "pg_ctl"), "-D", str(pg.root / "data"), "-m", "fast", "stop")
    shutil.rmtree(pg.root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    pg_bin = postgres_bin()
    if pg_bin is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: "
            "apt-get install -y postgresql (.ci/run does)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
    pg = _start_postgres(pg_bin)
    try:
        yield pg
    finally:
        _stop_postgres(pg)


@dataclass
class Server:
    url: str
    artifacts: Path
    log: Path


@contextlib.contextmanager
def serve(backend_uri: str, *extra: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``mlflow server`` (the README's command) on 127.0.0.1, healthy within 90 s, then stopped."""
    folder = Path(tempfile.mkdtemp(prefix="nnexp-mlflow-server-"))
    artifacts, log_path = folder / "artifacts", folder / "server.log"
    port = free_port()
    process_env = {**server_env(), **(env or {})}
    process_env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no background job runner
    command = [
        shutil.which("mlflow") or "mlflow",
        "server",
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        *extra,
    ]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=process_env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(proc, url, log_path, SERVER_START_TIMEOUT, "mlflow server")
        yield Server(url, artifacts, log_path)
    finally:
        stop_group(proc)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def mlflow_server(postgres: Postgres) -> Iterator[Server]:
    """The tracking server every worker logs to, backed by the ``mlflow`` database."""
    with serve(postgres.uri("mlflow")) as server:
        yield server


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

"""Real services shared by the test folders that need them (tests/scaleout, tests/slurm): a
throwaway PostgreSQL cluster and an ``mlflow server`` backed by it.

The session starts, on 127.0.0.1 and free ports:

- PostgreSQL (Debian's binaries, ``/usr/lib/postgresql/*/bin``): ``initdb`` in a temporary
  folder owned by the ``postgres`` user (PostgreSQL refuses to run as root), password auth
  (scram-sha-256) for TCP connections, a login role ``nnexp`` with a random password, and the
  databases ``mlflow`` and ``optuna`` (the README's "Scale out" commands);
- ``mlflow server`` backed by the ``mlflow`` database, artifacts served by the server, waited
  for on ``/health``.

Both are torn down at the end (process group kill, ``pg_ctl stop``). Without PostgreSQL's
binaries every test using them is skipped with the reason; CI installs them (``.ci/run``).
A folder's ``conftest.py`` imports the fixtures (``from services import postgres, ...``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nnexp_testing import free_port, server_env, stop_group, wait_for_health

SERVER_START_TIMEOUT = 90.0
PG_USER = "nnexp"


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

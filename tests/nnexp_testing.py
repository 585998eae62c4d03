"""Shared test helpers: run ``python -m nnexp`` in a subprocess against a temporary MLflow store.

Importable from every test folder (``pythonpath = ["tests"]`` in pyproject.toml).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nnexp_forkserver

FAST = ["data.n_samples=200", "trainer.epochs=12", "trainer.progress=false"]

#: Set by nnexp itself (debugging, sweep workers, multirun jobs): never inherited by a test's
#: own nnexp process.
NNEXP_ENV = (
    "NNEXP_TRACEBACK",
    "HYDRA_FULL_ERROR",
    "NNEXP_SWEEP_ROLE",
    "NNEXP_MULTIRUN_PARENT_ID",
    "NNEXP_MULTIRUN_SWEPT",
)
#: MLflow's own run selection: a server or a cluster process must not pick them up.
MLFLOW_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
    "MLFLOW_RUN_ID",
)


def nnexp_env(**extra: str) -> dict[str, str]:
    """This environment without nnexp's own variables nor MLflow's run selection (a test that
    means to set ``MLFLOW_TRACKING_URI`` passes it in ``extra``)."""
    env = {k: v for k, v in os.environ.items() if k not in NNEXP_ENV and k not in MLFLOW_ENV}
    env.update(extra)
    return env


def run_nnexp(
    cwd: Path, *args: str, timeout: float = 300, **env: str
) -> subprocess.CompletedProcess:
    """``python -m nnexp ARGS`` in ``cwd`` with :func:`nnexp_env` plus ``env`` (forked from a
    preloaded Python: :mod:`nnexp_forkserver` says what that changes and what it does not)."""
    return nnexp_forkserver.run(list(args), cwd, nnexp_env(**env), timeout)


def server_env() -> dict[str, str]:
    """For ``mlflow server``/``mlflow ui`` and the processes that talk to them: no MLflow run
    selection, no telemetry (the network is closed)."""
    env = {k: v for k, v in nnexp_env().items() if k not in MLFLOW_ENV}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group (servers run uvicorn workers as children), then SIGKILL."""
    if proc.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


class NnexpCommand:
    """Runs nnexp with the temporary directory as working directory (so ``mlruns/`` lands there)."""

    FAST = FAST

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.store_uri = f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}"

    def env(self) -> dict[str, str]:
        return nnexp_env()

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return nnexp_forkserver.run(list(args), self.workdir, self.env(), timeout)

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "nnexp", *args],
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env(),
        )

    def client(self):
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.store_uri)

    def runs(self, experiment: str = "nnexp") -> list:
        if not (self.workdir / "mlruns" / "mlflow.db").exists():
            return []
        client = self.client()
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            return []
        return client.search_runs([exp.experiment_id], max_results=1000)

    def wait_for_run_status(self, status: str = "RUNNING", timeout: float = 60) -> bool:
        """Poll the SQLite store read-only (no MlflowClient: it would race the schema creation)."""
        import sqlite3
        import time

        db = self.workdir / "mlruns" / "mlflow.db"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if db.exists():
                try:
                    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
                        rows = conn.execute("SELECT status FROM runs").fetchall()
                    if (status,) in rows:
                        return True
                except sqlite3.Error:
                    pass
            time.sleep(0.2)
        return False


def wait_for_health(proc, url: str, log_path: Path, timeout: float, what: str) -> None:
    """Wait until the server ``proc`` answers ``url/health`` with 200; fail with its log if not."""
    import time
    import urllib.request

    import pytest

    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"{what} not healthy after {timeout:.0f} s:\n{log_path.read_text()[-3000:]}"
            )
        time.sleep(0.5)


@contextlib.contextmanager
def served_model(
    model_uri: str,
    folder: Path,
    env: dict[str, str],
    mlflow: tuple[str, ...] = (sys.executable, "-m", "mlflow"),
    timeout: float = 180,
) -> Iterator[str]:
    """A real ``mlflow models serve -m MODEL_URI`` (local env manager, one worker) started in
    ``folder`` with ``env`` and its log in ``folder/serve.log``; yields its URL once healthy
    and stops its process group afterwards. ``mlflow``: the command that runs MLflow (another
    virtualenv's ``bin/mlflow`` to serve where nnexp is not installed)."""
    port = free_port()
    log = folder / "serve.log"
    with open(log, "w") as handle:
        server = subprocess.Popen(
            [
                *mlflow,
                *("models", "serve", "-m", model_uri, "--env-manager", "local"),
                *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            ],
            cwd=folder,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_health(server, url, log, timeout=timeout, what="mlflow models serve")
        yield url
    finally:
        stop_group(server)


def write_user_configs(folder: Path) -> Path:
    """The README's own config folder example: ``model/my_net.yaml``, ``experiment/mine.yaml``."""
    (folder / "model").mkdir(parents=True)
    (folder / "experiment").mkdir()
    (folder / "model" / "my_net.yaml").write_text(
        "name: my_net\nhidden_sizes: [7, 5]\nactivation: relu\ninit: he_normal\n"
    )
    (folder / "experiment" / "mine.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /data: circles\noptimizer:\n  lr: 0.0123\n"
    )
    return folder

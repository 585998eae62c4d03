"""Sweeps and multiruns on a real single-node Slurm (``tests/slurm_cluster.py``), with the study
in a throwaway PostgreSQL and the runs on an ``mlflow server`` (``tests/services.py``).

The cluster lets four one-CPU jobs share a core (``OverSubscribe=FORCE:4``), so three workers
run at once on a 2-core machine. Without Slurm (``apt-get install -y slurm-wlm munge``, as
``.ci/run`` does) or root, every test here is skipped with the reason.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nnexp_testing import server_env
from services import Postgres, Server, mlflow_server, postgres
from slurm_cluster import SlurmCluster, missing_reason, slurm_cluster

__all__ = ["mlflow_server", "postgres"]  # fixtures used here, defined in tests/services.py

# Tiny trials: what is tested is the launching, following and sharing, not the training.
TINY = ["data.n_samples=100", "trainer.epochs=20", "trainer.progress=false"]


@pytest.fixture(scope="session")
def slurm() -> Iterator[SlurmCluster]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(f"no Slurm here: {reason}")
    with slurm_cluster(oversubscribe="FORCE:4") as cluster:
        yield cluster


class SlurmSweep:
    """``python -m nnexp ... sweep.launcher=slurm`` from ``root``, on the test cluster."""

    def __init__(self, slurm: SlurmCluster, postgres: Postgres, server: Server, root: Path, name):
        self.slurm, self.postgres, self.server, self.root = slurm, postgres, server, root
        self.experiment = f"slurm-{name}"
        self.study = name

    def env(self) -> dict[str, str]:
        return {**server_env(), "SLURM_CONF": str(self.slurm.conf)}

    def tracking(self) -> list[str]:
        return [
            "tracking=server",
            f"tracking.uri={self.server.url}",
            f"tracking.experiment_name={self.experiment}",
        ]

    def args(self, *extra: str) -> list[str]:
        return [
            "+sweep=lr",
            "sweep.confirm.top_k=0",
            *TINY,
            *self.tracking(),
            f"sweep.storage={self.postgres.uri('optuna')}",
            f"sweep.study_name={self.study}",
            "sweep.log_model=none",
            "sweep.pruner.name=none",
            "sweep.launcher=slurm",
            "launcher.poll_interval=1",
            *extra,
        ]

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "nnexp", *args],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env(),
        )

    def run(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "nnexp", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
        )

    # -- reading the results back ------------------------------------------------------------
    def runs(self) -> list:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=self.server.url)
        experiment = client.get_experiment_by_name(self.experiment)
        if experiment is None:
            return []
        return client.search_runs([experiment.experiment_id], max_results=1000)

    def kinds(self, kind: str) -> tuple[list, list]:
        """``(parents of kind, their children)`` (children: any run with a parent)."""
        runs = self.runs()
        parents = [r for r in runs if r.data.tags.get("nnexp.kind") == kind]
        children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
        return parents, children

    def study_trials(self) -> list:
        import optuna

        storage = optuna.storages.RDBStorage(self.postgres.uri("optuna"), skip_table_creation=True)
        try:
            return optuna.load_study(study_name=self.study, storage=storage).get_trials()
        finally:
            storage.engine.dispose()

    def wait_for(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
            time.sleep(0.5)


@pytest.fixture
def slurm_sweep(
    slurm: SlurmCluster, postgres: Postgres, mlflow_server: Server, tmp_path: Path, request
) -> Iterator[SlurmSweep]:
    slurm.wait_idle()
    name = request.node.name.replace("test_", "", 1)[:40] + "-" + secrets.token_hex(3)
    yield SlurmSweep(slurm, postgres, mlflow_server, tmp_path, name)
    slurm.run("scancel", "--user=root")

"""Fixtures for the sweep tests: a temporary working directory with its own MLflow store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TINY = ["data.n_samples=100", "trainer.epochs=10", "trainer.progress=false"]


class SweepBench:
    """Runs sweeps (in-process or as ``python -m nnexp``) against a store under ``workdir``."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.store_uri = f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}"

    def overrides(self, sweep: str, *extra: str) -> list[str]:
        return [
            f"+sweep={sweep}",
            *TINY,
            f"tracking.uri={self.store_uri}",
            f"tracking.artifact_location={self.workdir / 'mlruns' / 'artifacts'}",
            *extra,
        ]

    def run(self, sweep: str, *extra: str) -> dict:
        """``run_sweep`` in this process (the working directory is ``workdir``)."""
        from nnexp.config.compose import compose_config
        from nnexp.sweep import run_sweep

        overrides = self.overrides(sweep, *extra)
        return run_sweep(compose_config(overrides), overrides)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("NNEXP_TRACEBACK", "HYDRA_FULL_ERROR", "NNEXP_SWEEP_ROLE"):
            env.pop(name, None)
        return env

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "nnexp", *args],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
        )

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
        client = self.client()
        exp = client.get_experiment_by_name(experiment)
        return [] if exp is None else client.search_runs([exp.experiment_id], max_results=1000)

    def parents_and_children(self) -> tuple[list, list]:
        runs = self.runs()
        parents = [r for r in runs if r.data.tags.get("nnexp.kind") == "sweep"]
        children = [r for r in runs if r.data.tags.get("nnexp.kind") == "trial"]
        return parents, children

    def study(self, name: str):
        import optuna
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        journal = self.workdir / "mlruns" / "optuna" / f"{name}.journal"
        storage = JournalStorage(JournalFileBackend(str(journal)))
        return optuna.load_study(study_name=name, storage=storage)


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SweepBench:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NNEXP_SWEEP_ROLE", raising=False)
    return SweepBench(tmp_path)

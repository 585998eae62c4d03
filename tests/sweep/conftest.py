"""Fixtures for the sweep tests: a temporary working directory with its own MLflow store."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from nnexp_testing import NnexpCommand

TINY = ["data.n_samples=100", "trainer.epochs=10", "trainer.progress=false"]


class SweepBench(NnexpCommand):
    """Runs sweeps (in-process or as ``python -m nnexp``) against a store under ``workdir``."""

    run_command = NnexpCommand.run

    def overrides(self, sweep: str, *extra: str) -> list[str]:
        return [
            f"+sweep={sweep}",
            *TINY,
            "sweep.confirm.top_k=0",  # the confirm phase has its own tests
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

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return self.run_command(*args, timeout=timeout)

    def parents_and_children(self) -> tuple[list, list]:
        runs = self.runs()
        parents = [r for r in runs if r.data.tags.get("nnexp.kind") == "sweep"]
        children = [r for r in runs if r.data.tags.get("nnexp.kind") == "trial"]
        return parents, children

    def study(self, name: str):
        import optuna
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        journal = self.journal(name)
        storage = JournalStorage(JournalFileBackend(str(journal)))
        return optuna.load_study(study_name=journal.stem, storage=storage)

    def journal(self, name: str) -> Path:
        """The journal of study ``name``, or of the one study ``name-<digest>`` (the default
        name of a sweep whose command line changes its base overrides)."""
        folder = self.workdir / "mlruns" / "optuna"
        exact = folder / f"{name}.journal"
        if exact.exists():
            return exact
        found = sorted(folder.glob(f"{name}-????????.journal"))
        assert len(found) == 1, f"expected one study {name}[-digest] in {folder}: {found}"
        return found[0]


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SweepBench:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NNEXP_SWEEP_ROLE", raising=False)
    return SweepBench(tmp_path)

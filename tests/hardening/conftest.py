"""Fixtures for the hardening tests: a small MLflow store with one finished run, made once."""

from __future__ import annotations

from pathlib import Path

import pytest
from hardening_support import KILLS, MOMENTS, NO_ARTIFACT_EXTRAS, TINY, all_runs, run


@pytest.fixture(scope="session")
def template_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose ``mlruns/`` holds one FINISHED run (copy it into each case)."""
    folder = tmp_path_factory.mktemp("template-store")
    done = run([*TINY, "trainer.epochs=3", *NO_ARTIFACT_EXTRAS], folder)
    assert done.returncode == 0, done.stderr
    runs = all_runs(folder / "mlruns" / "mlflow.db")
    assert [r.info.status for r in runs] == ["FINISHED"]
    return folder


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The kill tests' figures: kills by signal and scenario, runs and orphans reaped."""
    if not KILLS:
        return
    terminalreporter.section("hardening: kills")
    for (what, scenario), count in sorted(KILLS.items()):
        terminalreporter.write_line(f"{what:>15}  {scenario:<36} {count}")
    signals = sum(n for (what, _), n in KILLS.items() if what.startswith("SIG"))
    terminalreporter.write_line(f"{'kills in all':>15}  {'':<36} {signals}")
    for moment, count in sorted(MOMENTS.items()):
        terminalreporter.write_line(f"{'landed':>15}  {moment:<36} {count}")

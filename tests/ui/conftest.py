"""Fixtures for the browser tests: a small sweep in a temporary store, `mlflow ui` serving it on
loopback, and headless Debian Chromium driven by selenium (no driver or browser downloads)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nnexp_forkserver
import pytest
from chromium import fresh_browser, missing_browser
from nnexp_testing import free_port, server_env, stop_group, wait_for_health

REPO = Path(__file__).resolve().parents[2]

EPOCHS = 15
N_TRIALS = 3
SWEEP_ARGS = [
    "+sweep=lr",
    f"sweep.n_trials={N_TRIALS}",
    "data.n_samples=150",
    f"trainer.epochs={EPOCHS}",
    "trainer.progress=false",
    "sweep.confirm.top_k=0",
    "sweep.log_model=none",  # no model: the UI tests look at runs and metric charts
]
# Per-epoch metrics whose chart a child run's page must draw, and the epochs a trial logs them
# at (sweep.log_every=5: the first, every fifth, the last).
EPOCH_METRICS = ("train_loss", "val_loss")
LOGGED_EPOCHS = [1, 5, 10, 15]

SERVER_START_TIMEOUT = 90.0
SWEEP_TIMEOUT = 180.0


@dataclass
class Run:
    run_id: str
    name: str


@dataclass
class SweepStore:
    workdir: Path
    uri: str
    experiment_id: str
    parent: Run
    children: list[Run]
    # run id -> metric -> number of logged steps
    history: dict[str, dict[str, int]] = field(default_factory=dict)
    stdout: str = ""  # what the sweep printed (its "open the UI" line)


@pytest.fixture(scope="module", autouse=True)
def _require_browser() -> None:
    """Skip (before the sweep runs) where Debian's Chromium or its driver is not installed."""
    reason = missing_browser()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def ui_artifacts() -> Path:
    """Where screenshots go: $NNEXP_TEST_ARTIFACTS, else <repo>/mlruns/test-artifacts (ignored)."""
    root = os.environ.get("NNEXP_TEST_ARTIFACTS")
    path = Path(root) if root else REPO / "mlruns" / "test-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory: pytest.TempPathFactory) -> SweepStore:
    """`python -m nnexp +sweep=lr` (3 trials, 15 epochs) into mlruns/ of a fresh directory."""
    from mlflow.tracking import MlflowClient

    workdir = tmp_path_factory.mktemp("ui-sweep")
    done = nnexp_forkserver.run(SWEEP_ARGS, workdir, server_env(), timeout=SWEEP_TIMEOUT)
    assert done.returncode == 0, f"sweep failed:\n{done.stdout}\n{done.stderr}"
    found = re.search(r"MLflow parent run ([0-9a-f]{32})", done.stdout)
    assert found, f"no parent run id in the sweep's output:\n{done.stdout}"
    parent_id = found.group(1)

    uri = f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    parent = client.get_run(parent_id)
    experiment_id = parent.info.experiment_id
    children = client.search_runs(
        [experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    assert len(children) == N_TRIALS, [c.info.run_name for c in children]
    history = {
        c.info.run_id: {
            m: sorted(p.step for p in client.get_metric_history(c.info.run_id, m))
            for m in EPOCH_METRICS
        }
        for c in children
    }
    for run_id, steps in history.items():
        assert steps == dict.fromkeys(EPOCH_METRICS, LOGGED_EPOCHS), (run_id, steps)
    return SweepStore(
        workdir=workdir,
        uri=uri,
        experiment_id=experiment_id,
        parent=Run(parent_id, parent.info.run_name),
        children=sorted(
            (Run(c.info.run_id, c.info.run_name) for c in children), key=lambda r: r.name
        ),
        history=history,
        stdout=done.stdout,
    )


@pytest.fixture(scope="module")
def mlflow_ui(sweep_store: SweepStore) -> Iterator[str]:
    """`mlflow ui` on 127.0.0.1 over the sweep's store; yields its base URL."""
    port = free_port()
    log_path = sweep_store.workdir / "mlflow-ui.log"
    env = server_env()
    # No background job runner (huey consumers): the UI needs none of it, and the machine is small.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                shutil.which("mlflow") or "mlflow",
                "ui",
                "--backend-store-uri",
                sweep_store.uri,
                "--default-artifact-root",
                str(sweep_store.workdir / "mlruns" / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            cwd=sweep_store.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(proc, base, log_path, SERVER_START_TIMEOUT, "mlflow ui")
        yield base
    finally:
        stop_group(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One browser shared by the module's page tests."""
    with fresh_browser() as driver:
        yield driver

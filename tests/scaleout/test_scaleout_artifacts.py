"""Artifacts land where every machine can read them (issue 12.14), against a real server.

``tracking.uri=http://...`` with the default ``tracking=local`` group used to create the
experiment with a local ``mlruns/artifacts`` path, so each worker wrote its artifacts to its own
disk. Now a tracking server's experiment gets the server's artifact store, and an existing one
that points at a local path is refused in one line before any run is created.
"""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import nnexp_forkserver
import pytest
from nnexp_testing import FAST, server_env

pytestmark = pytest.mark.slow

TINY = [*FAST, "trainer.epochs=3", "tracking.log_plots=false", "tracking.log_model=false"]


def nnexp(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return nnexp_forkserver.run(list(args), cwd, server_env(), timeout=300)


def test_a_tracking_server_keeps_the_artifacts_and_a_local_path_is_refused(
    mlflow_server, tmp_path: Path
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.url)
    name = f"remote-{secrets.token_hex(3)}"
    made = nnexp(
        tmp_path, *TINY, f"tracking.uri={mlflow_server.url}", f"tracking.experiment_name={name}"
    )
    assert made.returncode == 0, made.stderr
    experiment = client.get_experiment_by_name(name)
    assert experiment.artifact_location.startswith("mlflow-artifacts:/"), experiment
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    [recorded] = client.search_runs([experiment.experiment_id])
    names = {item.path for item in client.list_artifacts(recorded.info.run_id)}
    assert {"config.yaml", "history.csv", "model.npz"} <= names
    assert not (tmp_path / "mlruns").exists()  # nothing was written on this machine
    assert list(mlflow_server.artifacts.rglob("config.yaml"))  # but on the server's disk

    # an experiment made by an older nnexp (or any client) with a local artifact path
    old = f"old-{secrets.token_hex(3)}"
    local = (tmp_path / "elsewhere" / "mlruns" / "artifacts").as_uri()
    old_id = client.create_experiment(old, artifact_location=local)
    refused = nnexp(
        tmp_path, *TINY, f"tracking.uri={mlflow_server.url}", f"tracking.experiment_name={old}"
    )
    assert refused.returncode == 2, refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert line == (
        f"nnexp: error: experiment '{old}' on {mlflow_server.url} keeps its artifacts in "
        f"{local}, a local path other machines cannot read (made by a client, not the server); "
        "choose another tracking.experiment_name to use the server's artifact store, or pass "
        f"tracking.artifact_location={local} if every machine mounts that folder"
    )
    assert client.search_runs([old_id]) == []

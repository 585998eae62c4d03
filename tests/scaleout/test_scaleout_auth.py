"""A tracking server reachable from other machines runs MLflow's basic-auth app (README "Scale
out"): workers with credentials (``MLFLOW_TRACKING_USERNAME``/``PASSWORD``) log to it, others
are refused with one line."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_basic_auth_server_logs_workers_with_credentials_and_refuses_others(
    cluster, auth_server, monkeypatch
) -> None:
    server, admin_password = auth_server
    cluster.server = server
    credentials = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": admin_password}
    args = cluster.args("sweep.n_trials=2", "trainer.epochs=10")
    with_credentials = cluster.start(*args, env=credentials)
    without = cluster.start(*args)
    out, err = with_credentials.communicate(timeout=150)
    out_refused, err_refused = without.communicate(timeout=150)

    assert with_credentials.returncode == 0, err
    assert "2 trials (2 complete, 0 pruned, 0 failed)" in out
    assert without.returncode == 2, err_refused
    assert out_refused == ""
    lines = err_refused.splitlines()
    assert len(lines) == 1, err_refused
    assert lines[0].startswith(f"nnexp: error: cannot open MLflow store {server.url}: ")
    assert "401" in lines[0]
    for text in (out, err, out_refused, err_refused):
        assert admin_password not in text and cluster.postgres.password not in text

    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    parents, children = cluster.parents_and_children()
    assert len(parents) == 1 and len(children) == 2
    assert {c.info.status for c in children} == {"FINISHED"}

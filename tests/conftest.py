"""Every test starts without MLflow's run selection in its own environment.

``MLFLOW_TRACKING_URI`` outranks nnexp's default store (as in MLflow), and a test that calls
``mlflow.set_tracking_uri`` directly leaves it in ``os.environ``: a later in-process command
would then read that test's store. Tests that mean to set it do so with ``monkeypatch``; what a
test leaks anyway is removed when it ends, so that no later test (not even one that calls
``monkeypatch.undo()``) can bring it back.
"""

from __future__ import annotations

import os

import pytest
from nnexp_testing import MLFLOW_ENV


@pytest.fixture(autouse=True)
def _no_mlflow_run_selection(monkeypatch: pytest.MonkeyPatch):
    for name in MLFLOW_ENV:
        monkeypatch.delenv(name, raising=False)
    yield
    for name in MLFLOW_ENV:
        os.environ.pop(name, None)

"""Every test starts without MLflow's run selection in its own environment.

``MLFLOW_TRACKING_URI`` outranks nnexp's default store (as in MLflow), and a test that calls
``mlflow.set_tracking_uri`` directly leaves it in ``os.environ``: a later in-process command
would then read that test's store. Tests that mean to set it do so with ``monkeypatch``.
"""

from __future__ import annotations

import pytest
from nnexp_testing import MLFLOW_ENV


@pytest.fixture(autouse=True)
def _no_mlflow_run_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MLFLOW_ENV:
        monkeypatch.delenv(name, raising=False)

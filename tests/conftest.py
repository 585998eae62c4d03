"""Every test starts without MLflow's run selection in its own environment; and how the suite
is shared between ``pytest -n`` workers.

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


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``-n N --dist loadgroup`` (the README's command): a file's tests stay on one worker,
    so its module-scoped fixtures (a sweep, a server) are built once; and all of ``tests/slurm``
    share one worker, so only one Slurm cluster runs at a time on the machine."""
    for item in items:
        path = item.path.relative_to(config.rootpath).as_posix()
        group = "slurm" if path.startswith("tests/slurm/") else path
        item.add_marker(pytest.mark.xdist_group(group))

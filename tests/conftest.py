"""Every test starts without MLflow's run selection in its own environment; and how the suite
is shared between ``pytest -n`` workers.

``MLFLOW_TRACKING_URI`` outranks nnexp's default store (as in MLflow), and a test that calls
``mlflow.set_tracking_uri`` directly leaves it in ``os.environ``: a later in-process command
would then read that test's store. Tests that mean to set it do so with ``monkeypatch``; what a
test leaks anyway is removed when it ends, so that no later test (not even one that calls
``monkeypatch.undo()``) can bring it back.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from nnexp_testing import MLFLOW_ENV


@pytest.fixture(autouse=True)
def _no_mlflow_run_selection(monkeypatch: pytest.MonkeyPatch):
    for name in MLFLOW_ENV:
        monkeypatch.delenv(name, raising=False)
    yield
    for name in MLFLOW_ENV:
        os.environ.pop(name, None)


#: Seconds each group took (setup + call + teardown of its tests, summed), measured on the
#: 2-core CI machine; rewrite it with ``NNEXP_RECORD_GROUP_SECONDS=tests/group_seconds.json
#: python -m pytest -n auto --dist loadgroup``. Only the order of the groups depends on it.
GROUP_SECONDS = Path(__file__).with_name("group_seconds.json")
RECORD_ENV = "NNEXP_RECORD_GROUP_SECONDS"
_measured: dict[str, float] = {}


def _group(config: pytest.Config, item: pytest.Item) -> str:
    """``item``'s xdist group: its file (module-scoped fixtures built once), or ``slurm`` for
    every test of ``tests/slurm`` (one cluster at a time)."""
    path = item.path.relative_to(config.rootpath).as_posix()
    return "slurm" if path.startswith("tests/slurm/") else path


def _loadgroup(config: pytest.Config) -> bool:
    """``--dist loadgroup``, in the controller (``dist``) or a worker (xdist sets ``loadgroup``
    there and ``dist`` to ``no``)."""
    return getattr(config.option, "dist", "no") == "loadgroup" or bool(
        getattr(config.option, "loadgroup", False)
    )


def pytest_configure(config: pytest.Config) -> None:
    """Hand the groups to the workers longest first (the order the collection hook gives),
    rather than xdist's default, most tests first: a few long groups (the kill tests, the
    README walk-through, the Slurm cluster) started last made the suite's tail."""
    if getattr(config.option, "dist", "no") == "loadgroup":
        config.option.loadscopereorder = False


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``-n N --dist loadgroup`` (the README's command): a file's tests stay on one worker,
    so its module-scoped fixtures (a sweep, a server) are built once; and all of ``tests/slurm``
    share one worker, so only one Slurm cluster runs at a time on the machine. The groups are
    ordered longest first (:data:`GROUP_SECONDS`; a group not measured yet counts a second per
    test), a file's tests keeping their order."""
    groups = {id(item): _group(config, item) for item in items}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[id(item)]))
    if not _loadgroup(config):
        return
    seconds = json.loads(GROUP_SECONDS.read_text()) if GROUP_SECONDS.exists() else {}
    counts = Counter(groups.values())
    weight = {group: seconds.get(group, float(count)) for group, count in counts.items()}
    items.sort(key=lambda item: -weight[groups[id(item)]])


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if os.environ.get(RECORD_ENV):
        group = report.nodeid.split("::")[0]
        group = "slurm" if group.startswith("tests/slurm/") else group
        _measured[group] = _measured.get(group, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get(RECORD_ENV)
    if target and _measured and not hasattr(session.config, "workerinput"):  # the controller
        ordered = dict(sorted(_measured.items(), key=lambda kv: -kv[1]))
        Path(target).write_text(
            json.dumps({k: round(v, 1) for k, v in ordered.items()}, indent=1) + "\n"
        )

"""The races of many machines starting at once, made tight with a barrier.

Each thread opens its own connections (its own :class:`DatabaseLock`), so to PostgreSQL they are
as separate as workers on separate machines; no local file lock is shared between them for the
database steps. Without the advisory lock, six launchers made six parent runs, and concurrent
``RDBStorage`` creation failed with ``duplicate key value violates unique constraint``.
"""

from __future__ import annotations

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.slow

LAUNCHERS = 6


def _together(task) -> list:
    barrier = threading.Barrier(LAUNCHERS)

    def run(index: int):
        prepared = task.prepare(index)
        barrier.wait(timeout=60)
        return task.race(prepared)

    with ThreadPoolExecutor(LAUNCHERS) as pool:
        return list(pool.map(run, range(LAUNCHERS)))


def test_optuna_schema_and_study_are_created_once_on_a_fresh_database(cluster) -> None:
    import optuna

    from nnexp.sweep.storage import load_study, open_storage, storage_location, sweep_lock

    database = "fresh_" + secrets.token_hex(4)
    cluster.postgres.createdb(database)
    url = cluster.postgres.uri(database)

    class Task:
        def prepare(self, index: int) -> None:
            return None

        def race(self, _: None) -> int:
            storage = open_storage(url, "race", None, heartbeat_interval=60)  # the schema
            with sweep_lock(storage_location(url, "race", None)[1]):  # then the study
                _, launch = load_study(storage, "race", ["minimize"], None, None, {"id": 1})
            storage.engine.dispose()
            return launch

    launches = _together(Task())
    assert sorted(launches) == list(range(LAUNCHERS))  # one study, each launch counted once
    studies = optuna.get_all_study_names(optuna.storages.RDBStorage(url))
    assert studies == ["race"]


def test_the_parent_run_is_created_once_by_launchers_starting_together(cluster) -> None:
    from omegaconf import OmegaConf

    from nnexp.sweep.config import ParamSpec, SweepConfig
    from nnexp.sweep.storage import DatabaseLock, sweep_lock
    from nnexp.tracking.sweep_runs import SweepRuns

    url = cluster.postgres.uri("optuna")
    tracking = OmegaConf.create(
        {
            "uri": cluster.server.url,
            "experiment_name": cluster.experiment,
            "artifact_location": None,
        }
    )
    spec = SweepConfig(name="lr", space={"lr": ParamSpec(key="optimizer.lr", low=1e-3, high=1.0)})

    class Task:
        def prepare(self, index: int) -> SweepRuns:
            return SweepRuns(tracking, cluster.study, url)

        def race(self, runs: SweepRuns) -> str:
            with sweep_lock(DatabaseLock(url, cluster.study)):
                return runs.open_parent(spec, "python -m nnexp +sweep=lr", "name: lr")

    parent_ids = _together(Task())
    assert len(set(parent_ids)) == 1
    parents, _ = cluster.parents_and_children()
    assert [p.info.run_id for p in parents] == parent_ids[:1]
    assert parents[0].data.tags["nnexp.storage"] == cluster.postgres.uri("optuna", password="***")

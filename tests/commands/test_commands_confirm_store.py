"""``confirm PARENT_ID`` without ``--tracking-uri`` re-runs the sweep on the default store.

Regression (found by tests/readme): the README's ``python -m nnexp confirm PARENT_ID`` passed
``tracking.uri=None`` to the re-run, which refused it (exit 2).
"""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

import nnexp.cli
from nnexp.commands import confirm


@pytest.fixture
def sweep_parent(tmp_path, monkeypatch):
    """A sweep parent (as the sweep driver tags it) in the working folder's default store."""
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("nnexp")
    run = client.create_run(
        experiment_id,
        tags={"nnexp.kind": "sweep", "command": "python -m nnexp +sweep=lr data=spirals"},
    )
    client.set_terminated(run.info.run_id)
    calls: list[list[str]] = []
    monkeypatch.setattr(nnexp.cli, "main", lambda overrides: calls.append(overrides) or 0)
    return run.info.run_id, uri, calls


def test_confirm_without_tracking_uri_leaves_the_store_to_the_default(sweep_parent):
    run_id, _, calls = sweep_parent
    assert confirm.main([run_id, "--top-k", "1", "--seeds", "2"]) == 0
    assert calls == [
        [
            "+sweep=lr",
            "data=spirals",
            "sweep.confirm.top_k=1",
            "sweep.confirm.seeds=2",
            "sweep.confirm.baseline=true",
        ]
    ]


def test_confirm_with_tracking_uri_passes_it_on(sweep_parent):
    run_id, uri, calls = sweep_parent
    assert confirm.main([run_id, "--tracking-uri", uri]) == 0
    assert calls[0][-1] == f"tracking.uri={uri}"


def test_confirm_on_a_run_that_is_not_a_sweep_parent_says_what_it_is(sweep_parent):
    """Regression: a single run's id gave ``is a run run, not a sweep's parent``."""
    from nnexp.errors import NnexpError

    _, uri, calls = sweep_parent
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.get_experiment_by_name("nnexp").experiment_id
    # one store for every case: creating an MLflow database takes seconds
    for kind, words in (
        ("run", "a single run"),
        (None, "a single run"),
        ("trial", "a sweep's trial"),
    ):
        tags = {} if kind is None else {"nnexp.kind": kind}
        run = client.create_run(experiment_id, run_name="one", tags=tags)
        with pytest.raises(NnexpError) as raised:
            confirm.main([run.info.run_id])
        assert str(raised.value) == (
            f"confirm: run {run.info.run_id} (one) is {words}, not a sweep's parent "
            "(python -m nnexp runs lists the parents)"
        )
    assert calls == []

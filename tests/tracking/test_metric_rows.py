"""The fast metric writer leaves a SQL store exactly as ``MlflowClient.log_batch`` would."""

from __future__ import annotations

import sqlite3

import pytest
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from nnexp.tracking.client import tracking_client
from nnexp.tracking.metric_rows import log_metric_points

INF = float("inf")
BATCHES = [
    [Metric("loss", 0.9, 1000, 1), Metric("loss", 0.7, 1001, 2), Metric("acc", 0.5, 1000, 1)],
    [
        Metric("loss", 0.5, 1002, 3),
        Metric("layer1/grad_norm", float("nan"), 1002, 3),
        Metric("big", INF, 1002, 3),
        Metric("small", -INF, 1002, 3),
    ],
    # an older step logged later does not become the latest; a newer timestamp at the same
    # step does; NaN after a number at a greater step does
    [
        Metric("loss", 0.1, 1003, 2),
        Metric("acc", 0.8, 1005, 1),
        Metric("layer1/grad_norm", float("nan"), 1004, 4),
        Metric("final_val_loss", 0.25, 1006, 0),
    ],
]


def _store(tmp_path, name):
    uri = f"sqlite:///{tmp_path / name}.db"
    client = tracking_client(uri)
    run_id = client.create_run("0").info.run_id
    return uri, client, run_id


def _rows(uri: str, table: str, run_id: str) -> list[tuple]:
    with sqlite3.connect(uri.removeprefix("sqlite:///")) as db:
        return db.execute(
            f"SELECT key, value, timestamp, step, is_nan FROM {table} WHERE run_uuid = ? "
            "ORDER BY key, step, timestamp, value",
            (run_id,),
        ).fetchall()


def test_the_rows_and_latest_values_are_log_batchs(tmp_path, monkeypatch):
    fast_uri, fast, fast_run = _store(tmp_path, "fast")
    ref_uri, ref, ref_run = _store(tmp_path, "ref")
    calls = []
    monkeypatch.setattr(type(fast), "log_batch", lambda *a, **k: calls.append(a))
    for batch in BATCHES:
        log_metric_points(fast, fast_run, batch)
    monkeypatch.undo()
    assert calls == []  # the fast path wrote every batch
    for batch in BATCHES:
        ref.log_batch(ref_run, metrics=batch)
    for table in ("metrics", "latest_metrics"):
        assert _rows(fast_uri, table, fast_run) == _rows(ref_uri, table, ref_run)
    assert len(_rows(fast_uri, "metrics", fast_run)) == 11
    assert fast.get_run(fast_run).data.metrics == pytest.approx(
        ref.get_run(ref_run).data.metrics, nan_ok=True
    )
    assert fast.get_run(fast_run).data.metrics["loss"] == 0.5
    assert fast.get_run(fast_run).data.metrics["acc"] == 0.8
    history = [(m.step, m.value) for m in fast.get_metric_history(fast_run, "loss")]
    assert sorted(history) == [(1, 0.9), (2, 0.1), (2, 0.7), (3, 0.5)]


def test_a_duplicate_point_falls_back_to_log_batch(tmp_path):
    fast_uri, fast, fast_run = _store(tmp_path, "fast")
    ref_uri, ref, ref_run = _store(tmp_path, "ref")
    point = [Metric("loss", 0.9, 1000, 1)]
    for _ in range(2):
        log_metric_points(fast, fast_run, point)
        ref.log_batch(ref_run, metrics=point)
    assert _rows(fast_uri, "metrics", fast_run) == _rows(ref_uri, "metrics", ref_run)
    assert len(_rows(fast_uri, "metrics", fast_run)) == 1


def test_a_deleted_run_is_refused_as_log_batch_refuses_it(tmp_path):
    uri, client, run_id = _store(tmp_path, "fast")
    client.delete_run(run_id)
    with pytest.raises(MlflowException, match="must be in the 'active' state"):
        log_metric_points(client, run_id, [Metric("loss", 0.9, 1000, 1)])
    assert _rows(uri, "metrics", run_id) == []

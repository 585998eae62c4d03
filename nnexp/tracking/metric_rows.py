"""Metric points written to a SQL tracking store as rows in one statement, not ORM objects.

Why: ``MlflowClient.log_batch`` on a SQL store (SQLite, PostgreSQL, MySQL) turns every metric
point into an ORM object and walks them one by one to keep the ``latest_metrics`` table
current: 75-300 us per point on these machines. A default run with the per-layer statistics
logs about 2,900 points (29 metrics x 100 epochs), so MLflow's ORM cost more than the training
itself. Here the same rows go in with one ``executemany`` (about 5 us per point), and the latest
value of each key is computed once per batch, with MLflow's own rule (the greatest ``(step,
timestamp, value)`` wins), against the stored one.

What is written is exactly what ``log_batch`` writes (``tests/tracking/test_metric_rows.py``
compares the two stores row for row): the same tables, the same columns, NaN as ``value=0,
is_nan=1``, infinities as the largest finite doubles, through MLflow's own table definitions. It
is used only where it can be: a SQL store reached directly (not an ``http://`` server, whose
REST API is the contract), points without a logged-model id, a run that is not deleted.
Anything else, and any error (a duplicate point, a schema this code does not know), falls back
to ``log_batch``, which stays the reference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: The columns of MLflow's ``metrics`` and ``latest_metrics`` tables this code writes.
COLUMNS = ("key", "value", "timestamp", "step", "is_nan", "run_uuid")


def log_metric_points(client: Any, run_id: str, points: Sequence[Any]) -> None:
    """Write ``points`` (``mlflow.entities.Metric``) to the run: fast when the store allows."""
    if not points:
        return
    store = _sql_store(client)
    if store is not None and not any(getattr(p, "model_id", None) for p in points):
        try:
            _insert(store, run_id, points)
            return
        except Exception:  # log_batch is the reference: it decides what fails
            pass
    for start in range(0, len(points), 1000):
        client.log_batch(run_id, metrics=list(points[start : start + 1000]))


def _sql_store(client: Any) -> Any:
    """The client's ``SqlAlchemyStore`` with the tables this code knows, else None."""
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if store is None or type(store).__name__ != "SqlAlchemyStore":
        return None
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric

    for model in (SqlMetric, SqlLatestMetric):
        if not set(COLUMNS) <= set(model.__table__.columns.keys()):
            return None
    return store


def _row(point: Any, run_id: str) -> dict[str, Any]:
    value = float(point.value)
    is_nan = math.isnan(value)
    if is_nan:
        value = 0.0
    elif math.isinf(value):
        value = math.copysign(1.7976931348623157e308, value)
    return {
        "key": point.key,
        "value": value,
        "timestamp": int(point.timestamp),
        "step": int(point.step or 0),
        "is_nan": is_nan,
        "run_uuid": run_id,
    }


def _insert(store: Any, run_id: str, points: Sequence[Any]) -> None:
    from mlflow.entities import LifecycleStage
    from mlflow.exceptions import MlflowException
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlRun
    from mlflow.utils.validation import _validate_metric

    rows = []
    for index, point in enumerate(points):
        _validate_metric(point.key, point.value, point.timestamp, point.step, f"metrics[{index}]")
        rows.append(_row(point, run_id))
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:
        held = newest.get(row["key"])
        if held is None or _order(row) > _order(held):
            newest[row["key"]] = row
    with store.ManagedSessionMaker(read_only=False) as session:
        run = session.get(SqlRun, run_id)
        if run is None or run.lifecycle_stage != LifecycleStage.ACTIVE:
            raise MlflowException(f"run {run_id} is not active")
        session.execute(SqlMetric.__table__.insert(), rows)
        stored = {
            latest.key: latest
            for latest in session.query(SqlLatestMetric)
            .filter(SqlLatestMetric.run_uuid == run_id, SqlLatestMetric.key.in_(sorted(newest)))
            .order_by(SqlLatestMetric.key)
            .with_for_update()
        }
        for key in sorted(newest):
            row, latest = newest[key], stored.get(key)
            if latest is None:
                session.add(SqlLatestMetric(**row))
            elif _order(row) > (latest.step, latest.timestamp, latest.value):
                latest.value, latest.timestamp = row["value"], row["timestamp"]
                latest.step, latest.is_nan = row["step"], row["is_nan"]


def _order(row: dict[str, Any]) -> tuple[int, int, float]:
    """MLflow's recency: the greatest (step, timestamp, value) is the latest value of a key."""
    return (row["step"], row["timestamp"], row["value"])

"""MLflow's run-selection variables other than the store: ``MLFLOW_EXPERIMENT_ID`` and
``MLFLOW_RUN_ID`` (``MLFLOW_TRACKING_URI`` and ``MLFLOW_EXPERIMENT_NAME`` are chosen in
:mod:`nnexp.project`).

``MLFLOW_EXPERIMENT_ID`` is honoured as MLflow's ``start_run`` does: after
``MLFLOW_EXPERIMENT_NAME`` (both given must name the same experiment), and it must exist.
``MLFLOW_RUN_ID`` is refused before any run: MLflow would resume that run, but nnexp makes its
own runs (a sweep or a multirun makes several), and logging them into one existing run would mix
their params and metrics.
"""

from __future__ import annotations

import os
from typing import Any

from nnexp.errors import TrackingError
from nnexp.project import EXPERIMENT_ENV, EXPERIMENT_ID_ENV, RUN_ID_ENV
from nnexp.redact import redact


def refuse_run_id() -> None:
    """One line, before any run, when ``MLFLOW_RUN_ID`` is set."""
    run_id = os.environ.get(RUN_ID_ENV, "").strip()
    if run_id:
        raise TrackingError(
            f"{RUN_ID_ENV}={redact(run_id)!r} is set: nnexp records each run as a new MLflow run "
            "and does not resume another; unset it (env -u MLFLOW_RUN_ID python -m nnexp ...)"
        )


def experiment_by_id(client: Any, experiment_id: str, uri: str) -> Any:
    """The experiment ``$MLFLOW_EXPERIMENT_ID`` names in the store at ``uri``; refused if none."""
    try:
        experiment = client.get_experiment(experiment_id)
    except Exception:  # MLflow raises for an unknown or malformed id
        experiment = None
    if experiment is None or experiment.lifecycle_stage == "deleted":
        names = [f"{e.experiment_id} ({e.name})" for e in client.search_experiments()]
        raise TrackingError(
            f"{EXPERIMENT_ID_ENV}={experiment_id!r} is invalid: no such experiment in "
            f"{redact(uri)}; valid ids: {', '.join(names)}"
        )
    return experiment


def check_name_matches_id(experiment: Any) -> None:
    """``MLFLOW_EXPERIMENT_NAME`` and ``MLFLOW_EXPERIMENT_ID`` both set must agree (MLflow's
    rule); ``experiment`` is the one the name chose (None: not created yet)."""
    wanted = os.environ.get(EXPERIMENT_ID_ENV, "").strip()
    if wanted and experiment is not None and experiment.experiment_id != wanted:
        raise TrackingError(
            f"{EXPERIMENT_ID_ENV}={wanted!r} is invalid: {EXPERIMENT_ENV}="
            f"{experiment.name!r} is experiment {experiment.experiment_id}; unset one of them"
        )

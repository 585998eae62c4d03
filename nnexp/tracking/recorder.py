"""One MLflow run, from creation to a terminal status, with metrics written in batches.

Why batches: one ``log_metric`` round trip costs about 3 ms on SQLite, so a 100-epoch run with
ten metrics would spend 3 s on tracking; ``MlflowClient.log_batch`` writes 1000 points in about
0.07 s. Epoch records are buffered and flushed every few seconds (so the UI shows live curves of
long runs) and at the end.

Why a context manager: whatever happens inside (an exception, Ctrl-C, SIGTERM, an Optuna
``TrialPruned``), the run leaves RUNNING exactly once, with the status that says what happened:
FINISHED, FAILED (with the error as the ``error`` tag) or KILLED.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nnexp.epoch_thinning import EpochThinner
from nnexp.errors import TrackingError
from nnexp.redact import redact
from nnexp.tracking.reaper import process_tags
from nnexp.tracking.store import Store, set_fluent_uri
from nnexp.tracking.store import sqlite_path as sqlite_db

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAG_LENGTH = 5000
FLUSH_SECONDS = 5.0
#: seconds to wait before each new attempt to end a run whose store is transiently locked
TERMINATE_RETRY_WAITS = (0.5, 1.0, 2.0, 4.0)
#: Not logged per epoch: the step itself, and the epoch's wall time (noise that would cost a
#: sixth of a run's metric points; it stays in history.csv, and ``train_time`` is logged).
SKIPPED_EPOCH_KEYS = ("epoch", "epoch_time")

#: Exceptions that end a run with a non-failed status, by class name, mapped to
#: (status, trial_state). A pruned Optuna trial must not look like a crash in the UI.
SOFT_STOPS = {"TrialPruned": ("FINISHED", "PRUNED")}

_open_runs: dict[str, RunRecorder] = {}


class RunRecorder:
    """Create an MLflow run on enter; end it with the right status on exit.

    ``on_epoch_end(record)`` makes the recorder a training callback: each numeric value of the
    record becomes a metric point with ``step=epoch`` (every ``log_every``-th epoch, plus the
    first and the last: :mod:`nnexp.epoch_thinning`).
    """

    def __init__(
        self,
        store: Store,
        *,
        run_name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        parent_run_id: str | None = None,
        description: str | None = None,
        log_every: int = 1,
    ) -> None:
        self.store = store
        self.run_name = redact(run_name) if run_name else run_name
        # who runs it: if this process is killed with SIGKILL, the next one ends the run
        tags = {**process_tags(), **(tags or {})}
        self.tags = {key: _tag_value(value) for key, value in tags.items()}
        self.parent_run_id = parent_run_id
        self.description = redact(description) if description else description
        self.run_id: str | None = None
        self.status: str | None = None
        self._pending: list[Any] = []
        #: the metric points logged at step 0 (the run's results), as logged: a logged model
        #: is linked to exactly these (:func:`nnexp.tracking.pyfunc.log_pyfunc_model`)
        self.step0_metrics: list[Any] = []
        self._pending_tags: dict[str, str] = {}
        self._epochs = EpochThinner(log_every)
        self._last_flush = 0.0
        self._client: Any = None

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> RunRecorder:
        from nnexp.tracking.client import tracking_client

        self._client = tracking_client(self.store.uri)
        set_fluent_uri(self.store.uri)  # mlflow.pyfunc.log_model writes through the fluent API
        # One round trip, without the fluent API's context probes; the UI's user and source
        # columns are set here instead. No fluent run is started: a model is linked to its run
        # explicitly (nnexp.tracking.pyfunc), so no run is ever "active" by accident.
        tags = {**source_tags(), **self.tags}
        if self.parent_run_id:
            tags["mlflow.parentRunId"] = self.parent_run_id
        if self.description:
            tags["mlflow.note.content"] = self.description
        run = self._client.create_run(self.store.experiment_id, run_name=self.run_name, tags=tags)
        self.run_id = run.info.run_id
        _open_runs[self.run_id] = self
        self._last_flush = time.monotonic()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.end(exc)

    def end(self, exc: BaseException | None = None) -> None:
        """Flush, tag and terminate the run (idempotent)."""
        if self.run_id is None or self.status is not None:
            return
        from nnexp.tracking import reserve

        status, tags = _terminal_status(exc)
        full = reserve.is_disk_full(exc)
        try:
            if not full:  # nothing more fits on a full disk: just end the run
                held = self._epochs.last()  # the last epoch, if thinning held it back
                if held is not None:
                    self.log_metrics(held[1], step=held[0])
                self.queue_tags(tags)
                self.flush()
        except BaseException as err:  # a second Ctrl-C mid-flush still ends the run
            if not reserve.is_disk_full(err):
                self._terminate(status)
                raise
            full = True
        if full:  # the reserve next to a SQLite store makes room to end the run (reserve.py)
            freed = reserve.release(sqlite_db(self.store.uri))
            status = "FAILED"
            with contextlib.suppress(Exception):
                self._client.set_tag(self.run_id, "error", "disk full (no space left on device)")
            try:
                self._terminate(status)
            except Exception as err:
                if not reserve.is_disk_full(err):
                    raise
                freed = False
            else:
                freed = True
            raise TrackingError(
                reserve.disk_full_message(self.store.uri, self.run_id, ended=freed)
            ) from None
        self._terminate(status)

    def _terminate(self, status: str) -> None:
        """End the run, retrying while SQLite says ``database is locked``: a read transaction
        upgrading to a write gets that at once under concurrent writers (no busy timeout), and a
        run left RUNNING by a live process (a sweep worker going on) is one no reaper ends."""
        self.status = status
        _open_runs.pop(self.run_id, None)
        for wait in (*TERMINATE_RETRY_WAITS, None):
            try:
                self._client.set_terminated(self.run_id, status=status)
                return
            except Exception as err:
                if wait is None or not _store_locked(err):
                    raise
                time.sleep(wait)

    # -- writing ----------------------------------------------------------------------------
    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(key, redact(str(value))[:6000]) for key, value in params.items()]
        for start in range(0, len(items), MAX_PARAMS_PER_BATCH):
            self._client.log_batch(self.run_id, params=items[start : start + MAX_PARAMS_PER_BATCH])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(key, _tag_value(value)) for key, value in tags.items()]
        for start in range(0, len(items), MAX_PARAMS_PER_BATCH):
            self._client.log_batch(self.run_id, tags=items[start : start + MAX_PARAMS_PER_BATCH])

    def queue_tags(self, tags: Mapping[str, Any]) -> None:
        """Tags written with the next metrics flush (at the latest when the run ends): one round
        trip fewer than :meth:`set_tags`."""
        self._pending_tags.update({key: _tag_value(value) for key, value in tags.items()})

    def log_metrics(self, metrics: Mapping[str, float], step: int = 0) -> None:
        """Queue metrics (non-finite values are skipped: NaN is never reported as a result)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for key, value in metrics.items():
            if value is None:
                continue
            value = float(value)
            if value == value and abs(value) != float("inf"):
                point = Metric(key, value, now, int(step))
                self._pending.append(point)
                if point.step == 0:
                    self.step0_metrics.append(point)
        if len(self._pending) >= MAX_METRICS_PER_BATCH:
            self.flush()

    def on_epoch_end(self, record: Mapping[str, Any]) -> None:
        """Training callback: queue the epoch's numeric values at ``step=epoch``."""
        epoch = int(record["epoch"])
        values = {k: v for k, v in record.items() if k not in SKIPPED_EPOCH_KEYS and _is_number(v)}
        kept = self._epochs.take(epoch, values)
        if kept is not None:
            self.log_metrics(kept, step=epoch)
        if time.monotonic() - self._last_flush > FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the queued metrics (rows in one statement where the store allows:
        :mod:`nnexp.tracking.metric_rows`), then the queued tags."""
        from mlflow.entities import RunTag

        from nnexp.tracking.metric_rows import log_metric_points

        pending, self._pending = self._pending, []
        tags = [RunTag(key, value) for key, value in self._pending_tags.items()]
        self._pending_tags = {}
        log_metric_points(self._client, self.run_id, pending)
        for start in range(0, len(tags), MAX_PARAMS_PER_BATCH):
            self._client.log_batch(self.run_id, tags=tags[start : start + MAX_PARAMS_PER_BATCH])
        self._last_flush = time.monotonic()

    def log_artifacts(self, folder: str | Path, artifact_path: str | None = None) -> None:
        """Every file of ``folder``, in one call (one call per file costs a few ms each)."""
        self._client.log_artifacts(self.run_id, str(folder), artifact_path)

    def log_inputs(self, datasets: list[tuple[Any, str]]) -> None:
        """Log ``(mlflow Dataset, context)`` pairs as the run's inputs."""
        from mlflow.entities import DatasetInput, InputTag

        inputs = [
            DatasetInput(dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", context)])
            for dataset, context in datasets
        ]
        try:
            self._client.log_inputs(self.run_id, inputs)
        except Exception as exc:  # another process inserted the same data set meanwhile
            if "UNIQUE constraint failed: datasets" not in str(exc):
                raise
            time.sleep(0.2)  # MLflow looks the data set up first: the second call finds it
            self._client.log_inputs(self.run_id, inputs)


def source_tags() -> dict[str, str]:
    """The MLflow UI's user and source columns, as ``mlflow.start_run`` would set them."""
    import getpass
    import sys

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name for this uid (containers)
        user = "unknown"
    return {
        "mlflow.user": user,
        "mlflow.source.name": sys.argv[0] or "python",
        "mlflow.source.type": "LOCAL",
    }


def _store_locked(err: BaseException) -> bool:
    """Whether ``err`` is SQLite's transient ``database is locked`` (or ``busy``)."""
    text = str(err).lower()
    return "database is locked" in text or "database is busy" in text


def end_open_runs(exc: BaseException | None) -> None:
    """End every run still open in this process (used on SIGTERM and at exit)."""
    for recorder in list(_open_runs.values()):
        recorder.end(exc)


def _terminal_status(exc: BaseException | None) -> tuple[str, dict[str, str]]:
    if exc is None:
        return "FINISHED", {}
    soft = SOFT_STOPS.get(type(exc).__name__)
    if soft is not None:
        status, state = soft
        return status, {"trial_state": state}
    if isinstance(exc, KeyboardInterrupt):
        return "KILLED", {"error": f"interrupted ({type(exc).__name__})"}
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return "FAILED", {"error": f"{type(exc).__name__}: {message}"}


def _tag_value(value: Any) -> str:
    return redact(str(value))[:MAX_TAG_LENGTH]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

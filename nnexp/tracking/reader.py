"""Read runs back from an MLflow store: the only MLflow access of ``reproduce``, ``runs``, ``compare``.

Everything returned is plain Python (:class:`RunRecord`, lists of ``(step, value)``), so the
commands never see MLflow types. Opening a store never creates one: a missing SQLite file is a
one-line :class:`~nnexp.errors.TrackingError`, not a fresh empty database. Run ids may be given
as unique prefixes (the ``runs`` table shows 8 characters).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnexp.errors import NnexpError, TrackingError, first_line
from nnexp.redact import redact
from nnexp.tracking.store import (
    DATABASE_SCHEMES,
    check_database,
    check_server,
    check_sqlite_file,
    resolve_uri,
    sqlite_path,
)

PARENT_TAG = "mlflow.parentRunId"
MIN_PREFIX = 4
PAGE_SIZE = 1000


@dataclass
class RunRecord:
    """One run as stored: ``metrics`` holds MLflow's latest value of each metric."""

    run_id: str
    name: str
    experiment_id: str
    status: str
    start_time: int
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def parent_id(self) -> str | None:
        return self.tags.get(PARENT_TAG)

    @property
    def kind(self) -> str:
        """``run``, ``trial``, ``sweep``, ``multirun``, ``reproduction`` (the ``nnexp.kind`` tag)."""
        return self.tags.get("nnexp.kind", "run")


class StoreReader:
    """Read access to the MLflow store at ``uri`` (relative SQLite paths resolve against cwd)."""

    def __init__(self, uri: str | None):
        from nnexp.project import tracking_uri

        #: ``--tracking-uri``, ``MLFLOW_TRACKING_URI`` or ``default``
        self.source = tracking_uri(uri, "--tracking-uri").source
        self.uri = resolve_uri(uri, "--tracking-uri")
        db = sqlite_path(self.uri)
        if db is not None and not db.exists():
            raise TrackingError(
                f"no MLflow store at {db} (record a run first, or pass --tracking-uri)"
            )
        if db is not None:
            check_sqlite_file(db)
        if self.uri.startswith(("http://", "https://")):
            check_server(self.uri)
        if self.uri.split("://", 1)[0].split("+", 1)[0].lower() in DATABASE_SCHEMES:
            check_database(self.uri)  # MLflow itself retries a dead database for 100 s
        from nnexp.tracking.client import tracking_client

        try:  # MLflow may open its store now or on first use; a refused one (file:// in MLflow
            # 3, a server's unknown store) must be one line here, not a crash in the command
            self._client = tracking_client(self.uri)
            self._client.search_experiments(max_results=1)
        except Exception as exc:  # MLflow raises many kinds; all mean "store unusable"
            raise TrackingError(
                f"cannot open MLflow store {self.display_uri}: {_first_line(exc)}"
            ) from None

    @property
    def display_uri(self) -> str:
        return redact(self.uri)

    @property
    def described_uri(self) -> str:
        """The URI, and ``(from MLFLOW_TRACKING_URI)`` when the environment chose it."""
        note = f" (from {self.source})" if self.source.startswith("MLFLOW_") else ""
        return self.display_uri + note

    # -- runs -----------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> RunRecord:
        """The run with id ``run_id`` (or the only run whose id starts with it)."""
        run_id = run_id.strip()
        try:
            return _record(self._client.get_run(run_id))
        except Exception as exc:
            if not _is_missing(exc):
                raise TrackingError(f"cannot read run {run_id!r}: {_first_line(exc)}") from None
        matches = self._by_prefix(run_id) if len(run_id) >= MIN_PREFIX else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            ids = ", ".join(sorted(run.run_id for run in matches)[:5])
            raise NnexpError(f"run id {run_id!r} is ambiguous: it starts {ids}; give more of it")
        raise NnexpError(f"no run with id {run_id!r} in the MLflow store {self.display_uri}")

    def experiment_id(self, name: str) -> str:
        experiment = self._client.get_experiment_by_name(name)
        if experiment is None:
            names = ", ".join(sorted(e.name for e in self._client.search_experiments()))
            raise NnexpError(f"no experiment {name!r} in {self.display_uri}; experiments: {names}")
        return experiment.experiment_id

    def run_counts(self) -> dict[str, int]:
        """``{experiment name: number of active runs}`` (counted up to ``PAGE_SIZE``)."""
        counts = {}
        for experiment in self._client.search_experiments():
            page = self._client.search_runs([experiment.experiment_id], max_results=PAGE_SIZE)
            counts[experiment.name] = len(page)
        return counts

    def experiment_name(self, experiment_id: str) -> str:
        return self._client.get_experiment(experiment_id).name

    def experiment_name_from_env_id(self, experiment_id: str) -> str:
        """The name of the experiment ``$MLFLOW_EXPERIMENT_ID`` names; refused if none."""
        from nnexp.tracking.mlflow_env import experiment_by_id

        return experiment_by_id(self._client, experiment_id, self.display_uri).name

    def search(self, experiment_ids: list[str], filter_string: str = "") -> list[RunRecord]:
        """All active runs of the experiments matching ``filter_string``, newest first."""
        runs: list[RunRecord] = []
        token = None
        while True:
            page = self._client.search_runs(
                experiment_ids,
                filter_string=filter_string,
                max_results=PAGE_SIZE,
                order_by=["attributes.start_time DESC"],
                page_token=token,
            )
            runs.extend(_record(run) for run in page)
            token = page.token
            if not token:
                return runs

    def children(self, parent: RunRecord) -> list[RunRecord]:
        """The child runs (sweep trials, multirun jobs) of ``parent``."""
        return self.search([parent.experiment_id], f"tags.`{PARENT_TAG}` = '{parent.run_id}'")

    # -- metrics and artifacts ---------------------------------------------------------------------
    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """Every stored point of ``key`` as ``(step, value)``, by step then time of logging."""
        points = self._client.get_metric_history(run_id, key)
        points = sorted(points, key=lambda m: (m.step, m.timestamp))
        return [(int(m.step), float(m.value)) for m in points]

    def read_bytes(self, run_id: str, artifact: str, limit: int) -> bytes | None:
        """The bytes of artifact ``artifact`` of the run (None if there is no such file).

        A record is not trusted: past ``limit`` bytes the result is cut to ``limit + 1`` bytes
        (the caller refuses it), and a file the store lists as larger is not downloaded.
        """
        found = [item for item in self._client.list_artifacts(run_id) if item.path == artifact]
        if not found:
            return None
        if found[0].file_size is not None and found[0].file_size > limit:
            return b"\0" * (limit + 1)
        with tempfile.TemporaryDirectory(prefix="nnexp-read-") as tmp:
            local = self._client.download_artifacts(run_id, artifact, tmp)
            with Path(local).open("rb") as handle:
                return handle.read(limit + 1)

    def download(self, run_id: str, artifact: str, folder: str | Path) -> Path | None:
        """Artifact ``artifact`` of the run downloaded into ``folder``, or None if it has none."""
        names = {item.path for item in self._client.list_artifacts(run_id)}
        if artifact not in names:
            return None
        return Path(self._client.download_artifacts(run_id, artifact, str(folder)))

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        """Tag a finished run (``reproduce --record`` marks its verdict this way)."""
        for key, value in tags.items():
            self._client.set_tag(run_id, key, redact(str(value)))

    # -- internals ---------------------------------------------------------------------------------
    def _by_prefix(self, prefix: str) -> list[RunRecord]:
        if not all(c in "0123456789abcdef" for c in prefix.lower()):
            return []
        ids = [e.experiment_id for e in self._client.search_experiments()]
        return self.search(ids, f"attributes.run_id LIKE '{prefix.lower()}%'") if ids else []


def _record(run: Any) -> RunRecord:
    info, data = run.info, run.data
    return RunRecord(
        run_id=info.run_id,
        name=info.run_name or "",
        experiment_id=info.experiment_id,
        status=info.status,
        start_time=int(info.start_time or 0),
        params=dict(data.params),
        metrics={key: float(value) for key, value in data.metrics.items()},
        tags=dict(data.tags),
    )


def _is_missing(exc: BaseException) -> bool:
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def _first_line(exc: BaseException) -> str:
    return redact(first_line(exc))

"""Open an MLflow store: resolve the URI, create the database and experiment once, safely.

Two processes creating a new SQLite ``mlflow.db`` at the same moment leave it half-migrated, so
the first contact with a store happens under an exclusive file lock. The lock lives next to a
SQLite database, or in the temp directory (keyed by the URI) for other stores. A new SQLite store
is built in a temporary file and renamed into place, so a process killed while MLflow creates
its tables (SIGKILL) leaves no store, never a half-migrated one that no MLflow can open. An
unreachable database fails at once (:func:`check_database`), not after MLflow's retries. Runs left
RUNNING by a local process that was killed are ended KILLED (:mod:`nnexp.tracking.reaper`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnexp.errors import TrackingError, first_line
from nnexp.locks import file_lock
from nnexp.redact import redact

SQLITE_PREFIX = "sqlite:///"
#: What MLflow 3.17 opens as a tracking store (its file store, ``file://`` or a bare folder,
#: raises "maintenance mode" unless MLFLOW_ALLOW_FILE_STORE=true; nnexp refuses it first).
LOCAL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks")
DATABASE_SCHEMES = ("postgresql", "mysql", "mssql")


#: MLflow's experiment-type tag: nnexp trains models (not GenAI apps). MLflow 3.17's UI does not
#: choose the landing page from it (its GenAI / Model training switch does, see
#: nnexp.report.runs_url); MlflowClient users and the UI's type selector of older MLflow read it.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
SQLITE_HEADER = b"SQLite format 3\x00"
#: Free space a SQLite store's disk must have before a run starts: a run writes some hundreds of
#: kB (metrics, artifacts, the model); below this the run would die half-written.
MIN_FREE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Store:
    """A resolved tracking store and the experiment runs go to."""

    uri: str
    experiment_id: str
    experiment_name: str
    #: where the URI came from: ``tracking.uri``, ``MLFLOW_TRACKING_URI`` or ``default``
    source: str = "tracking.uri"

    @property
    def display_uri(self) -> str:
        return redact(self.uri)


def resolve_uri(uri: str | None, flag: str = "tracking.uri") -> str:
    """The tracking URI to use (``uri``, else ``$MLFLOW_TRACKING_URI``, else the project's
    default store, see :mod:`nnexp.project`), with a relative ``sqlite:///path`` made absolute
    against the working directory, and checked. An error names ``flag`` (``tracking.uri``,
    ``--tracking-uri``) or the variable the URI came from."""
    from nnexp.project import tracking_uri

    chosen = tracking_uri(uri, flag)
    uri, key = chosen.value.strip(), chosen.source
    if "://" in uri:  # schemes are case-insensitive (RFC 3986): HTTP:// is http://
        head, rest = uri.split("://", 1)
        uri = f"{head.lower()}://{rest}"
    scheme = uri.split("://", 1)[0].split("+", 1)[0] if "://" in uri else ""
    valid = ", ".join(s + "://" for s in LOCAL_SCHEMES)
    if scheme in ("", "file") and file_store_allowed():
        return uri  # MLflow's file store, which its MLFLOW_ALLOW_FILE_STORE=true still opens
    if scheme in ("", "file"):  # MLflow's file store: refused by MLflow 3.17 itself
        folder = uri[len("file://") :] if scheme == "file" else uri
        raise TrackingError(
            f"{key}={redact(uri)!r} is invalid: a folder is MLflow's file store, which MLflow "
            f"3.17 refuses (maintenance mode) unless MLFLOW_ALLOW_FILE_STORE=true; use a database such as "
            f"sqlite:///{redact(folder.rstrip('/') or '.')}/mlflow.db (valid: {valid})"
        )
    if scheme not in LOCAL_SCHEMES:
        raise TrackingError(
            f"{key}={redact(uri)!r} is invalid: expected a URI starting with {valid}"
        )
    if uri.startswith(SQLITE_PREFIX):
        path = Path(uri[len(SQLITE_PREFIX) :])
        if not path.is_absolute():
            path = Path.cwd() / path
        return SQLITE_PREFIX + str(path)
    return uri


def file_store_allowed() -> bool:
    """MLflow's own switch for its deprecated file store (read as MLflow reads it, without
    importing MLflow)."""
    return os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").strip().lower() in ("true", "1")


def sqlite_path(uri: str) -> Path | None:
    return Path(uri[len(SQLITE_PREFIX) :]) if uri.startswith(SQLITE_PREFIX) else None


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive inter-process lock for first contact with the store at ``uri``."""
    db = sqlite_path(uri)
    if db is not None:
        lock_path = db.parent / f".{db.name}.lock"
    else:
        digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
        lock_path = Path(tempfile.gettempdir()) / f"nnexp-store-{digest}.lock"
    with file_lock(lock_path):
        yield


def open_store(
    uri: str | None, experiment_name: str | None, artifact_location: str | None
) -> Store:
    """Create (once) and open the store and experiment; raise :class:`TrackingError` if unusable.

    ``uri`` / ``experiment_name`` None: MLflow's environment variables, else the defaults
    (:mod:`nnexp.project`). ``artifact_location`` None: the default for the store
    (:func:`nnexp.tracking.artifacts.default_location`).
    """
    from nnexp.project import experiment_name as choose_experiment
    from nnexp.project import tracking_uri
    from nnexp.tracking import artifacts, mlflow_env

    mlflow_env.refuse_run_id()
    source = tracking_uri(uri).source
    uri = resolve_uri(uri)
    chosen_experiment = choose_experiment(experiment_name)
    experiment_name = chosen_experiment.value
    db = sqlite_path(uri)
    if db is not None:
        check_sqlite_location(db)
    if uri.startswith(("http://", "https://")):
        check_server(uri)
    if uri.split("://", 1)[0].split("+", 1)[0].lower() in DATABASE_SCHEMES:
        check_database(uri)
    if artifact_location:  # before MLflow loads: an unusable location fails in a second
        artifacts.check_location(artifact_location, uri)
    with store_lock(uri):
        from nnexp.tracking import reserve
        from nnexp.tracking.client import tracking_client

        reserve.quiet_mlflow_database_errors()
        set_fluent_uri(uri)
        try:
            if db is not None:
                _create_sqlite_store(db)
                reserve.hold(db)  # room to end a run if the disk fills up meanwhile
            client = tracking_client(uri)
            if chosen_experiment.source == mlflow_env.EXPERIMENT_ID_ENV:
                experiment = mlflow_env.experiment_by_id(client, experiment_name, uri)
                experiment_name = experiment.name
            else:
                experiment = client.get_experiment_by_name(experiment_name)
        except TrackingError:
            raise
        except Exception as exc:  # MLflow raises many kinds; all mean "store unusable"
            raise TrackingError(
                f"cannot open MLflow store {redact(uri)}: {redact(first_line(exc))}"
            ) from None
        if chosen_experiment.source == mlflow_env.EXPERIMENT_ENV:
            mlflow_env.check_name_matches_id(experiment)
        if experiment is not None:
            artifacts.check_experiment_location(
                experiment_name, experiment.artifact_location, uri, artifact_location
            )
        location = artifacts.default_location(uri, artifact_location)
        try:
            experiment_id = _experiment_id(client, experiment_name, location, experiment)
        except Exception as exc:
            raise TrackingError(
                f"cannot open MLflow store {redact(uri)}: {redact(first_line(exc))}"
            ) from None
    store = Store(
        uri=uri, experiment_id=experiment_id, experiment_name=experiment_name, source=source
    )
    _say_where_once(store)
    if db is not None:  # pids mean something on this machine only
        from nnexp.tracking.reaper import reap_dead_local_runs

        with contextlib.suppress(Exception):  # best effort: never fail a run for it
            reap_dead_local_runs(store)
    return store


def set_fluent_uri(uri: str) -> None:
    """``mlflow.set_tracking_uri`` (the fluent API needs it) without leaving the URI in
    ``MLFLOW_TRACKING_URI``: MLflow exports it for subprocesses, and nnexp would then take its
    own earlier choice for the user's (``MLFLOW_TRACKING_URI`` outranks the default store)."""
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before


def _create_sqlite_store(db: Path) -> None:
    """Create a missing (or empty) SQLite store atomically; call under :func:`store_lock`.

    MLflow creates a store in some twenty migrations; a process killed in the middle used to leave
    a database that every later open refused ("table _alembic_tmp_runs already exists").
    """
    for stale in db.parent.glob(f".{db.name}.creating-*"):  # from a creator killed earlier
        stale.unlink(missing_ok=True)
    if db.exists() and db.stat().st_size > 0:
        return
    from mlflow import MlflowClient

    tmp = db.with_name(f".{db.name}.creating-{os.getpid()}")
    try:
        client = MlflowClient(tracking_uri=SQLITE_PREFIX + str(tmp))
        client.search_experiments(max_results=1)  # creates the tables and "Default"
        with contextlib.suppress(Exception):
            client._tracking_client.store.engine.dispose()
        os.replace(tmp, db)
    finally:
        tmp.unlink(missing_ok=True)


def check_database(uri: str, timeout: int = 5) -> None:
    """Fail fast (one line, no password) when a database store does not answer.

    MLflow's own client retries an unreachable database with back-off for about 100 s.
    """
    try:
        import sqlalchemy

        args = {"connect_timeout": timeout} if not uri.startswith("mssql") else {}
        engine = sqlalchemy.create_engine(
            uri, connect_args=args, poolclass=sqlalchemy.pool.NullPool
        )
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()
    except Exception as exc:
        reason = first_line(getattr(exc, "orig", None) or exc)
        raise TrackingError(
            f"cannot reach the MLflow database {redact(uri)}: {redact(reason)}"
        ) from None


def _experiment_id(client: Any, name: str, location: str | None, experiment: Any = None) -> str:
    """Find or create the experiment, tagged as model training (``mlflow.experimentKind``;
    older nnexp did not tag it). With a tracking server,
    workers on other machines (which the local lock does not cover) may create it at the same
    moment: the loser finds it."""
    if experiment is None:
        experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if EXPERIMENT_KIND_TAG not in (experiment.tags or {}):
            with contextlib.suppress(Exception):  # a read-only user may not tag: not fatal
                client.set_experiment_tag(
                    experiment.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
                )
        return experiment.experiment_id
    try:
        return client.create_experiment(
            name,
            artifact_location=_artifact_uri(location),
            tags={EXPERIMENT_KIND_TAG: EXPERIMENT_KIND},
        )
    except Exception:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def check_sqlite_file(db: Path) -> None:
    """An existing store ``db`` must be a readable SQLite file: MLflow retries anything else
    (a directory, /proc/self/mem, a text file) for some 100 s, logging every attempt."""
    if not db.is_file():
        raise TrackingError(
            f"the MLflow store {db} is not a file (a directory?): move it away or pass "
            "another tracking.uri"
        )
    try:
        with db.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise TrackingError(f"cannot read the MLflow store {db}: {exc.strerror}") from None
    if header and header != SQLITE_HEADER:
        raise TrackingError(
            f"the MLflow store {db} is not a SQLite database (it starts with "
            f"{header[:8]!r}): move it away or pass another tracking.uri"
        )


def check_sqlite_location(db: Path) -> None:
    """A SQLite store's folder must be creatable and writable, with room to write a run, and
    ``db`` (if present) must be a SQLite file: a directory named ``mlflow.db`` or a stranger
    file used to cost 108 s of MLflow retries before an error; a full disk, a RUNNING run and
    hundreds of lines of tracebacks. Never inside the config folder (Hydra would list it)."""
    from nnexp.config.store import CONF_DIR

    if db.parent.resolve().is_relative_to(CONF_DIR.resolve()):
        raise TrackingError(
            f"the MLflow store {db} is inside the config folder {CONF_DIR}: choose a store "
            "outside it (the default is the project's mlruns/, see the README)"
        )
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrackingError(
            f"cannot create the MLflow store folder {db.parent}: {exc.strerror}"
        ) from None
    if not os.access(db.parent, os.W_OK):
        raise TrackingError(f"cannot write the MLflow store folder {db.parent}: permission denied")
    if db.exists():
        check_sqlite_file(db)
    free = shutil.disk_usage(db.parent).free
    if free < MIN_FREE_BYTES:
        raise TrackingError(
            f"no space left for the MLflow store {db}: {free // 1024} kB free on its disk, "
            f"a run needs at least {MIN_FREE_BYTES // 2**20} MB"
        )


_announced: set[str] = set()


def _say_where_once(store: Store) -> None:
    """Say once per process which store the environment chose (``MLFLOW_TRACKING_URI``)."""
    if store.source.startswith("MLFLOW_") and store.uri not in _announced:
        _announced.add(store.uri)
        print(f"MLflow store: {store.display_uri} (from {store.source})", flush=True)


def check_server(uri: str, timeout: float = 5.0) -> None:
    """Fail fast (one line, no password) when a tracking server does not answer ``/health``.

    MLflow's own client retries an unreachable server with back-off for minutes.
    """
    import http.client
    import urllib.error
    import urllib.request
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    netloc = parts.hostname or ""
    try:
        if parts.port:  # ValueError for a port that is not a number in 0-65535
            netloc = f"{netloc}:{parts.port}"
        health = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/health", "", ""))
        with urllib.request.urlopen(health, timeout=timeout) as response:
            if response.status == 200:
                return
            reason = f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):  # auth-protected servers may guard /health too
            return
        reason = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = str(getattr(exc, "reason", exc))
    raise TrackingError(f"cannot reach the MLflow tracking server {redact(uri)}: {reason}")


def _artifact_uri(location: str | None) -> str | None:
    if not location:
        return None
    if "://" in location:
        return location
    path = Path(location)
    if not path.is_absolute():
        path = Path.cwd() / path
    path.mkdir(parents=True, exist_ok=True)
    return path.as_uri()

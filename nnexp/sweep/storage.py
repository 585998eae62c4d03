"""Where the study lives, the lock that serialises its bookkeeping, and counting its trials.

Default storage: ``JournalStorage(JournalFileBackend(<dir>/optuna/<study>.journal))``, where
``<dir>`` is the folder of the MLflow SQLite database (``mlruns/`` by default) or ``mlruns/``
under the working directory for other stores. Several processes share it safely (Optuna's file
lock); in a test here it lost no trials with 4 processes, while SQLite RDB storage lost
re-queued ones. ``sweep.storage=`` takes any Optuna storage URL instead.

The *sweep lock* (an ``flock`` next to the journal, or in the temp folder keyed by the storage
URL) guards the few steps that must not interleave between workers: creating the study and the
MLflow parent run, reaping orphans, and "count the trials, then ask for one more" — which is how
``n_trials`` stays a total across resumes and workers (never n_trials + workers - 1).

On PostgreSQL (``sweep.storage=postgresql://...`` or ``postgresql+psycopg://...``) workers may
run on several machines, where a local ``flock`` serialises nothing: the sweep lock is then a
PostgreSQL advisory lock (``pg_advisory_xact_lock``, keyed by the study name) on the storage's own
database, held by one transaction and released when it ends or its connection dies (a killed
worker never leaves it held). The same steps are serialised across every machine: creating the
Optuna schema and study, finding or creating the MLflow parent run (so there is one parent),
failing stale trials, and counting before asking. RDB storages get Optuna's heartbeat
(:class:`nnexp.sweep.orphans.StaleTrials`); connections time out after ``CONNECT_TIMEOUT``
seconds, so a wrong password or an unreachable database is one line at once, never a retry loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnexp.errors import ConfigError
from nnexp.locks import file_lock
from nnexp.redact import redact, redact_value
from nnexp.sweep.attrs import IDENTITY_ATTR, LAUNCHES_ATTR, REPLACED_ATTR

CONNECT_TIMEOUT = 5
LOCK_TIMEOUT = 600
SCHEMA_ATTEMPTS = 5
RDB_SCHEMES = ("sqlite", "postgresql", "mysql", "mariadb", "oracle", "mssql")


def default_journal(study: str, tracking_uri: str | None) -> Path:
    from nnexp.project import store_dir
    from nnexp.tracking.store import resolve_uri, sqlite_path

    db = sqlite_path(resolve_uri(tracking_uri))  # None: $MLFLOW_TRACKING_URI or the default
    root = db.parent if db is not None else store_dir()
    return root / "optuna" / f"{study}.journal"


def storage_location(
    storage: str | None, study: str, tracking_uri: str | None
) -> tuple[str, Path | DatabaseLock]:
    """``(storage description, lock)``; the description is the journal path or the URL, the lock
    a file (this machine) or, on PostgreSQL, an advisory lock (every machine)."""
    if storage and is_postgresql(storage):
        return storage, DatabaseLock(storage, study)
    if storage:
        digest = hashlib.sha256(f"{storage}\n{study}".encode()).hexdigest()[:16]
        return storage, Path(tempfile.gettempdir()) / f"nnexp-sweep-{digest}.lock"
    journal = default_journal(study, tracking_uri)
    return str(journal), journal.with_name(f".{journal.name}.nnexp-lock")


def open_storage(
    storage: str | None,
    study: str,
    tracking_uri: str | None,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
) -> Any:
    """An Optuna storage object (journal file by default; with a heartbeat on RDB URLs)."""
    if storage and is_rdb(storage):
        if storage.startswith("sqlite:///"):
            Path(storage[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        with sweep_lock(storage_location(storage, study, tracking_uri)[1]):
            return _rdb_storage(storage, heartbeat_interval, grace_period)
    if storage:
        return storage
    from nnexp.sweep.journal import open_journal

    return open_journal(default_journal(study, tracking_uri))


def describe_storage(storage: Any) -> str:
    """The storage as a person knows it: the journal's path or the URL (password redacted)."""
    backend = getattr(storage, "_backend", None)
    path = getattr(backend, "_file_path", None)
    if path is not None:
        return str(path)
    url = getattr(storage, "url", None)
    if isinstance(url, str):
        return redact(url)
    return redact(str(storage)) if isinstance(storage, str) else type(storage).__name__


def is_rdb(storage: str) -> bool:
    """Whether ``storage`` is an SQLAlchemy URL (Optuna's ``RDBStorage``)."""
    scheme = storage.split("://", 1)[0].split("+", 1)[0].lower() if "://" in storage else ""
    return scheme in RDB_SCHEMES


def is_postgresql(storage: str) -> bool:
    return storage.lower().startswith(("postgresql://", "postgresql+"))


def _engine_kwargs(url: str) -> dict[str, Any]:
    if is_postgresql(url):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}, "pool_pre_ping": True}
    return {}


def _rdb_storage(url: str, heartbeat_interval: int | None, grace_period: int | None) -> Any:
    """``RDBStorage`` with Optuna's heartbeat; call under the sweep lock (schema creation).

    Creating the schema is retried (a few times, bounded) when another process was creating it at
    the same moment: a storage other than PostgreSQL shared across machines has no
    cross-machine lock.
    """
    import warnings

    import sqlalchemy.exc
    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage

    from nnexp.sweep.orphans import StaleTrials

    with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna since 2.9
        warnings.simplefilter("ignore", ExperimentalWarning)
        kwargs: dict[str, Any] = {}
        if heartbeat_interval:
            kwargs = {
                "heartbeat_interval": int(heartbeat_interval),
                "grace_period": int(grace_period) if grace_period else None,
                "heartbeat_stale_trial_callback": StaleTrials(heartbeat_interval, grace_period),
            }
        for attempt in range(1, SCHEMA_ATTEMPTS + 1):
            try:
                return RDBStorage(url, engine_kwargs=_engine_kwargs(url), **kwargs)
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError) as exc:
                text = str(exc).lower()
                if attempt == SCHEMA_ATTEMPTS or not (
                    "already exists" in text or "duplicate" in text
                ):
                    raise storage_error(url, exc) from None
                time.sleep(random.uniform(0.2, 0.5) * attempt)  # let the other creator commit
            except (sqlalchemy.exc.SQLAlchemyError, ImportError) as exc:  # no DB driver
                raise storage_error(url, exc) from None
    raise AssertionError("unreachable")  # pragma: no cover


def storage_error(url: str, exc: BaseException) -> ConfigError:
    """One line naming the storage (password redacted) and the database's own reason."""
    reason = _first_line(getattr(exc, "orig", None) or exc) or type(exc).__name__
    text = f"cannot open the Optuna storage {redact(url)}: {reason}"
    try:
        from sqlalchemy.engine import make_url

        secret = make_url(url).password
    except Exception:  # not an SQLAlchemy URL: redact() is all there is
        secret = None
    return ConfigError(redact(text.replace(str(secret), "***") if secret else text))


class DatabaseLock:
    """The sweep lock of one study on PostgreSQL: an advisory lock, shared by every machine."""

    def __init__(self, url: str, study: str):
        self.url = url
        digest = hashlib.sha256(f"nnexp.sweep\n{study}".encode()).digest()
        self.key = int.from_bytes(digest[:8], "big", signed=True)
        self._engine: Any = None

    def __repr__(self) -> str:
        return f"DatabaseLock({redact(self.url)!r}, key={self.key})"

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        import sqlalchemy
        import sqlalchemy.exc

        try:
            if self._engine is None:
                self._engine = sqlalchemy.create_engine(
                    self.url, pool_size=1, max_overflow=0, **_engine_kwargs(self.url)
                )
            connection = self._engine.connect()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise storage_error(self.url, exc) from None
        try:
            transaction = connection.begin()
            try:
                connection.execute(sqlalchemy.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}s'"))
                connection.execute(
                    sqlalchemy.text("SELECT pg_advisory_xact_lock(:key)"), {"key": self.key}
                )
            except sqlalchemy.exc.SQLAlchemyError as exc:
                raise storage_error(self.url, exc) from None
            try:
                yield
            finally:
                try:
                    transaction.commit()  # ends the transaction, which releases the lock
                except sqlalchemy.exc.SQLAlchemyError:
                    connection.invalidate()  # a dead connection holds no lock
        finally:
            connection.close()


@contextlib.contextmanager
def sweep_lock(path: Path | DatabaseLock) -> Iterator[None]:
    if isinstance(path, DatabaseLock):
        with path.hold():
            yield
        return
    with file_lock(path):
        yield


def load_study(
    storage: Any,
    name: str,
    directions: list[str],
    sampler: Any,
    pruner: Any,
    identity: dict[str, Any],
) -> tuple[Any, int]:
    """Create or load the study; check it is the same sweep; return ``(study, launch index)``.

    Call under the sweep lock. A study created by a *different* sweep (other data, space or
    metric) under the same name is refused, so that resuming never mixes two experiments.
    """
    import optuna

    try:
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            load_if_exists=True,
            directions=directions,
            sampler=sampler,
            pruner=pruner,
        )
    except ValueError as exc:  # e.g. directions differ from the stored study
        raise ConfigError(f"study '{name}' in {describe_storage(storage)}: {exc}") from None
    except Exception as exc:
        raise ConfigError(
            f"cannot open the Optuna storage {describe_storage(storage)}: "
            f"{type(exc).__name__}: {_first_line(exc)}"
        ) from None
    attrs = study.user_attrs
    identity = redact_value(identity)  # it goes into the journal: no password in it
    stored = attrs.get(IDENTITY_ATTR)
    if stored is None:
        study.set_user_attr(IDENTITY_ATTR, identity)
    else:
        check_identity(storage, name, stored, identity)
        if isinstance(stored, dict) and set(identity) - set(stored):
            # a study stored before a part was added (its composed config): from now on, kept
            study.set_user_attr(IDENTITY_ATTR, {**identity, **stored})
    launch = int(attrs.get(LAUNCHES_ATTR, 0))
    study.set_user_attr(LAUNCHES_ATTR, launch + 1)
    return study, launch


def counted_trials(trials: list[Any]) -> list[Any]:
    """Trials that count towards ``n_trials``: all but WAITING ones and replaced orphans."""
    from optuna.trial import TrialState

    replaced = replaced_numbers(trials)
    return [t for t in trials if t.state != TrialState.WAITING and t.number not in replaced]


def replaced_numbers(trials: list[Any]) -> set[int]:
    """Orphans replaced by a retry: marked by the reaper, or heartbeat-stale trials that Optuna
    re-queued (their numbers are in the retry's ``retry_history`` system attribute)."""
    numbers = {t.number for t in trials if t.user_attrs.get(REPLACED_ATTR)}
    for trial in trials:
        numbers.update(trial.system_attrs.get("retry_history", ()))
    return numbers


def check_identity(storage: Any, name: str, stored: Any, identity: dict[str, Any]) -> None:
    """Refuse to resume study ``name`` (stored identity ``stored``) as the sweep ``identity``
    if they differ: one line naming what differs and how to start a new study."""
    from nnexp.sweep.identity import identity_mismatch

    if not isinstance(stored, dict):
        return
    mismatch = identity_mismatch(stored, redact_value(identity))
    if mismatch is not None:
        raise ConfigError(
            f"study '{name}' in {describe_storage(storage)} was started with {mismatch}; "
            "resume it with the same command and config files, or start a new study with "
            "sweep.study_name=NEW_NAME"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""

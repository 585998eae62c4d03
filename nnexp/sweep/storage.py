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
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnexp.errors import ConfigError
from nnexp.redact import redact

IDENTITY_ATTR = "nnexp.identity"
LAUNCHES_ATTR = "nnexp.launches"
REPLACED_ATTR = "nnexp.replaced_by_retry"
RETRY_OF_ATTR = "nnexp.retry_of"


def default_journal(study: str, tracking_uri: str | None) -> Path:
    from nnexp.tracking.store import resolve_uri, sqlite_path

    db = sqlite_path(resolve_uri(tracking_uri)) if tracking_uri else None
    root = db.parent if db is not None else Path.cwd() / "mlruns"
    return root / "optuna" / f"{study}.journal"


def storage_location(storage: str | None, study: str, tracking_uri: str | None) -> tuple[str, Path]:
    """``(storage description, lock file)``; the description is the journal path or the URL."""
    if storage:
        digest = hashlib.sha256(f"{storage}\n{study}".encode()).hexdigest()[:16]
        return storage, Path(tempfile.gettempdir()) / f"nnexp-sweep-{digest}.lock"
    journal = default_journal(study, tracking_uri)
    return str(journal), journal.with_name(f".{journal.name}.nnexp-lock")


def open_storage(storage: str | None, study: str, tracking_uri: str | None) -> Any:
    """An Optuna storage object (journal file by default)."""
    if storage:
        if storage.startswith("sqlite:///"):
            Path(storage[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        return storage
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    journal = default_journal(study, tracking_uri)
    journal.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(journal)))


@contextlib.contextmanager
def sweep_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
        raise ConfigError(f"study '{name}' in {redact(str(storage))}: {exc}") from None
    except Exception as exc:
        raise ConfigError(
            f"cannot open the Optuna storage {redact(str(storage))}: "
            f"{type(exc).__name__}: {_first_line(exc)}"
        ) from None
    attrs = study.user_attrs
    stored = attrs.get(IDENTITY_ATTR)
    if stored is None:
        study.set_user_attr(IDENTITY_ATTR, identity)
    elif stored != identity:
        what = ", ".join(k for k in identity if identity.get(k) != stored.get(k))
        raise ConfigError(
            f"study '{name}' already exists in {redact(str(storage))} with a different {what} "
            f"(it was: {_short(stored, what)}); resume it with the same command, or start a new "
            f"study with sweep.study_name=NEW_NAME"
        )
    launch = int(attrs.get(LAUNCHES_ATTR, 0))
    study.set_user_attr(LAUNCHES_ATTR, launch + 1)
    return study, launch


def counted_trials(trials: list[Any]) -> list[Any]:
    """Trials that count towards ``n_trials``: all but WAITING ones and replaced orphans."""
    from optuna.trial import TrialState

    return [
        t for t in trials if t.state != TrialState.WAITING and not t.user_attrs.get(REPLACED_ATTR)
    ]


def _short(stored: dict[str, Any], what: str) -> str:
    keys = [k.strip() for k in what.split(",")]
    return "; ".join(f"{k}={stored.get(k)}" for k in keys)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""

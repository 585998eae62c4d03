"""A full disk under a SQLite store: keep room to end the run, and say so in one line.

When the disk filled during a run, every later write failed, ending the run included (SQLite
needs a few pages and a journal to change a row), so the run stayed RUNNING, and MLflow logged
each failure with a traceback (352 lines, ending in a misleading "autoflush" error). Now each
process that records in a SQLite store holds a small reserve file next to the database
(``.mlflow.db.reserve-<pid>``, :data:`RESERVE_BYTES`); when a write fails because the disk is
full, the reserve is deleted, which gives SQLite the room to end the run FAILED, and the error
is one line (:func:`disk_full_message`). Reserves of dead processes are removed at the next
open; a process removes its own at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
from pathlib import Path

RESERVE_BYTES = 4 * 1024 * 1024
_held: dict[Path, Path] = {}


def reserve_path(db: Path, pid: int | None = None) -> Path:
    return db.with_name(f".{db.name}.reserve-{os.getpid() if pid is None else pid}")


def hold(db: Path) -> None:
    """Make this process's reserve next to ``db`` (once; best effort), clear dead ones."""
    if db in _held:
        return
    for stale in db.parent.glob(f".{db.name}.reserve-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    path = reserve_path(db)
    try:
        with open(path, "wb") as handle:
            os.posix_fallocate(handle.fileno(), 0, RESERVE_BYTES)
    except OSError:  # no room even for this: the store's own checks will say so
        path.unlink(missing_ok=True)
        return
    _held[db] = path
    if len(_held) == 1:
        atexit.register(_release_all)


def release(db: Path | None) -> bool:
    """Free this process's reserve next to ``db``; True if there was one."""
    path = _held.pop(db, None) if db is not None else None
    if path is None:
        return False
    path.unlink(missing_ok=True)
    return True


def _release_all() -> None:
    for db in list(_held):
        release(db)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says the disk is full."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return True
        text = str(exc).lower()
        if "database or disk is full" in text or "no space left on device" in text:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def disk_full_message(store_uri: str, run_id: str | None, ended: bool) -> str:
    from nnexp.redact import redact

    run = ""
    if run_id is not None:
        run = f"; run {run_id} was ended FAILED" if ended else f"; run {run_id} is left RUNNING"
    return (
        f"the disk holding the MLflow store {redact(store_uri)} is full (no space left on "
        f"device){run}; free some space and run the command again"
    )


def quiet_mlflow_database_errors() -> None:
    """MLflow logs every database error with its traceback before raising it; nnexp reports
    the error itself, in one line."""
    import logging

    with contextlib.suppress(Exception):
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)

"""An exclusive inter-process file lock (``flock``), for steps that must not interleave.

Used for first contact with an MLflow store (two processes creating a SQLite schema at once
leave it half-migrated) and for a sweep's bookkeeping (create the study and parent run, count
trials then ask for one more). The lock is released by the kernel if the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created, with its folder, if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

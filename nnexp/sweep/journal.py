"""The default Optuna storage, a journal file: its lock, and repairing a record cut short.

Optuna appends each operation to the journal as one JSON line, under a lock file next to it
(``<journal>.lock``, a symbolic link: :class:`~optuna.storages.journal.JournalFileSymlinkLock`).
Two ways a killed process (SIGKILL, power loss, a full disk) hurt the next one, both handled
here:

- **A lock left behind.** Optuna cannot tell who holds its lock, so the next process waited 30 s
  (three warnings) and then broke it. :class:`OwnedJournalLock` is the same lock (the same file,
  so plain Optuna processes such as optuna-dashboard still exclude each other with nnexp), but
  its link names its owner (host, pid, the pid's start time). A lock whose owner is a process of
  this machine that is gone (or a zombie) is removed at once, with one line on stderr; so is any
  lock held longer than Optuna's grace period. The removal is serialised by an ``flock`` (released by the
  kernel if the remover dies), so two processes never remove a lock that a third just took.
- **A torn last line.** A write cut short leaves a partial line without its newline. Optuna's
  reader skips it, but the next append was glued onto it, and from then on every read failed with
  a ``JSONDecodeError`` naming no file. :func:`repair_journal` (under the journal lock, so no
  writer is mid-write) cuts a torn tail off (kept in ``<journal>.torn``), and salvages a line
  already damaged that way by keeping the complete record that follows the partial one (the
  damaged file is kept as ``<journal>.damaged``). That is exactly what every reader saw: the
  partial record was never applied by anyone. A line that cannot be salvaged is one error naming
  the file, the line and the fix.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from optuna.storages.journal import JournalFileSymlinkLock

from nnexp.errors import ConfigError
from nnexp.locks import file_lock

OWNER_MARK = "#nnexp-owner="
RECORD_START = b'{"op_code":'
GRACE_PERIOD = 30  # Optuna's default: a lock held longer than this is broken
LOOK_EVERY = 0.5  # seconds between looks at a held lock's owner


def _owner_text() -> str:
    from nnexp.sweep.orphans import process_start

    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start(pid) or ''}"


class OwnedJournalLock(JournalFileSymlinkLock):
    """Optuna's symlink lock on a journal, whose link names this process (see module doc)."""

    def __init__(self, path: str) -> None:
        super().__init__(path, grace_period=GRACE_PERIOD)
        # Optuna only needs the link to exist; its target is free text: who holds it
        self._lock_target_file = f"{Path(path).name}{OWNER_MARK}{_owner_text()}"

    def acquire(self) -> bool:
        """Take the lock (create the link); while another holds it, look every half second
        whether its holder is gone. Optuna's own wait cannot be used: it ``stat``s the link,
        which follows it to the journal, and this link's target is the owner's name."""
        lock = Path(self._lock_file)
        pause, looked = 0.001, 0.0
        while True:
            try:
                os.symlink(self._lock_target_file, lock)
                return True
            except FileExistsError:
                now = time.monotonic()
                if now - looked > LOOK_EVERY:
                    looked = now
                    if clear_dead_lock(lock):
                        continue
                time.sleep(pause)
                pause = min(pause * 2, 0.05)


def owned_journal_lock(journal: Path) -> OwnedJournalLock:
    return OwnedJournalLock(str(journal))


def lock_owner_gone(target: str, age: float) -> str | None:
    """Why the holder of a lock whose link reads ``target`` is certainly gone, or None."""
    if OWNER_MARK in target:
        host, _, rest = target.split(OWNER_MARK, 1)[1].partition(":")
        pid_text, _, started = rest.partition(":")
        if host == socket.gethostname() and pid_text.isdigit():
            from nnexp.sweep.orphans import is_orphan

            gone = is_orphan({"host": host, "pid": int(pid_text), "pid_start": started or None})
            if gone is not None:
                return gone
    if age > GRACE_PERIOD:  # Optuna's rule: a lock is held for one write, not for half a minute
        return f"by a process that held it for {age:.0f} s"
    return None


_announced: set[str] = set()


def clear_dead_lock(lock: Path) -> bool:
    """Remove ``lock`` if its holder is gone (see module doc); return whether it was removed."""
    try:
        target = os.readlink(lock)
    except OSError:
        return False  # no lock (the usual case), or not a link: Optuna decides
    try:
        age = time.time() - os.lstat(lock).st_mtime
    except OSError:
        return False
    reason = lock_owner_gone(target, age)
    if reason is None:
        return False
    with file_lock(lock.with_name(f".{lock.name}.nnexp-clear")):
        try:
            if os.readlink(lock) != target:
                return False  # released meanwhile and taken by someone else
        except OSError:
            return False
        aside = lock.with_name(f"{lock.name}.{uuid.uuid4().hex}.rename")
        try:
            os.rename(lock, aside)
        except OSError:
            return False
        os.unlink(aside)
    if str(lock) not in _announced:
        _announced.add(str(lock))
        holder = reason if reason.startswith("by ") else f"by a process that is gone ({reason})"
        print(f"nnexp: removed the Optuna journal lock {lock}, left {holder}", file=sys.stderr)
    return True


def repair_journal(journal: Path, lock: Any) -> list[str]:
    """Cut a torn tail off ``journal`` and salvage lines glued onto one; return what was done.

    Holds the journal ``lock`` (an Optuna lock object) meanwhile, so no writer is mid-write.
    Raises :class:`ConfigError` naming the file and line when a line cannot be salvaged.
    """
    if not journal.exists() or journal.stat().st_size == 0:
        return []
    lock.acquire()
    try:
        data = journal.read_bytes()
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline
        kept: list[bytes] = []
        notes: list[str] = []
        for number, line in enumerate(lines, start=1):
            if _is_record(line):
                kept.append(line)
                continue
            if not line.strip():  # Optuna's reader fails on it too
                notes.append(f"line {number}: removed an empty line")
                continue
            salvaged = _salvage(line)
            if salvaged is None:
                raise ConfigError(
                    f"the Optuna journal {journal} is damaged at line {number} (not a JSON "
                    f"record): move the file aside to start the study afresh, or delete that "
                    f"line if the records after it should be kept"
                )
            kept.append(salvaged)
            notes.append(
                f"line {number}: dropped {len(line) - len(salvaged)} bytes of a record cut short"
            )
        if notes:
            shutil.copyfile(journal, journal.with_name(journal.name + ".damaged"))
            fresh = journal.with_name(f".{journal.name}.{uuid.uuid4().hex}.repair")
            fresh.write_bytes(b"".join(line + b"\n" for line in kept))
            os.replace(fresh, journal)
        elif tail:
            with open(journal, "r+b") as handle:
                handle.truncate(len(data) - len(tail))
                os.fsync(handle.fileno())
        if tail:
            with open(journal.with_name(journal.name + ".torn"), "ab") as handle:
                handle.write(tail + b"\n")
            notes.append(f"removed a last record cut short ({len(tail)} bytes, kept in .torn)")
    finally:
        lock.release()
    for note in notes:
        print(f"nnexp: repaired the Optuna journal {journal}: {note}", file=sys.stderr)
    return notes


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _salvage(line: bytes) -> bytes | None:
    """The complete record at the end of ``line`` (a partial one glued before it), or None."""
    start = line.find(RECORD_START, 1)
    while start != -1:
        if _is_record(line[start:]):
            return line[start:]
        start = line.find(RECORD_START, start + 1)
    return None


def open_journal(journal: Path) -> Any:
    """``JournalStorage`` on ``journal`` with :func:`owned_journal_lock`, repaired first."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    journal.parent.mkdir(parents=True, exist_ok=True)
    lock = owned_journal_lock(journal)
    repair_journal(journal, lock)
    try:
        return JournalStorage(JournalFileBackend(str(journal), lock_obj=lock))
    except ValueError as exc:  # JSONDecodeError or "Invalid log format": written meanwhile
        raise ConfigError(
            f"cannot read the Optuna journal {journal}: {exc}; run the command again to repair it"
        ) from None

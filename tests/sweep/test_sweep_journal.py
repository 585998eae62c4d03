"""Issues 12.6 and 12.13: a journal cut short is repaired, a lock left by a dead process is
removed at once with one line. Plain Optuna on the journal, no MLflow: fast."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage

from nnexp.errors import ConfigError
from nnexp.sweep.journal import OWNER_MARK, open_journal

optuna.logging.set_verbosity(optuna.logging.ERROR)
STAMP = "2026-11-29T06:00:00.000000+00:00"


def _study(storage, name: str = "s") -> optuna.Study:
    return optuna.create_study(study_name=name, storage=storage, load_if_exists=True)


def _add_trials(storage, values) -> None:
    study = _study(storage)
    for value in values:
        trial = study.ask()
        study.tell(trial, value)


def test_a_torn_last_line_is_cut_off_and_resumes_work(tmp_path: Path, capsys) -> None:
    journal = tmp_path / "s.journal"
    _add_trials(open_journal(journal), [1.0, 2.0])
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'{"op_code":5,"worker_id":"x","trial_id":')  # power cut
    storage = open_journal(journal)
    err = capsys.readouterr().err
    assert err == (
        f"nnexp: repaired the Optuna journal {journal}: removed a last record cut short "
        "(40 bytes, kept in .torn)\n"
    )
    assert journal.read_bytes() == whole
    _add_trials(storage, [3.0])
    for _ in range(2):  # every later resume reads it
        assert [t.value for t in _study(open_journal(journal)).get_trials()] == [1.0, 2.0, 3.0]
    assert capsys.readouterr().err == ""


def test_a_record_glued_onto_a_torn_line_is_salvaged(tmp_path: Path, capsys) -> None:
    """The old damage: plain Optuna appended the next record onto the partial line, and every
    later read failed with a JSONDecodeError naming no file."""
    journal = tmp_path / "s.journal"
    _add_trials(open_journal(journal), [1.0])
    with open(journal, "ab") as handle:
        handle.write(b'{"op_code":5,"worker_id":"x","tri')
    # the next process appended its records (trial 1, value 2.0) right after it
    JournalFileBackend(str(journal)).append_logs(
        [
            {"op_code": 4, "worker_id": "w", "study_id": 0, "datetime_start": STAMP},
            {
                "op_code": 6,
                "worker_id": "w",
                "trial_id": 1,
                "state": 1,
                "values": [2.0],
                "datetime_complete": STAMP,
            },
        ]
    )
    with pytest.raises(ValueError):  # what users saw, on every later resume
        JournalStorage(JournalFileBackend(str(journal)))
    storage = open_journal(journal)
    assert [t.value for t in _study(storage).get_trials()] == [1.0, 2.0]
    _add_trials(storage, [3.0])
    assert [t.value for t in _study(open_journal(journal)).get_trials()] == [1.0, 2.0, 3.0]
    err = capsys.readouterr().err
    assert err.startswith(f"nnexp: repaired the Optuna journal {journal}: line ")
    assert ": dropped 33 bytes of a record cut short\n" in err
    assert (tmp_path / "s.journal.damaged").exists()


def test_a_line_that_cannot_be_salvaged_is_one_error_naming_the_file(tmp_path: Path) -> None:
    journal = tmp_path / "s.journal"
    _add_trials(open_journal(journal), [1.0])
    journal.write_bytes(journal.read_bytes() + b"garbage\n")
    with pytest.raises(ConfigError) as refused:
        open_journal(journal)
    lines = journal.read_bytes().count(b"\n")
    assert str(refused.value) == (
        f"the Optuna journal {journal} is damaged at line {lines} (not a JSON record): move the "
        "file aside to start the study afresh, or delete that line if the records after it "
        "should be kept"
    )


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return int(child.stdout)


def test_a_lock_left_by_a_dead_process_is_removed_at_once(tmp_path: Path, capsys) -> None:
    journal = tmp_path / "s.journal"
    _add_trials(open_journal(journal), [1.0])
    lock = Path(str(journal) + ".lock")
    import socket

    os.symlink(f"s.journal{OWNER_MARK}{socket.gethostname()}:{_dead_pid()}:1", lock)
    started = time.monotonic()
    _add_trials(open_journal(journal), [2.0])
    assert time.monotonic() - started < 5  # Optuna alone waited 30 s
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"nnexp: removed the Optuna journal lock {lock}")
    assert "is gone" in err[0]
    assert not lock.exists() and not lock.is_symlink()


def test_a_live_owners_lock_is_left_alone(tmp_path: Path) -> None:
    from nnexp.sweep.journal import clear_dead_lock, owned_journal_lock

    journal = tmp_path / "s.journal"
    journal.touch()
    held = owned_journal_lock(journal)
    held.acquire()
    lock = Path(str(journal) + ".lock")
    assert os.readlink(lock).endswith(f":{os.getpid()}:" + os.readlink(lock).rsplit(":", 1)[1])
    assert not clear_dead_lock(lock)
    assert lock.is_symlink()
    held.release()
    assert not lock.is_symlink()


def test_a_lock_held_by_a_killed_but_uncollected_process_is_removed(tmp_path: Path) -> None:
    """SIGKILL while holding the lock, the killed process not yet reaped by its parent (a
    zombie, as when the sweep's launcher is killed and the shell has not waited yet): the next
    start takes the lock at once instead of waiting for ever."""
    import socket

    from nnexp.sweep.orphans import process_start

    journal = tmp_path / "s.journal"
    _add_trials(open_journal(journal), [1.0])
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        target = (
            f"s.journal{OWNER_MARK}{socket.gethostname()}:{child.pid}:{process_start(child.pid)}"
        )
        os.symlink(target, str(journal) + ".lock")
        child.kill()
        time.sleep(0.5)  # dead, not collected: a zombie
        started = time.monotonic()
        _add_trials(open_journal(journal), [2.0])
        assert time.monotonic() - started < 5
    finally:
        child.wait()
    assert [t.value for t in _study(open_journal(journal)).get_trials()] == [1.0, 2.0]

"""A full disk under the store, for real: a small tmpfs mounted for the test (issue 12.10).

The run fills nothing itself: another writer fills the disk while the run trains, so the run's
next write (a metrics batch) meets ``database or disk is full``. It used to print 352 lines of
tracebacks and leave the run RUNNING; now: one line, the run ended FAILED, within seconds. A new
run on the still-full disk is refused before it is created. Needs root (``mount``); skipped
otherwise.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import pytest
from hardening_support import NO_ARTIFACT_EXTRAS, TINY, all_runs, db_rows, finish, run, start

SIZE_MB = 40


@pytest.fixture
def small_disk(tmp_path: Path):
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write zeros into ``folder`` until the disk refuses; returns the file."""
    ballast = folder / "filler"
    chunk = b"\0" * (1 << 20)
    with contextlib.suppress(OSError), open(ballast, "wb") as handle:
        while True:
            handle.write(chunk)
            handle.flush()
    return ballast


@pytest.mark.slow
def test_a_disk_filling_up_mid_run_ends_it_failed_in_one_line(
    small_disk: Path, tmp_path: Path
) -> None:
    db = small_disk / "mlruns" / "mlflow.db"
    args = [*TINY, *NO_ARTIFACT_EXTRAS, f"tracking.uri=sqlite:///{db}"]
    process = start([*args, "trainer.epochs=1000000"], tmp_path)
    deadline = time.monotonic() + 120
    while not db_rows(db, "SELECT 1 FROM runs WHERE status = 'RUNNING'"):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    filler = fill(small_disk)
    filled = time.monotonic()
    code, _, err = finish(process, timeout=120)
    seconds = time.monotonic() - filled
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(
        f"nnexp: error: the disk holding the MLflow store sqlite:///{db} is full "
        "(no space left on device); run "
    ), err
    assert lines[0].endswith("was ended FAILED; free some space and run the command again"), err
    assert seconds < 60, seconds  # the next metrics flush (every 5 s) meets the full disk

    # a new run on the still-full disk is refused before it exists
    again = run([*args, "trainer.epochs=3"], tmp_path)
    assert again.returncode == 2, again.stderr
    [line] = again.stderr.strip().splitlines()
    assert line.startswith(f"nnexp: error: no space left for the MLflow store {db}: "), line

    filler.unlink()
    [recorded] = all_runs(db)
    assert recorded.info.status == "FAILED"
    assert recorded.data.tags["error"] == "disk full (no space left on device)"
    assert recorded.info.run_id in lines[0]
    assert not list(db.parent.glob(".mlflow.db.reserve-*"))  # released, or gone with the pid

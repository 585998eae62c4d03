"""Helpers for the hardening tests: run ``python -m nnexp`` in a folder, read its stores back.

Stores being written by a live process are polled read-only with ``sqlite3`` (an
``MlflowClient`` would race MLflow's schema creation); ``MlflowClient`` reads them once the
process is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnexp_testing import nnexp_env, run_nnexp

TINY = ["data.n_samples=100", "trainer.progress=false"]
NO_ARTIFACT_EXTRAS = ["tracking.log_plots=false", "tracking.log_model=false"]
EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}

#: ``(signal name | "missed" | "runs reaped" | "orphans reaped", scenario) -> count``, filled by
#: the kill tests and printed in the terminal summary (conftest.py).
KILLS: Counter = Counter()
#: Where the kills landed: ``"after start"``, ``"after a run started"``, ``"late"``.
MOMENTS: Counter = Counter()


def run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_nnexp(cwd, *args, timeout=timeout)


def start(args: list[str], cwd: Path) -> subprocess.Popen:
    """Start nnexp in its own session (process group), so a whole job can be signalled."""
    return subprocess.Popen(
        [sys.executable, "-m", "nnexp", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=nnexp_env(),
        start_new_session=True,
    )


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    """Wait for ``process``; kill its whole group if it overstays (the test then fails)."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        raise AssertionError(f"nnexp did not stop within {timeout} s; stderr:\n{err}") from None
    return process.returncode, out, err


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_group_gone(pgid: int, timeout: float) -> None:
    """Wait for every process of group ``pgid`` (e.g. sweep workers) to exit; then SIGKILL."""
    deadline = time.monotonic() + timeout
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        raise AssertionError(f"processes of group {pgid} still alive after {timeout} s")


def wait_until(predicate: Callable[[], bool], timeout: float, process: Any = None) -> bool:
    """Poll ``predicate`` every 50 ms for at most ``timeout`` s (or until ``process`` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if process is not None and process.poll() is not None:
            return predicate()
        time.sleep(0.05)
    return False


def db_rows(db: Path, sql: str) -> list[tuple]:
    """Rows of ``sql`` from the SQLite store, read-only; [] while it is absent or being made.

    A writer killed mid-transaction leaves a hot journal, which a read-only connection cannot
    roll back: that store is read as its next opener reads it (the journal rolled back). An
    empty answer there made a kill test count the killed run as new in the next start.
    """
    if not db.exists():
        return []
    for mode in ("ro", "rw"):
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{db}?mode={mode}", uri=True, timeout=5)
            ) as conn:
                return conn.execute(sql).fetchall()
        except sqlite3.Error as exc:
            if "readonly" not in str(exc).replace("-", "").lower():
                return []  # absent tables: the store is being made
    return []


def run_ids(db: Path, status: str | None = None, kind: str | None = None) -> set[str]:
    """Ids of the runs (with ``status``, tagged ``nnexp.kind=kind``), read-only."""
    sql = "SELECT run_uuid FROM runs WHERE 1 = 1"
    if status is not None:
        sql += f" AND status = '{status}'"
    if kind is not None:
        sql += (
            " AND run_uuid IN (SELECT run_uuid FROM tags WHERE key = 'nnexp.kind' "
            f"AND value = '{kind}')"
        )
    return {row[0] for row in db_rows(db, sql)}


def count_status(db: Path, status: str, kind: str | None = None) -> int:
    return len(run_ids(db, status, kind))


def client(db: Path) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=f"sqlite:///{db}")


def all_runs(db: Path) -> list[Any]:
    """Every run of every experiment, through ``MlflowClient`` (it must be able to read them)."""
    mlflow_client = client(db)
    ids = [e.experiment_id for e in mlflow_client.search_experiments()]
    return mlflow_client.search_runs(ids, max_results=5000) if ids else []


def read_every_run(db: Path) -> list[Any]:
    """``get_run`` and each metric's history for every run; returns the runs."""
    mlflow_client = client(db)
    runs = all_runs(db)
    for listed in runs:
        run = mlflow_client.get_run(listed.info.run_id)
        for key in run.data.metrics:
            history = mlflow_client.get_metric_history(run.info.run_id, key)
            assert history, (run.info.run_id, key)
    return runs


def copy_store(template: Path, folder: Path) -> None:
    """Copy ``template``'s ``mlruns/`` (a store with one finished run) into ``folder``."""
    shutil.copytree(template / "mlruns", folder / "mlruns")

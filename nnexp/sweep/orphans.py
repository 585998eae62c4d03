"""Find trials orphaned by a killed worker, fail them, re-queue them once.

SIGKILL (or a lost machine) leaves the Optuna trial and its MLflow run RUNNING forever, and
``JournalStorage`` has no heartbeat. Each trial therefore records who runs it (user attribute
``nnexp.worker``: host, pid, the pid's start time, and a lease time refreshed at most every
``LEASE_REFRESH`` seconds while epochs go by). A RUNNING trial is an orphan when

- its host is this host and its process is gone (or the pid now belongs to a process started at
  another time: pids are reused), or
- its host is another host and its lease is older than ``LEASE_TIMEOUT``.

An orphan is told FAIL (user attribute ``fail_reason``), its MLflow run is ended KILLED with
``trial_state=FAIL``, and unless it was itself a retry, the same parameters are enqueued once
(``nnexp.retry_of`` = its number, so the retry keeps its seed). The orphan is then marked as
replaced and no longer counts towards ``n_trials``.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

from nnexp.sweep.storage import REPLACED_ATTR, RETRY_OF_ATTR

WORKER_ATTR = "nnexp.worker"
LEASE_REFRESH = 60.0
LEASE_TIMEOUT = 900.0


def worker_identity() -> dict[str, Any]:
    pid = os.getpid()
    return {
        "host": socket.gethostname(),
        "pid": pid,
        "pid_start": process_start(pid),
        "lease": time.time(),
    }


def process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def is_orphan(worker: dict[str, Any] | None, now: float | None = None) -> str | None:
    """Why the trial run by ``worker`` is orphaned, or None if its worker may be alive."""
    now = time.time() if now is None else now
    if not worker:
        return None  # not an nnexp worker (or not started yet): leave it alone
    if worker.get("host") == socket.gethostname():
        pid = int(worker.get("pid", -1))
        if pid <= 0:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return f"worker pid {pid} on {worker['host']} is gone"
        except PermissionError:
            return None
        started = process_start(pid)
        if worker.get("pid_start") and started and started != worker["pid_start"]:
            return f"worker pid {pid} on {worker['host']} is gone (pid reused)"
        return None
    if now - float(worker.get("lease", now)) > LEASE_TIMEOUT:
        return f"worker on {worker.get('host')} silent for more than {LEASE_TIMEOUT:.0f} s"
    return None


def reap_orphans(study: Any, end_mlflow_run: Any = None) -> list[tuple[int, str, bool]]:
    """Fail (and re-queue once) every orphaned trial; return ``[(number, reason, requeued)]``.

    ``end_mlflow_run(trial, reason)`` ends the trial's MLflow run KILLED. Call under the sweep
    lock so two starting workers do not re-queue the same orphan twice.
    """
    from optuna.trial import TrialState

    reaped = []
    storage = study._storage  # set user attributes on a trial this process did not create
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = is_orphan(trial.user_attrs.get(WORKER_ATTR))
        if reason is None:
            continue
        requeue = RETRY_OF_ATTR not in trial.user_attrs
        storage.set_trial_user_attr(trial._trial_id, "fail_reason", f"orphaned: {reason}")
        if requeue:
            storage.set_trial_user_attr(trial._trial_id, REPLACED_ATTR, True)
        study.tell(trial.number, state=TrialState.FAIL)
        if end_mlflow_run is not None:
            end_mlflow_run(trial, f"orphaned: {reason}")
        if requeue:
            requeue_trial(study, trial.params, trial.user_attrs.get(RETRY_OF_ATTR, trial.number))
        reaped.append((trial.number, reason, requeue))
    return reaped


def requeue_trial(study: Any, params: dict[str, Any], origin: int) -> None:
    """Enqueue ``params`` again; the retry keeps the seed of trial number ``origin``."""
    study.enqueue_trial(dict(params), user_attrs={RETRY_OF_ATTR: int(origin)})

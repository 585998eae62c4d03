"""Find trials orphaned by a killed worker, fail them, re-queue them once.

SIGKILL (or a lost machine) leaves the Optuna trial and its MLflow run RUNNING forever, and
``JournalStorage`` has no heartbeat. Each trial therefore records who runs it (user attribute
``nnexp.worker``: host, pid, the pid's start time, and a lease time refreshed at most every
``LEASE_REFRESH`` seconds while epochs go by). A RUNNING trial is an orphan when

- its host is this host and its process is gone (or the pid now belongs to a process started at
  another time: pids are reused), or
- its host is another host and its lease is older than ``LEASE_TIMEOUT``.

An orphan is told FAIL (user attribute ``fail_reason``), its MLflow run is ended KILLED with
``trial_state=FAIL``, and unless it was itself the retry of an orphan (``nnexp.orphan_retry``:
a trial that keeps killing its worker), the same parameters are enqueued once (``nnexp.retry_of``
= its number, so the retry keeps its seed). The orphan is then marked as replaced and no longer
counts towards ``n_trials``.

That reaper is for storages without a heartbeat (the journal file). On RDB storages (PostgreSQL,
workers on several machines) Optuna's heartbeat does the job instead, while the sweep runs: each
running trial records a heartbeat every ``sweep.heartbeat_interval`` seconds
(:class:`TrialHeartbeat`, a thread: Optuna does this only inside ``study.optimize``, and nnexp
uses ask/tell); before each ``ask`` a worker fails the trials silent for longer than the grace
period (:func:`fail_stale_trials`), :class:`StaleTrials` re-queues each once with the same
parameters (Optuna's ``RetryHeartbeatStaleTrialCallback(max_retry=1)``, plus ``nnexp.retry_of``
so the retry keeps the seed), and the driver ends the failed trial's MLflow run KILLED.
"""

from __future__ import annotations

import contextlib
import copy
import os
import socket
import threading
import time
from typing import Any

from nnexp.sweep.attrs import ORPHAN_RETRY_ATTR, REPLACED_ATTR, RETRY_OF_ATTR, WORKER_ATTR

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


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return False


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
        if _is_zombie(pid):  # killed, not yet collected by its parent: it runs nothing
            return f"worker pid {pid} on {worker['host']} is gone (exited)"
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
        worker = trial.user_attrs.get(WORKER_ATTR)
        # nnexp claims a trial in the same locked step that asks for it, so one still unclaimed
        # here (under the lock) was asked by a process that died before claiming it
        reason = "its worker died before claiming it" if worker is None else is_orphan(worker)
        if reason is None:
            continue
        # once: not the retry of an orphan (a trial that keeps killing its worker); the retry of
        # a trial stopped by Ctrl-C/SIGTERM is no such sign (it used to count as one)
        requeue = not trial.user_attrs.get(ORPHAN_RETRY_ATTR)
        storage.set_trial_user_attr(trial._trial_id, "fail_reason", f"orphaned: {reason}")
        if requeue:
            storage.set_trial_user_attr(trial._trial_id, REPLACED_ATTR, True)
        study.tell(trial.number, state=TrialState.FAIL)
        if end_mlflow_run is not None:
            end_mlflow_run(trial, f"orphaned: {reason}")
        if requeue:
            origin = trial.user_attrs.get(RETRY_OF_ATTR, trial.number)
            requeue_trial(study, trial.params, origin, orphaned=True)
        reaped.append((trial.number, reason, requeue))
    return reaped


def requeue_trial(study: Any, params: dict[str, Any], origin: int, orphaned: bool = False) -> None:
    """Enqueue ``params`` again; the retry keeps the seed of trial number ``origin``.

    ``orphaned``: the retry replaces an orphan (marked, so that it is re-queued only once).
    """
    attrs: dict[str, Any] = {RETRY_OF_ATTR: int(origin)}
    if orphaned:
        attrs[ORPHAN_RETRY_ATTR] = True
    study.enqueue_trial(dict(params), user_attrs=attrs)


# -- RDB storages: Optuna's heartbeat --------------------------------------------------------------
class StaleTrials:
    """The storage's ``heartbeat_stale_trial_callback``: re-queue once, remember what failed."""

    def __init__(self, interval: int, grace_period: int | None = None):
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        self.grace_period = int(grace_period or 2 * interval)
        self.retry = RetryHeartbeatStaleTrialCallback(max_retry=1)
        self.failed: list[Any] = []

    def __call__(self, study: Any, trial: Any) -> None:
        retry = copy.deepcopy(trial)  # the retry copies the user attributes: keep the seed
        retry.user_attrs = {**trial.user_attrs, RETRY_OF_ATTR: seed_origin(trial)}
        self.retry(study, retry)
        self.failed.append(trial)


def seed_origin(trial: Any) -> int:
    return int(trial.user_attrs.get(RETRY_OF_ATTR, trial.number))


def heartbeat_interval(study: Any) -> int | None:
    """The storage's heartbeat interval in seconds, or None (no heartbeat: journal storage)."""
    getter = getattr(study._storage, "get_heartbeat_interval", None)
    return getter() if getter is not None else None


def fail_stale_trials(study: Any) -> list[tuple[int, str, bool]]:
    """Fail (and re-queue once) trials whose worker stopped beating: ``[(number, reason,
    requeued)]``. Call under the sweep lock, so no other worker counts trials meanwhile."""
    import warnings

    import optuna

    if not heartbeat_interval(study):
        return []
    callback = study._storage.get_heartbeat_stale_trial_callback()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    if not isinstance(callback, StaleTrials):
        return []
    failed, callback.failed = callback.failed, []
    reason = f"no heartbeat for more than {callback.grace_period} s"
    return [(t.number, reason, not t.system_attrs.get("retry_history")) for t in failed]


class TrialHeartbeat:
    """Record a trial's heartbeat now, then every interval from a thread, until :meth:`stop`."""

    def __init__(self, study: Any, trial: Any):
        self.storage, self.trial_id = study._storage, trial._trial_id
        self.interval = heartbeat_interval(study)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> TrialHeartbeat:
        if self.interval:
            self.storage.record_heartbeat(self.trial_id)  # a trial with none is never stale
            self._thread = threading.Thread(target=self._beat, name="nnexp-heartbeat", daemon=True)
            self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            # a blip: the next beat retries; a long outage makes the trial stale
            with contextlib.suppress(Exception):
                self.storage.record_heartbeat(self.trial_id)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=float(self.interval or 0) + 10.0)

"""End runs left RUNNING by a local process that is gone (SIGKILL, the OOM killer, a reboot).

A run ends itself on any exception, Ctrl-C and SIGTERM (:mod:`nnexp.tracking.recorder`), but a
process killed with SIGKILL cannot, and its run would stay RUNNING for ever. So every run records
who runs it, as tags: ``nnexp.host`` (host name), ``nnexp.pid``, ``nnexp.pid_start`` (the
process's start time: pids are reused), ``nnexp.boot_id`` and ``nnexp.pid_ns`` (the kernel boot
and pid namespace: two containers with one host name never judge each other's pids, and a run
from before a reboot is known to be dead). When a process first opens a SQLite store,
:func:`reap_dead_local_runs` ends that experiment's RUNNING runs whose process is gone as
KILLED, with the ``error`` tag saying why.

A sweep trial's run gets ``trial_state=FAIL`` too; its Optuna trial is failed and re-queued by
the sweep's own reaper (:mod:`nnexp.sweep.orphans`) when the sweep is resumed. A trial whose
result is already in (``trial_state`` COMPLETE or PRUNED) keeps it.

No finished run is ever reopened (RUNNING again) to add to it: the sweep links the best
trial's model to its finished run explicitly (:mod:`nnexp.tracking.pyfunc`). A reopened run
named its dead trainer while RUNNING, and any nnexp start in that window ended the best trial
KILLED/FAIL.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

HOST_TAG = "nnexp.host"
PID_TAG = "nnexp.pid"
PID_START_TAG = "nnexp.pid_start"
BOOT_TAG = "nnexp.boot_id"
PID_NS_TAG = "nnexp.pid_ns"
PROCESS_TAGS = (HOST_TAG, PID_TAG, PID_START_TAG, BOOT_TAG, PID_NS_TAG)
#: A trial whose result is in: the reaper ends its run but leaves its state.
RESULT_STATES = ("COMPLETE", "PRUNED")

#: ``(store uri, experiment id)`` already reaped by this process.
_reaped: set[tuple[str, str]] = set()


def process_tags() -> dict[str, str]:
    """The tags that identify this process (empty values are left out)."""
    pid = os.getpid()
    tags = {
        HOST_TAG: socket.gethostname(),
        PID_TAG: str(pid),
        PID_START_TAG: process_start(pid),
        BOOT_TAG: _read("/proc/sys/kernel/random/boot_id"),
        PID_NS_TAG: _pid_namespace(),
    }
    return {key: value for key, value in tags.items() if value}


def process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None if unknown."""
    text = _read(f"/proc/{pid}/stat")
    try:
        return text.rsplit(")", 1)[1].split()[19] if text else None
    except IndexError:
        return None


def process_gone(tags: dict[str, str]) -> str | None:
    """Why the process that ran a run with ``tags`` is certainly gone, or None if it may live."""
    mine = process_tags()
    host, pid = tags.get(HOST_TAG), tags.get(PID_TAG, "")
    if not host or host != mine.get(HOST_TAG) or not pid.isdigit() or int(pid) <= 0:
        return None  # another machine's run, or not recorded by nnexp
    boot = tags.get(BOOT_TAG)
    if boot and mine.get(BOOT_TAG) and boot != mine[BOOT_TAG]:
        return f"pid {pid} on {host} ran before the machine restarted"
    if tags.get(PID_NS_TAG) != mine.get(PID_NS_TAG):
        return None  # another container (pid namespace) with the same host name
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return f"pid {pid} on {host} is gone"
    except PermissionError:
        return None  # alive, another user's
    started = tags.get(PID_START_TAG)
    now = process_start(int(pid))
    if started and now and started != now:
        return f"pid {pid} on {host} is gone (the pid was reused)"
    return None


def reap_dead_local_runs(store: Any) -> list[tuple[str, str]]:
    """End the RUNNING runs of ``store``'s experiment whose local process is gone, as KILLED.

    Returns ``[(run id, reason)]``; done once per process and store (it costs one search).
    """
    key = (store.uri, store.experiment_id)
    if key in _reaped:
        return []
    _reaped.add(key)
    from mlflow.entities import RunTag

    from nnexp.tracking.client import tracking_client

    host = socket.gethostname()
    if "'" in host:
        return []
    client = tracking_client(store.uri)
    running = client.search_runs(
        [store.experiment_id],
        filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'",
        max_results=1000,
    )
    reaped = []
    for run in running:
        tags = run.data.tags
        reason = process_gone(tags)
        if reason is None:
            continue
        why = f"orphaned: {reason} (killed without a chance to end its run)"
        ending = [RunTag("error", why)]
        if tags.get("nnexp.kind") == "trial" and tags.get("trial_state") not in RESULT_STATES:
            ending.append(RunTag("trial_state", "FAIL"))
        client.log_batch(run.info.run_id, tags=ending)
        client.set_terminated(run.info.run_id, status="KILLED")
        name = run.info.run_name or ""
        print(
            f"nnexp: run {run.info.run_id[:8]} {name} was left RUNNING; its process {reason}: "
            f"ended it KILLED",
            file=sys.stderr,
            flush=True,
        )
        reaped.append((run.info.run_id, reason))
    return reaped


def _read(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None

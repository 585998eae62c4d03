"""Several workers on one study in PostgreSQL, logging to an MLflow server (real services).

Each worker is ``python -m nnexp +sweep=lr tracking=server sweep.storage=postgresql+psycopg://...``
in its own folder with its own temp folder, as if on its own machine (conftest.Cluster).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest
from optuna.trial import TrialState

from nnexp.sweep.orphans import WORKER_ATTR

pytestmark = pytest.mark.slow

# Short heartbeats, so that a killed worker's trial is noticed within seconds.
HEARTBEAT = ["sweep.heartbeat_interval=1", "sweep.grace_period=6"]
WORKER_TIMEOUT = 150


def _wait_all(processes: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=WORKER_TIMEOUT)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise
        results.append((process.returncode, out, err))
    return results


def _parent_id(stdout: str) -> str:
    found = re.search(r"MLflow parent run ([0-9a-f]{32})", stdout)
    assert found, stdout
    return found.group(1)


def _assert_no_password(cluster, *texts: str) -> None:
    secret = cluster.postgres.password
    for text in texts:
        assert secret not in text
    for run in cluster.runs():  # params, tags (command lines, storage) of every run
        for value in (*run.data.params.values(), *run.data.tags.values()):
            assert secret not in value, run.info.run_id


def test_three_workers_share_one_study_and_one_parent(cluster) -> None:
    args = cluster.args("sweep.n_trials=12", *HEARTBEAT)
    processes = [cluster.start(*args) for _ in range(3)]
    results = _wait_all(processes)
    for code, out, err in results:
        assert code == 0, err
        assert err == "", err  # no errors, warnings or MLflow chatter
        assert "12 trials (12 complete, 0 pruned, 0 failed)" in out
    parent_ids = {_parent_id(out) for _, out, _ in results}
    assert len(parent_ids) == 1

    trials = cluster.study_trials()
    assert len(trials) == 12
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    assert len({t.user_attrs[WORKER_ATTR]["pid"] for t in trials}) >= 2  # shared, not serial

    parents, children = cluster.parents_and_children()
    assert [p.info.run_id for p in parents] == list(parent_ids)
    assert parents[0].info.status == "FINISHED"
    assert len(children) == 12
    assert sorted(int(c.data.tags["trial_number"]) for c in children) == list(range(12))
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == parent_ids
    assert {c.info.status for c in children} == {"FINISHED"}
    # artifacts went through the server to its --artifacts-destination
    files = {f.path for f in cluster.client().list_artifacts(children[0].info.run_id)}
    assert {"config.yaml", "history.csv", "model.npz"} <= files
    _assert_no_password(cluster, *(out + err for _, out, err in results))


def _stop_mid_trial(cluster, victim: subprocess.Popen) -> tuple[int, str] | None:
    """Freeze ``victim`` (SIGSTOP) while it runs a trial whose MLflow run is RUNNING; return
    ``(trial number, run id)``, or None if it exited first.

    The victim runs alone (the test starts the other workers once it is caught), so every
    trial is its to take. It runs freely until it has a trial in the study; from then on it
    only moves in short steps between checks made while it is frozen, so the window in which
    its run is RUNNING cannot fall between two checks. Under load one check (the study, then
    the server's runs) can take longer than a whole trial: a free-running victim, racing two
    other workers for six trials, once finished all of its trials unseen (exit 0, test failed).
    """
    deadline = time.monotonic() + 120

    def victims_trials(trials) -> list:
        return [t for t in trials if t.user_attrs.get(WORKER_ATTR, {}).get("pid") == victim.pid]

    stepping = False  # from the victim's first trial on, it moves in steps
    while time.monotonic() < deadline and victim.poll() is None:
        if not stepping:
            stepping = bool(victims_trials(cluster.study_trials(missing_ok=True)))
            if not stepping:
                time.sleep(0.05)
                continue
        os.kill(victim.pid, signal.SIGSTOP)
        running = [
            t.number
            for t in victims_trials(cluster.study_trials())
            if t.state == TrialState.RUNNING
        ]
        runs = [
            r
            for r in cluster.parents_and_children()[1]
            if running
            and r.data.tags.get("trial_number") == str(running[0])
            and r.info.status == "RUNNING"
        ]
        if runs:
            return running[0], runs[0].info.run_id
        os.kill(victim.pid, signal.SIGCONT)
        time.sleep(0.1)  # one short step: its run is created, or ends, or the next trial begins
    return None


def test_kill_9_mid_trial_is_retried_by_a_surviving_worker(cluster) -> None:
    args = cluster.args("sweep.n_trials=6", "trainer.epochs=30", *HEARTBEAT)
    cluster.runs()  # warm up (import MLflow, connect): the victim must stay frozen briefly
    victim = cluster.start(*args)
    caught = _stop_mid_trial(cluster, victim)
    if caught is None:
        victim.kill()
        err = victim.communicate(timeout=30)[1]
        pytest.fail(f"no running trial of the victim to kill (exit {victim.returncode}): {err}")
    # the survivors join the sweep while the victim is frozen mid-trial
    survivors = [cluster.start(*args) for _ in range(2)]
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=30)
    number, orphan_run = caught

    results = _wait_all(survivors)
    for code, _, err in results:
        assert code == 0, err
        assert "nnexp: error" not in err
    notes = "".join(err for _, _, err in results)
    assert f"nnexp: trial {number} lost its worker (no heartbeat for more than 6 s)" in notes
    assert notes.count("lost its worker") == 1  # failed once, by one survivor

    trials = cluster.study_trials()
    orphan = trials[number]
    assert orphan.state == TrialState.FAIL
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == number]
    assert len(retries) == 1
    retry = retries[0]
    assert retry.state == TrialState.COMPLETE, (
        [(t.number, t.state, t.user_attrs, t.system_attrs) for t in trials],
        notes,
    )
    assert retry.params == orphan.params
    assert retry.user_attrs["nnexp.retry_of"] == number
    assert retry.user_attrs[WORKER_ATTR]["pid"] in {p.pid for p in survivors}
    # the total holds: 6 counted trials, all complete; the orphan is replaced by its retry
    assert len(trials) == 7
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 6

    client = cluster.client()
    killed = client.get_run(orphan_run)
    assert killed.info.status == "KILLED"
    assert killed.data.tags["trial_state"] == "FAIL"
    assert killed.data.tags["error"].startswith("orphaned: no heartbeat")
    parents, children = cluster.parents_and_children()
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == 7
    assert sorted(c.info.status for c in children) == ["FINISHED"] * 6 + ["KILLED"]
    retry_run = next(c for c in children if c.data.tags["trial_number"] == str(retry.number))
    assert retry_run.data.tags["trial_seed"] == str(number)  # keeps the orphan's seed
    assert retry_run.data.tags["trial_retry_of"] == str(number)
    _assert_no_password(cluster, *(out + err for _, out, err in results))

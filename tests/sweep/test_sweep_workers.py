"""Several processes on one study, and a worker killed with SIGKILL mid-trial (CLI subprocesses)."""

from __future__ import annotations

import os
import signal
import time

from optuna.trial import TrialState

from nnexp.sweep.orphans import WORKER_ATTR

# about 0.5-1 s a trial, so that both workers get trials
SLOWER = [
    "data.n_samples=400",
    "trainer.epochs=150",
    "sweep.log_model=none",
    "sweep.pruner.name=none",
]


def _assert_exactly(bench, n: int) -> list:
    trials = bench.study("lr").get_trials()
    assert len(trials) == n
    assert all(t.state == TrialState.COMPLETE for t in trials)
    parents, children = bench.parents_and_children()
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert len(children) == n
    assert sorted(int(c.data.tags["trial_number"]) for c in children) == list(range(n))
    assert {c.info.status for c in children} == {"FINISHED"}
    return trials


def test_two_workers_five_trials_each_is_exactly_ten(bench) -> None:
    done = bench.cli(*bench.overrides("lr", *SLOWER, "sweep.n_trials=10", "sweep.workers=2"))
    assert done.returncode == 0, done.stderr
    trials = _assert_exactly(bench, 10)
    pids = {t.user_attrs[WORKER_ATTR]["pid"] for t in trials}
    assert len(pids) == 2  # both processes ran trials
    assert "10 trials (10 complete, 0 pruned, 0 failed)" in done.stdout


def test_independent_launches_of_one_command_cooperate(bench) -> None:
    args = bench.overrides("lr", *SLOWER, "sweep.n_trials=6")
    processes = [bench.start(*args) for _ in range(2)]
    for process in processes:
        _, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
    _assert_exactly(bench, 6)


def test_kill_9_mid_trial_then_restart_fails_and_reruns_the_orphan(bench) -> None:
    args = bench.overrides(
        "lr",
        "data.n_samples=2000",
        "trainer.epochs=2000",
        "sweep.n_trials=1",
        "sweep.log_model=none",
        "sweep.pruner.name=none",
    )
    process = bench.start(*args)
    deadline = time.monotonic() + 120
    running = []
    while not running and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        # the journal appears once the MLflow database is fully created: reading the database
        # earlier would race its creation (MlflowClient creates missing tables itself)
        if list((bench.workdir / "mlruns" / "optuna").glob("lr*.journal")):
            running = [c for c in bench.parents_and_children()[1] if c.info.status == "RUNNING"]
    assert running, process.communicate()[1] if process.poll() is not None else "no trial started"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    orphan_run = running[0].info.run_id
    number = int(running[0].data.tags["trial_number"])

    done = bench.cli(*args)
    assert done.returncode == 0, done.stderr
    assert f"trial {number} was orphaned" in done.stderr
    trials = bench.study("lr").get_trials()
    orphan = trials[number]
    assert orphan.state == TrialState.FAIL
    assert orphan.user_attrs["fail_reason"].startswith("orphaned: worker pid")
    retry = [t for t in trials if t.user_attrs.get("nnexp.retry_of") == number]
    assert len(retry) == 1 and retry[0].state == TrialState.COMPLETE
    assert retry[0].params == orphan.params
    retry_run = next(
        c
        for c in bench.parents_and_children()[1]
        if c.data.tags["trial_number"] == str(retry[0].number)
    )
    assert retry_run.data.tags["trial_seed"] == str(number)  # keeps the orphan's seed
    assert len([t for t in trials if t.state == TrialState.COMPLETE]) == 1  # the total holds
    client = bench.client()
    assert client.get_run(orphan_run).info.status == "KILLED"
    assert client.get_run(orphan_run).data.tags["trial_state"] == "FAIL"
    assert not [r for r in bench.runs() if r.info.status == "RUNNING"]

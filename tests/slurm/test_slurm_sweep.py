"""``sweep.launcher=slurm`` on a real Slurm: workers as a job array on one PostgreSQL study."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from optuna.trial import TrialState

from nnexp.sweep.orphans import WORKER_ATTR

pytestmark = pytest.mark.slow

# Short heartbeats, so that a killed worker's trial is retried within seconds.
HEARTBEAT = ["sweep.heartbeat_interval=1", "sweep.grace_period=6"]


def _job_id(out: str) -> str:
    found = re.search(r"submitted Slurm job array (\d+): ", out)
    assert found, out
    return found.group(1)


def test_three_slurm_workers_share_one_study_and_one_parent(slurm_sweep) -> None:
    result = slurm_sweep.run(*slurm_sweep.args("sweep.n_trials=6", "sweep.workers=3"))
    assert result.returncode == 0, result.stderr
    job = _job_id(result.stdout)
    assert f"worker(s) {job}_0..{job}_2 for study '{slurm_sweep.study}'" in result.stdout
    assert f"nnexp: sweep {slurm_sweep.study} on Slurm: 6/6 trials done, best " in result.stdout
    assert "3 of 3 worker jobs finished" in result.stdout
    assert "| jobs: 0 pending, 0 running, 3 ended" in result.stdout

    from nnexp.sweep.storage import counted_trials

    # exactly 6 trials count; a trial failed by something outside it (on a loaded machine: the
    # store, a stale heartbeat) is replaced by its retry and does not count
    trials = counted_trials(slurm_sweep.study_trials())
    assert len(trials) == 6
    assert {t.state for t in trials} == {TrialState.COMPLETE}
    assert len({t.user_attrs[WORKER_ATTR]["pid"] for t in trials}) >= 2  # shared, not serial

    parents, children = slurm_sweep.kinds("sweep")
    assert len(parents) == 1
    assert parents[0].info.status == "FINISHED"
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    finished = [c for c in children if c.info.status == "FINISHED"]
    assert sorted(int(c.data.tags["trial_number"]) for c in finished) == sorted(
        t.number for t in trials
    )
    assert "RUNNING" not in {c.info.status for c in children}
    # each task ran the plain worker command and wrote its exit code
    folder = slurm_sweep.root / "mlruns" / "slurm"
    for task in range(3):
        assert (folder / f"{job}_{task}.exit").read_text().strip() == "0"
    command = [
        line for line in next(folder.glob("*.sh")).read_text().splitlines() if " -m nnexp " in line
    ]
    assert len(command) == 1
    assert " -m nnexp +sweep=lr " in command[0]
    assert command[0].endswith(" sweep.workers=1 sweep.launcher=local")
    assert "sweep.launcher=slurm" not in command[0]
    assert "launcher.poll_interval" not in command[0]
    # the storage's password reached the workers (they ran) through the environment sbatch
    # passes, and no byte of what nnexp wrote or printed (job script, outputs, mlruns/)
    secret = slurm_sweep.postgres.password
    assert f"nnexp:{secret}@" in slurm_sweep.postgres.uri("optuna")
    assert "nnexp:***@" in command[0]
    assert secret not in result.stdout + result.stderr
    written = [path for path in slurm_sweep.root.rglob("*") if path.is_file()]
    assert folder / f"{job}_0.out" in written
    assert [path for path in written if secret.encode() in path.read_bytes()] == []


def test_a_cancelled_worker_leaves_its_trial_to_the_others(slurm_sweep) -> None:
    """``scancel`` of one task mid-trial: the sweep still ends with exactly n finished trials,
    nothing RUNNING, and the launcher says which job failed (exit 1)."""
    # trials of a second or two, so that the cancel lands inside the one it picked
    args = slurm_sweep.args(
        "sweep.n_trials=8",
        "sweep.workers=3",
        "data.n_samples=400",
        "trainer.epochs=300",
        *HEARTBEAT,
    )
    launcher = slurm_sweep.start(*args)
    first = launcher.stdout.readline()
    job = _job_id(first)

    victim: dict[str, int] = {}

    def a_task_mid_trial() -> bool:
        """A RUNNING trial of a worker of this array, while all three tasks run (the trial's
        worker pid is a process on this node; its environment names its Slurm task)."""
        if len(slurm_sweep.slurm.queue()) != 3:
            return False
        for trial in _trials_or_none(slurm_sweep):
            if trial.state == TrialState.RUNNING and WORKER_ATTR in trial.user_attrs:
                task = _slurm_task(trial.user_attrs[WORKER_ATTR]["pid"], job)
                if task is not None:
                    victim.update(task=task, trial=trial.number)
                    return True
        return False

    slurm_sweep.wait_for(a_task_mid_trial, 120, "a worker running a trial")
    task = victim["task"]
    cancelled = slurm_sweep.slurm.run("scancel", f"{job}_{task}")
    assert cancelled.returncode == 0, cancelled.stderr
    out, err = launcher.communicate(timeout=240)
    assert launcher.returncode == 1, err
    assert f"1 of 3 Slurm worker jobs failed: {job}_{task} cancelled (scancel)" in err
    assert "8/8 trials done" in first + out

    trials = slurm_sweep.study_trials()
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 8
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    # the cancelled worker's trial failed and was run again by another worker
    assert trials[victim["trial"]].state == TrialState.FAIL

    parents, children = slurm_sweep.kinds("sweep")
    assert len(parents) == 1
    assert parents[0].info.status == "FINISHED"
    assert sum(c.info.status == "FINISHED" for c in children) == 8
    assert not [c for c in children if c.info.status == "RUNNING"]


def test_ctrl_c_while_following_cancels_the_jobs(slurm_sweep) -> None:
    args = slurm_sweep.args("sweep.n_trials=50", "sweep.workers=2", "trainer.epochs=150")
    launcher = slurm_sweep.start(*args)
    job = _job_id(launcher.stdout.readline())
    slurm_sweep.wait_for(
        lambda: any(t.state == TrialState.RUNNING for t in _trials_or_none(slurm_sweep)),
        120,
        "a running trial",
    )
    launcher.send_signal(signal.SIGINT)
    _, err = launcher.communicate(timeout=60)
    assert launcher.returncode == 130, err
    assert f"cancelled Slurm job array {job} (scancel {job})" in err
    slurm_sweep.wait_for(lambda: not slurm_sweep.slurm.queue(), 60, "the jobs to leave the queue")
    # the workers stopped on SIGTERM: their trials failed and re-queued, nothing left RUNNING
    slurm_sweep.wait_for(
        lambda: not [t for t in slurm_sweep.study_trials() if t.state == TrialState.RUNNING],
        30,
        "no RUNNING trial",
    )
    assert len(slurm_sweep.study_trials()) < 50


def test_no_follow_returns_at_once_and_leaves_the_jobs_running(slurm_sweep) -> None:
    args = slurm_sweep.args("sweep.n_trials=2", "sweep.workers=2", "launcher.follow=false")
    result = slurm_sweep.run(*args, timeout=60)
    assert result.returncode == 0, result.stderr
    job = _job_id(result.stdout)
    assert f"watch: squeue -j {job}    cancel: scancel {job}" in result.stdout
    assert "trials done" not in result.stdout
    assert {line.split()[0] for line in slurm_sweep.slurm.queue()} <= {f"{job}_0", f"{job}_1"}
    assert slurm_sweep.slurm.queue()  # still there after the command returned
    # (the fixture cancels them)


def _slurm_task(pid: int, job: str) -> int | None:
    """The array task index of process ``pid`` if it is a task of ``job`` (from its environment)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    variables = dict(item.decode(errors="replace").partition("=")[::2] for item in environ)
    if variables.get("SLURM_ARRAY_JOB_ID") != job:
        return None
    return int(variables["SLURM_ARRAY_TASK_ID"])


def _trials_or_none(slurm_sweep) -> list:
    try:
        return slurm_sweep.study_trials()
    except Exception:  # the first worker has not created the study yet
        return []

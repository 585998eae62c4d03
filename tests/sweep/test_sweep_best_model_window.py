"""Issue 12.3: the best trial's run is never reaped while the sweep logs its model.

The old window is reproduced deterministically: while the sweep's last step logs the best
trial's model, another nnexp process opens the store, which runs the dead-process reaper. The
run once was reopened (RUNNING) for this; now it stays FINISHED throughout.
"""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

REAP = "import sys; from nnexp.tracking import open_store; open_store(sys.argv[1], 'nnexp', None)"


def test_a_reopened_best_trial_is_not_reaped(bench, monkeypatch) -> None:
    done = bench.cli(*bench.overrides("lr", "sweep.n_trials=1", "sweep.log_model=none"))
    assert done.returncode == 0, done.stderr
    (trial,) = bench.parents_and_children()[1]
    assert trial.data.tags["trial_state"] == "COMPLETE"
    trainer_pid = trial.data.tags["nnexp.pid"]  # that process has exited

    import nnexp.tracking.pyfunc as pyfunc
    from nnexp.sweep.overrides import TrialComposer
    from nnexp.sweep.validate import config_groups
    from nnexp.tracking.sweep_runs import SweepRuns

    real = pyfunc.log_pyfunc_model
    seen = {}

    def log_while_another_nnexp_starts(*args, **kwargs):
        seen["status"] = bench.client().get_run(trial.info.run_id).info.status
        other = subprocess.run(
            [sys.executable, "-c", REAP, bench.store_uri],
            capture_output=True,
            text=True,
            timeout=120,
            env=bench.env(),
        )
        seen["reaper"] = other.stderr
        return real(*args, **kwargs)

    monkeypatch.setattr(pyfunc, "log_pyfunc_model", log_while_another_nnexp_starts)
    tracking = SimpleNamespace(
        uri=bench.store_uri,
        experiment_name="nnexp",
        artifact_location=str(bench.workdir / "mlruns" / "artifacts"),
    )
    runs = SweepRuns(tracking, "lr", "journal:optuna/lr.journal")
    overrides = trial.data.tags["overrides"].split()
    uri = runs.log_best_model(trial.info.run_id, overrides, TrialComposer(set(config_groups())))

    assert seen["status"] == "FINISHED"  # never reopened: nothing for a reaper to take
    assert "was left RUNNING" not in seen["reaper"], seen["reaper"]
    after = bench.client().get_run(trial.info.run_id)
    assert after.info.status == "FINISHED"
    assert after.data.tags["trial_state"] == "COMPLETE"
    assert "error" not in after.data.tags
    assert after.data.tags["model_uri"] == uri
    assert after.data.tags["nnexp.pid"] == trainer_pid  # the record names its trainer again


def test_the_reaper_keeps_a_finished_trials_state(bench) -> None:
    """A trial whose result is in, left RUNNING by a dead process, ends KILLED but keeps
    ``trial_state=COMPLETE`` (it is not a failed trial)."""
    from mlflow.entities import RunTag

    from nnexp.tracking import reaper
    from nnexp.tracking.store import open_store

    store = open_store(bench.store_uri, "nnexp", None)
    client = bench.client()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    ).stdout.strip()
    tags = {**reaper.process_tags(), "nnexp.pid": dead, "nnexp.pid_start": "1"}
    tags.update({"nnexp.kind": "trial", "trial_state": "COMPLETE"})
    run = client.create_run(store.experiment_id, tags=tags)
    client.log_batch(run.info.run_id, tags=[RunTag("x", "y")])
    reaper._reaped.clear()
    assert [r for r, _ in reaper.reap_dead_local_runs(store)] == [run.info.run_id]
    after = client.get_run(run.info.run_id)
    assert after.info.status == "KILLED"
    assert after.data.tags["trial_state"] == "COMPLETE"

"""A Hydra multirun on Slurm (hydra-submitit-launcher): one Slurm job per run, one MLflow parent."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_multirun_of_three_slurm_jobs_is_grouped_under_one_parent(slurm_sweep) -> None:
    pytest.importorskip(
        "hydra_plugins.hydra_submitit_launcher",
        reason="pip install 'nnexp[slurm]' (submitit, hydra-submitit-launcher)",
    )
    result = slurm_sweep.run(
        "-m",
        "hydra/launcher=submitit_slurm",
        "hydra.launcher.timeout_min=10",
        "data.n_samples=100",
        "trainer.epochs=5",
        "trainer.progress=false",
        "tracking.log_model=false",
        *slurm_sweep.tracking(),
        "optimizer.lr=0.01,0.1,1",
    )
    assert result.returncode == 0, result.stderr
    parents, children = slurm_sweep.kinds("multirun")
    assert len(parents) == 1
    assert parents[0].info.status == "FINISHED"
    assert len(children) == 3
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert sorted(float(c.data.params["optimizer.lr"]) for c in children) == [0.01, 0.1, 1.0]
    assert {c.info.status for c in children} == {"FINISHED"}
    # each child ran in a Slurm job of its own (submitit's job folders, one per task)
    jobs = {p.name for p in slurm_sweep.root.glob("mlruns/.hydra/*/.submitit/*_*") if p.is_dir()}
    assert len(jobs) == 3, jobs


def test_a_failing_slurm_job_fails_the_multirun_with_its_error(slurm_sweep) -> None:
    """A job that fails on its data (a batch larger than its training split, which only the job
    can tell: a bad value is refused before anything is submitted) is raised in its Slurm job
    and reported by the launching command."""
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    result = slurm_sweep.run(
        "-m",
        "hydra/launcher=submitit_slurm",
        "data.n_samples=100",
        "trainer.epochs=5",
        "trainer.progress=false",
        "tracking.log_model=false",
        *slurm_sweep.tracking(),
        "trainer.batch_size=16,5000",
    )
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("nnexp: error:")]
    assert len(errors) == 1 and "trainer.batch_size=5000" in errors[0], result.stderr
    parents, children = slurm_sweep.kinds("multirun")
    assert len(parents) == 1
    assert parents[0].info.status != "RUNNING"
    assert [int(c.data.params["trainer.batch_size"]) for c in children] == [16]

"""``hydra.job.chdir=true`` with an output folder outside the project: the store and every
relative path stay the user's (README "Which store")."""

from __future__ import annotations

from pathlib import Path

from nnexp_testing import run_nnexp as nnexp

QUICK = [
    "trainer.epochs=2",
    "trainer.progress=false",
    "tracking.log_model=false",
    "tracking.log_plots=false",
]
TINY = ["data.n_samples=200", *QUICK]


def run_ids(db: Path) -> set[str]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiment = client.get_experiment_by_name("nnexp")
    return {run.info.run_id for run in client.search_runs([experiment.experiment_id])}


def write_csv(path: Path) -> None:
    rows = ["x1,x2,label"]
    rows += [f"{i % 7 / 7:.3f},{i % 5 / 5:.3f},{int(i % 7 > 3)}" for i in range(60)]
    path.write_text("\n".join(rows) + "\n")


def test_job_chdir_outside_the_project_keeps_the_store_and_relative_paths(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text("[project]\nname = 'study'\n")
    write_csv(project / "mine.csv")
    out = tmp_path / "out1"
    made = nnexp(project, *TINY, f"hydra.run.dir={out}", "hydra.job.chdir=true")
    assert made.returncode == 0, made.stderr
    db = project / "mlruns" / "mlflow.db"
    assert f"in sqlite:///{db}\n" in made.stdout
    # the printed UI command, pasted in the user's shell, opens the store holding the run
    assert "open the UI: mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db," in made.stdout
    assert not (out / "mlruns").exists()
    (single,) = run_ids(db)
    assert single in made.stdout

    # a multirun (chdir into its job folders) with a relative data.path
    multi = nnexp(
        project, "-m", *QUICK, "data=csv", "data.path=mine.csv", "data.target=label",
        f"hydra.sweep.dir={tmp_path / 'multi'}", "hydra.job.chdir=true", "seed=1,2",
    )  # fmt: skip
    assert multi.returncode == 0, multi.stderr
    assert len(run_ids(db)) == 4  # the first run, the parent, its two jobs
    assert not list((tmp_path / "multi").rglob("mlflow.db"))

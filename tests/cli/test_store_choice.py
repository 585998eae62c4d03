"""Which store a command uses (issue 13.3, 13.4): MLflow's variables, the project's mlruns/."""

from __future__ import annotations

from pathlib import Path

import pytest
from nnexp_testing import FAST
from nnexp_testing import run_nnexp as nnexp

from nnexp.project import project_root, store_dir, tracking_uri

TINY = [*FAST, "trainer.epochs=3", "tracking.log_model=false", "tracking.log_plots=false"]


def experiments(db: Path) -> dict[str, list]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    return {
        e.name: client.search_runs([e.experiment_id])
        for e in client.search_experiments()
        if e.name != "Default"
    }


def test_the_project_root_is_found_as_git_finds_its_own(tmp_path: Path) -> None:
    (tmp_path / "proj" / "conf" / "deep").mkdir(parents=True)
    (tmp_path / "proj" / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "gitproj" / "sub").mkdir(parents=True)
    (tmp_path / "gitproj" / ".git").mkdir()
    (tmp_path / "loose").mkdir()
    assert project_root(tmp_path / "proj" / "conf" / "deep") == tmp_path / "proj"
    assert store_dir(tmp_path / "proj" / "conf" / "deep") == tmp_path / "proj" / "mlruns"
    assert store_dir(tmp_path / "gitproj" / "sub") == tmp_path / "gitproj" / "mlruns"
    assert project_root(tmp_path / "loose") is None  # nothing up to / marks a project
    assert store_dir(tmp_path / "loose") == tmp_path / "loose" / "mlruns"


def test_explicit_beats_the_environment_beats_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    default = tracking_uri(None)
    assert (default.value, default.source) == (f"sqlite:///{tmp_path}/mlruns/mlflow.db", "default")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///env/mlflow.db")
    env = tracking_uri(None)
    assert (env.value, env.source) == ("sqlite:///env/mlflow.db", "MLFLOW_TRACKING_URI")
    explicit = tracking_uri("sqlite:///x.db")
    assert (explicit.value, explicit.source) == ("sqlite:///x.db", "tracking.uri")


def test_mlflow_tracking_uri_and_experiment_name_are_honoured(tmp_path: Path) -> None:
    env_db = tmp_path / "elsewhere" / "mlflow.db"
    variables = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{env_db}",
        "MLFLOW_EXPERIMENT_NAME": "from-env",
    }
    made = nnexp(tmp_path, *TINY, **variables)
    assert made.returncode == 0, made.stderr
    assert f"MLflow store: sqlite:///{env_db} (from MLFLOW_TRACKING_URI)" in made.stdout
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()
    recorded = experiments(env_db)
    assert list(recorded) == ["from-env"] and len(recorded["from-env"]) == 1
    run_id = recorded["from-env"][0].info.run_id

    listed = nnexp(tmp_path, "runs", **variables)
    assert listed.returncode == 0, listed.stderr
    assert run_id[:8] in listed.stdout
    assert f"store: sqlite:///{env_db} (from MLFLOW_TRACKING_URI)" in listed.stdout
    # reproduce and compare read the same store, and say so
    reproduced = nnexp(tmp_path, "reproduce", run_id[:8], **variables)
    assert reproduced.returncode == 0, reproduced.stderr
    assert f"from sqlite:///{env_db} (from MLFLOW_TRACKING_URI)" in reproduced.stdout
    assert "result: bit-identical" in reproduced.stdout
    second = nnexp(tmp_path, *TINY, "seed=1", **variables)
    assert second.returncode == 0, second.stderr
    other = next(r.info.run_id for r in experiments(env_db)["from-env"] if r.info.run_id != run_id)
    compared = nnexp(tmp_path, "compare", run_id[:8], other[:8], **variables)
    assert compared.returncode == 0, compared.stderr
    assert f"store: sqlite:///{env_db} (from MLFLOW_TRACKING_URI)" in compared.stdout

    # an explicit tracking.uri / experiment outranks the variables
    own_db = tmp_path / "own.db"
    explicit = nnexp(
        tmp_path,
        *TINY,
        f"tracking.uri=sqlite:///{own_db}",
        "tracking.experiment_name=mine",
        **variables,
    )
    assert explicit.returncode == 0, explicit.stderr
    assert "from MLFLOW_TRACKING_URI" not in explicit.stdout
    assert list(experiments(own_db)) == ["mine"]
    assert len(experiments(env_db)["from-env"]) == 2


def test_from_a_subfolder_the_project_store_is_used(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "notes" / "deep").mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'study'\n")
    made = nnexp(project / "notes" / "deep", "-m", *TINY, "seed=1,2")
    assert made.returncode == 0, made.stderr
    assert not (project / "notes" / "deep" / "mlruns").exists()
    runs = experiments(project / "mlruns" / "mlflow.db")["nnexp"]
    assert len(runs) == 3  # the multirun's parent and its two jobs
    # Hydra's multirun bookkeeping follows the store
    assert list((project / "mlruns" / ".hydra").iterdir())
    listed = nnexp(project / "notes", "runs")
    assert listed.returncode == 0, listed.stderr
    assert f"store: sqlite:///{project}/mlruns/mlflow.db" in listed.stdout

"""A study's identity follows the command (issue 13.1) and its storage key survives a move (12.11)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import nnexp_forkserver

from nnexp.sweep.identity import default_study_name, identity_overrides, storage_key


def test_default_study_name_follows_the_overrides_that_define_the_study() -> None:
    assert default_study_name("lr", ["+sweep=lr"]) == "lr"
    # n_trials (a total), workers, timeout, sampler, tracking: not part of the identity
    same = ["+sweep=lr", "sweep.n_trials=50", "sweep.workers=2", "tracking=off", "sweep.timeout=9"]
    assert default_study_name("lr", same) == "lr"
    sgd = default_study_name("lr", ["+sweep=lr", "optimizer=sgd", "sweep.n_trials=50"])
    assert sgd.startswith("lr-") and len(sgd) == len("lr-") + 8
    assert sgd == default_study_name("lr", ["optimizer=sgd", "+sweep=lr"])  # order-free
    assert sgd != default_study_name("lr", ["+sweep=lr", "optimizer=adam"])
    # the space and the metric define the study; the last override of a key wins
    assert identity_overrides(["a=1", "sweep.space.lr.high=0.3", "a=2", "sweep.pruner.name=x"]) == [
        "a=2",
        "sweep.space.lr.high=0.3",
    ]


def test_storage_key_does_not_depend_on_the_project_folder(tmp_path: Path, monkeypatch) -> None:
    for project in ("projA", "projB"):
        root = tmp_path / project / "mlruns"
        journal = root / "optuna" / "lr.journal"
        assert storage_key(str(journal), None, root) == "journal:optuna/lr.journal"
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path}/studies/o.db"
    assert storage_key(str(url), url, None) == "sqlite:///studies/o.db"
    secret = "postgresql://u:hunter2@db:5432/optuna"
    assert "hunter2" not in storage_key(secret, secret, None)


def test_readme_sequence_runs_two_studies(bench) -> None:
    """``+sweep=lr`` then ``+sweep=lr optimizer=sgd sweep.n_trials=N``: two studies, no error."""
    bench.run("lr", "sweep.n_trials=1", "trainer.epochs=2", "tracking=off")
    bench.run("lr", "optimizer=sgd", "sweep.n_trials=2", "trainer.epochs=2", "tracking=off")
    folder = bench.workdir / "mlruns" / "optuna"
    names = sorted(p.name for p in folder.glob("*.journal"))
    assert len(names) == 2, names
    plain = default_study_name("lr", ["data.n_samples=100", "trainer.epochs=2"])
    sgd = default_study_name("lr", ["data.n_samples=100", "trainer.epochs=2", "optimizer=sgd"])
    assert names == sorted([f"{plain}.journal", f"{sgd}.journal"])
    assert len(bench.study(sgd).get_trials()) == 2


def _nnexp(bench, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return nnexp_forkserver.run(list(args), cwd, bench.env(), timeout=180)


def test_moving_the_project_keeps_one_parent(bench, monkeypatch) -> None:
    """``mv projA projB`` and the same command: the same parent run, every trial's run id."""
    project = bench.workdir / "projA"
    project.mkdir()
    monkeypatch.chdir(project)
    args = [
        "+sweep=lr",
        "data.n_samples=100",
        "trainer.epochs=2",
        "trainer.progress=false",
        "sweep.log_model=none",
        "sweep.confirm.top_k=0",
    ]
    first = _nnexp(bench, project, *args, "sweep.n_trials=1")
    assert first.returncode == 0, first.stderr
    moved = bench.workdir / "projB"
    shutil.move(str(project), str(moved))
    second = _nnexp(bench, moved, *args, "sweep.n_trials=2")
    assert second.returncode == 0, second.stderr
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{moved}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("nnexp")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("nnexp.kind") == "sweep"]
    assert len(parents) == 1
    assert parents[0].data.tags["nnexp.storage"].startswith("journal:optuna/lr-")
    children = [r for r in runs if r.data.tags.get("nnexp.kind") == "trial"]
    assert sorted(c.data.tags["trial_number"] for c in children) == ["0", "1"]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parents[0].info.run_id}
    assert " - " not in second.stdout.split("#  best_val_loss")[1]  # every trial shows its run id

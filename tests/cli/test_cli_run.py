"""``python -m nnexp`` end to end: what it records in MLflow, read back with MlflowClient."""

from __future__ import annotations

import signal
import time

import numpy as np
import pytest
from nnexp_testing import FAST

pytestmark = pytest.mark.slow


def test_single_run_is_recorded_completely(nnexp_cmd):
    result = nnexp_cmd.run(*FAST, "seed=3", "optimizer.lr=0.02")
    assert result.returncode == 0, result.stderr
    runs = nnexp_cmd.runs()
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.info.run_id in result.stdout
    assert (
        "  open the UI: mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db, then "
        f"http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs"
        "?workflowType=machine_learning\n"
    ) in result.stdout
    assert "diagnosis:" in result.stdout

    params = run.data.params
    assert params["optimizer.lr"] == "0.02"
    assert params["model.hidden_sizes"] == "[16, 16]"
    assert params["trainer.epochs"] == "12"
    assert params["seed"] == "3"
    # unset (the default store: $MLFLOW_TRACKING_URI, else the project's); the store used is
    # the one the summary names
    assert params.get("tracking.uri", "null") == "null"
    assert f"in sqlite:///{nnexp_cmd.workdir}/mlruns/mlflow.db" in result.stdout

    client = nnexp_cmd.client()
    history = client.get_metric_history(run.info.run_id, "train_loss")
    assert [m.step for m in history] == list(range(1, 13))
    val_history = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert len(val_history) == 12
    metrics = run.data.metrics
    assert metrics["final_train_loss"] == history[-1].value
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["best_epoch"] in range(1, 13)

    tags = run.data.tags
    assert tags["diagnosis"] in ("underfit", "good", "overfit", "unstable", "diverged")
    assert tags["seed"] == "3"
    assert tags["overrides"].split() == [*FAST, "seed=3", "optimizer.lr=0.02"]
    assert len(tags["git_commit"]) == 40 or tags["git_commit"] == "unknown"
    assert tags["git_dirty"] in ("true", "false", "unknown")
    assert tags["numpy_version"] == np.__version__
    assert tags["blas"]
    assert len(tags["data.fingerprint.train"]) == 16

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {
        "config.yaml",
        "history.csv",
        "learning_curves.png",
        "model.npz",
        "diagnosis.json",
    } <= artifacts

    inputs = {d.dataset.name: d.dataset.digest for d in run.inputs.dataset_inputs}
    assert inputs["moons-train"] == tags["data.fingerprint.train"]
    assert tags["mlflow.user"] and tags["mlflow.source.type"] == "LOCAL"
    # an epoch's wall time stays in history.csv: as a metric it would be noise, not a curve
    assert "epoch_time" not in metrics and metrics["train_time"] > 0


def test_a_run_without_the_pyfunc_model_is_recorded_the_same_way(nnexp_cmd):
    """Without a model to log, the run is created in one round trip, never made active."""
    result = nnexp_cmd.run(*FAST, "tracking.log_model=false")
    assert result.returncode == 0, result.stderr
    (run,) = nnexp_cmd.runs()
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert "model_uri" not in tags
    assert tags["mlflow.runName"] == run.info.run_name == "mlp-moons-adam-lr0.01-s0"
    assert tags["mlflow.user"] and tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"].endswith("__main__.py")
    assert tags["mlflow.note.content"].startswith("`python -m nnexp ")
    assert tags["diagnosis"] in ("underfit", "good", "overfit", "unstable", "diverged")
    assert tags["stop_reason"] == "completed"
    history = nnexp_cmd.client().get_metric_history(run.info.run_id, "val_loss")
    assert [m.step for m in history] == list(range(1, 13))
    assert run.data.metrics["final_val_loss"] == history[-1].value


def test_pyfunc_model_predicts_like_the_trained_network(nnexp_cmd):
    import mlflow

    from nnexp.build import build_splits
    from nnexp.config.compose import compose_config
    from nnexp.nn import load_model

    result = nnexp_cmd.run(*FAST, "data=circles")
    assert result.returncode == 0, result.stderr
    run = nnexp_cmd.runs()[0]
    mlflow.set_tracking_uri(nnexp_cmd.store_uri)
    pyfunc = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    weights = nnexp_cmd.client().download_artifacts(
        run.info.run_id, "model.npz", str(nnexp_cmd.workdir)
    )
    network = load_model(weights)

    cfg = compose_config([*FAST, "data=circles"])
    dataset, splits = build_splits(cfg.data, cfg.seed)
    raw = dataset.X[:50]
    expected = network.predict((raw - splits.scaler_mean) / splits.scaler_std)
    np.testing.assert_array_equal(np.asarray(pyfunc.predict(raw)), expected)


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["optimizer.lr=abc"],
            "optimizer.lr=abc: Value 'abc' of type 'str' could not be converted",
        ),
        (["optimizer.lr=-0.5"], "optimizer.lr=-0.5 is invalid: must be > 0"),
        (["trainer.epochs=1.5"], "trainer.epochs=1.5"),
        (["optimizer.lrr=1"], "unknown config key 'optimizer.lrr'"),
        (["model=huge"], "unknown option 'huge' for 'model'; valid options:"),
        (["data.val_fraction=1.2"], "data.val_fraction=1.2 is invalid"),
        (["data=sine", "trainer.batch_size=500"], "trainer.batch_size=500 is invalid: larger than"),
        (["data=csv", "data.path=/nonexistent.csv", "data.target=y"], "/nonexistent.csv"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line_and_no_run(nnexp_cmd, args, message):
    result = nnexp_cmd.run(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nnexp: error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert nnexp_cmd.runs() == []


def test_credentials_never_reach_the_console(nnexp_cmd):
    result = nnexp_cmd.run(*FAST, "tracking.uri=http://alice:hunter2@127.0.0.1:9/")
    assert result.returncode == 2
    assert "hunter2" not in result.stderr + result.stdout
    assert "alice:***@127.0.0.1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_killed_run_is_not_left_running(nnexp_cmd, sig, code):
    process = nnexp_cmd.start("trainer.epochs=100000", "data.n_samples=200")
    assert nnexp_cmd.wait_for_run_status("RUNNING"), "the run never appeared"
    time.sleep(0.5)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    [run] = nnexp_cmd.runs()
    assert run.info.status == "KILLED"
    # the epochs trained before the signal are kept
    assert nnexp_cmd.client().get_metric_history(run.info.run_id, "train_loss")


def test_multirun_groups_jobs_under_one_parent(nnexp_cmd):
    result = nnexp_cmd.run("-m", "optimizer.lr=0.01,0.1,1.0", *FAST)
    assert result.returncode == 0, result.stderr
    runs = nnexp_cmd.runs()
    parents = [r for r in runs if r.data.tags.get("nnexp.kind") == "multirun"]
    children = [r for r in runs if r.data.tags.get("nnexp.kind") == "run"]
    assert len(parents) == 1 and len(children) == 3
    parent_id = parents[0].info.run_id
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent_id}
    assert sorted(r.data.params["optimizer.lr"] for r in children) == ["0.01", "0.1", "1.0"]
    assert all(r.info.status == "FINISHED" for r in runs)
    assert not (nnexp_cmd.workdir / "outputs").exists()
    assert not (nnexp_cmd.workdir / "multirun").exists()


def test_single_run_writes_no_hydra_tree(nnexp_cmd):
    result = nnexp_cmd.run(*FAST, "tracking=off")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in nnexp_cmd.workdir.iterdir()) == []
    assert "MLflow run" not in result.stdout


def test_help_answers(nnexp_cmd):
    result = nnexp_cmd.run("--help")
    assert result.returncode == 0
    assert "python -m nnexp +sweep=NAME" in result.stdout
    assert "optimizer: adam, adamw, momentum, nesterov, rmsprop, sgd" in result.stdout
    # nnexp's own fast --help prints exactly what Hydra's prints (it answers with an override)
    hydra = nnexp_cmd.run("seed=0", "--help")
    assert hydra.returncode == 0 and hydra.stdout == result.stdout
    assert "sweep:\n  name: lr" in nnexp_cmd.run("+sweep=lr", "--help").stdout

"""A run ends with the status that says what happened, whatever stops it."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from nnexp.config.compose import compose_config
from nnexp.run import run_experiment


class StopAt:
    """A training callback that raises ``error`` at ``epoch``."""

    def __init__(self, epoch: int, error: BaseException):
        self.epoch, self.error = epoch, error

    def on_epoch_end(self, record):
        if record["epoch"] == self.epoch:
            raise self.error


class TrialPruned(Exception):
    """Named like Optuna's: a pruned trial is not a crash."""


def config(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return uri, compose_config(
        [
            "data.n_samples=120",
            "trainer.epochs=8",
            "trainer.progress=false",
            f"tracking.uri={uri}",
            f"tracking.artifact_location={tmp_path / 'artifacts'}",
            "tracking.log_model=false",
        ]
    )


@pytest.mark.parametrize(
    "error,status,tag",
    [
        (RuntimeError("boom at epoch 3"), "FAILED", ("error", "RuntimeError: boom at epoch 3")),
        (KeyboardInterrupt(), "KILLED", ("error", "interrupted (KeyboardInterrupt)")),
        (TrialPruned("pruned at epoch 3"), "FINISHED", ("trial_state", "PRUNED")),
    ],
)
def test_interrupted_run_ends_with_matching_status(tmp_path, error, status, tag):
    uri, cfg = config(tmp_path)
    with pytest.raises(type(error)):
        run_experiment(cfg, callbacks=[StopAt(3, error)])
    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("nnexp").experiment_id])
    assert run.info.status == status
    assert run.data.tags[tag[0]] == tag[1]
    # the epochs before the stop were written
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2, 3]


def test_run_result_matches_recorded_metrics(tmp_path):
    uri, cfg = config(tmp_path)
    result = run_experiment(cfg)
    run = MlflowClient(uri).get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["final_val_loss"] == result.history.final["val_loss"]
    assert run.data.tags["diagnosis"] == result.diagnosis.label
    assert "model_uri" not in run.data.tags  # log_model=false


def test_credentials_are_redacted_everywhere_they_could_be_logged(tmp_path):
    secret = "hunter2"
    uri, _ = config(tmp_path)
    overrides = [
        "data.n_samples=120",
        "trainer.epochs=3",
        "trainer.progress=false",
        f"tracking.uri={uri}",
        f"tracking.artifact_location={tmp_path / 'artifacts'}",
        "tracking.log_model=false",
        f"tracking.run_name=postgresql://bob:{secret}@db/x",
    ]
    result = run_experiment(compose_config(overrides), overrides=overrides)
    client = MlflowClient(uri)
    run = client.get_run(result.run_id)
    texts = [run.info.run_name, *run.data.params.values(), *run.data.tags.values()]
    folder = client.download_artifacts(result.run_id, "", str(tmp_path / "download"))
    from pathlib import Path

    texts += [p.read_text(errors="ignore") for p in Path(folder).rglob("*") if p.is_file()]
    assert not [text for text in texts if secret in text]
    assert run.data.params["tracking.run_name"] == "postgresql://bob:***@db/x"
    assert "postgresql://bob:***@db/x" in run.data.tags["overrides"]

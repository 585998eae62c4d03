"""A run's logged model is linked as MLflow links it, without reading every metric's history.

MLflow's ``log_model`` links the run's step-0 metrics to the new logged model by reading the
full history of *every* metric key of the run (one query per key): for a run with the
per-layer statistics that is 34 histories and most of a second. nnexp knows which metrics it
logged at step 0, so it links them itself; the record must be the one MLflow would write.
"""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow

SOURCE = ("mlflow.user", "mlflow.source.")
RUN = ["data.n_samples=200", "trainer.epochs=6", "trainer.progress=false"]


def _run(tmp_path, monkeypatch):
    from nnexp.config.compose import compose_config
    from nnexp.run import run_experiment

    monkeypatch.chdir(tmp_path)
    return run_experiment(compose_config(RUN))


def test_the_model_carries_the_runs_final_metrics_params_and_source(tmp_path, monkeypatch):
    result = _run(tmp_path, monkeypatch)
    client = MlflowClient(result.store_uri)
    run = client.get_run(result.run_id)
    (output,) = run.outputs.model_outputs
    assert output.step == 0
    model = client.get_logged_model(output.model_id)
    assert result.model_uri == f"models:/{model.model_id}"
    assert model.source_run_id == result.run_id
    assert model.experiment_id == run.info.experiment_id
    assert model.status.to_proto() == model.status.READY.to_proto()
    assert model.params == run.data.params
    linked = {m.key: m.value for m in model.metrics}
    assert linked == {key: float(value) for key, value in result.final_metrics.items()}
    assert {m.run_id for m in model.metrics} == {result.run_id}
    assert all(m.step == 0 for m in model.metrics)
    # linking adds no point to the run's own history
    (final,) = client.get_metric_history(result.run_id, "final_val_loss")
    assert final.value == result.final_metrics["final_val_loss"]
    # the per-epoch curves are the run's, not the model's
    assert "train_loss" in run.data.metrics and "train_loss" not in linked
    # MLflow's own search finds the model by its metric
    found = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"metrics.final_val_loss = {result.final_metrics['final_val_loss']!r}",
    )
    assert [m.model_id for m in found] == [model.model_id]


def test_no_metric_history_is_read_to_link_the_model(tmp_path, monkeypatch):
    reads = []
    real = MlflowClient.get_metric_history

    def counted(self, run_id, key):
        reads.append(key)
        return real(self, run_id, key)

    monkeypatch.setattr(MlflowClient, "get_metric_history", counted)
    result = _run(tmp_path, monkeypatch)
    assert result.model_uri.startswith("models:/m-")
    assert reads == []
    assert mlflow.active_run() is None


def test_the_model_takes_the_runs_source_tags_without_probing_for_notebooks(tmp_path, monkeypatch):
    # mlflow.initialize_logged_model resolves its tags through every context provider: in a
    # fresh process the notebook probe alone imports IPython (0.3 s of every run). The run's
    # own user and source tags are what those providers would give.
    from mlflow.tracking.context import registry

    def no_probe(*args, **kwargs):
        raise AssertionError("the context providers were probed")

    monkeypatch.setattr(registry, "resolve_tags", no_probe)
    result = _run(tmp_path, monkeypatch)
    client = MlflowClient(result.store_uri)
    run = client.get_run(result.run_id)
    model = client.get_logged_model(run.outputs.model_outputs[0].model_id)
    source = {key: value for key, value in run.data.tags.items() if key.startswith(SOURCE)}
    assert set(source) >= {"mlflow.user", "mlflow.source.name", "mlflow.source.type"}
    assert {k: v for k, v in model.tags.items() if k.startswith(SOURCE)} == source


def test_the_requirements_are_written_without_scanning_every_installed_distribution(
    tmp_path, monkeypatch
):
    # MLflow checks a model's requirements against the interpreter by mapping every installed
    # distribution to its modules (0.6 s of a fresh process). nnexp's requirements are the
    # running versions, so the scan is skipped while the model is logged, and only then.
    import importlib.metadata
    from pathlib import Path

    import numpy as np
    from mlflow.utils import environment, requirements_utils

    scans = []

    def no_scan(*args, **kwargs):  # MLflow catches what the check raises: count the calls
        scans.append(args)
        return {}

    check = environment.warn_dependency_requirement_mismatches
    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)
    monkeypatch.setattr(requirements_utils.importlib_metadata, "packages_distributions", no_scan)
    monkeypatch.setattr(importlib.metadata, "packages_distributions", no_scan)
    result = _run(tmp_path, monkeypatch)
    assert scans == []
    assert environment.warn_dependency_requirement_mismatches is check  # put back
    written = Path(mlflow.pyfunc.get_model_dependencies(result.model_uri)).read_text()
    assert sorted(written.split()) == [f"mlflow=={mlflow.__version__}", f"numpy=={np.__version__}"]

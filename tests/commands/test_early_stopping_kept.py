"""An early-stopped run describes the model it keeps: the summary rows, the ``final_*`` metrics
read back from MLflow and the diagnosis all speak of the restored epoch, whose weights are the
saved ``model.npz``; the curves go on to the last trained epoch."""

from __future__ import annotations

import pytest

from nnexp.config.compose import compose_config
from nnexp.nn import load_model
from nnexp.report import format_summary
from nnexp.run import run_experiment

EARLY = [
    "+experiment=overfit",
    "trainer.early_stopping.enabled=true",
    "trainer.progress=false",
    "tracking.log_plots=false",
    "tracking.log_model=false",  # model.npz is logged all the same
]


def test_final_metrics_are_the_kept_models_losses(store, tmp_path):
    # not store.overrides(): its 6 epochs end before early stopping can trigger
    overrides = [
        *EARLY,
        f"tracking.uri={store.uri}",
        f"tracking.artifact_location={store.artifacts}",
    ]
    result = run_experiment(compose_config(overrides), overrides=overrides)
    history = result.history
    kept, last = history.restored_epoch, history.epochs[-1]["epoch"]
    assert history.stop_reason.startswith("early_stopping:")
    assert kept < last  # early stopping triggered and restored an earlier epoch

    metrics = store.client().get_run(result.run_id).data.metrics
    local = store.client().download_artifacts(result.run_id, "model.npz", str(tmp_path))
    model = load_model(local)
    splits = result.splits
    for split in ("train", "val", "test"):
        data = getattr(splits, split)
        own = model.loss(data.X, data.y)
        key = "test_loss" if split == "test" else f"final_{split}_loss"
        assert metrics[key] == pytest.approx(own, rel=1e-12, abs=1e-15), split
    assert metrics["kept_epoch"] == kept
    assert metrics["final_val_loss"] == history.epochs[kept - 1]["val_loss"]
    assert metrics["final_val_loss"] != history.epochs[-1]["val_loss"]  # not the last epoch's
    assert metrics["epochs_run"] == last

    summary = format_summary(result)
    val_row = next(line for line in summary.splitlines() if line.startswith("  val "))
    assert f"{history.epochs[kept - 1]['val_loss']:.4f}" in val_row
    assert f"; rows: epoch {kept}, the weights early stopping kept" in summary
    reason = result.diagnosis.reason
    assert f"Early stopping kept epoch {kept} of {last} (the saved model" in reason
    assert "stop earlier" not in reason
    assert result.diagnosis.kept_epoch == kept and result.diagnosis.last_epoch == kept

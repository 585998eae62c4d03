"""One run: config -> data -> model -> fit -> diagnosis -> MLflow record.

Single runs, multirun jobs and sweep trials all go through :func:`run_experiment`, so a trial
is exactly a single run with its overrides, and can be re-run by pasting them. Everything that
can be wrong with the input (config ranges, data files, a batch larger than the data, the store)
is checked *before* the MLflow run is created, so bad input never leaves a run behind.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnexp.build import build_model, build_splits, build_training, class_weights


@dataclass
class RunResult:
    """What a run produced; ``run_id`` is None when tracking is off."""

    config: Any
    dataset: Any
    splits: Any
    model: Any
    history: Any
    diagnosis: Any
    baseline_loss: float
    run_id: str | None = None
    store_uri: str | None = None
    store_source: str = ""  # where the store was chosen: tracking.uri, MLFLOW_TRACKING_URI...
    experiment_id: str | None = None
    model_uri: str | None = None
    final_metrics: dict[str, float] = field(default_factory=dict)
    findings: list[Any] = field(default_factory=list)  # nnexp.findings.Finding, the causes
    probe: Any = None  # the nnexp.nn.inspect.LayerProbe that measured the layers, if any


def run_experiment(
    cfg: Any,
    *,
    overrides: Sequence[str] = (),
    parent_run_id: str | None = None,
    extra_tags: Mapping[str, Any] | None = None,
    callbacks: Iterable[Any] = (),
    log_model: bool | None = None,
    progress: bool | None = None,
    run_name: str | None = None,
) -> RunResult:
    """Train the experiment ``cfg`` (a composed, validated config) and record it.

    ``callbacks`` receive every epoch record (a sweep's pruning callback listens here);
    ``log_model`` overrides ``tracking.log_model`` (sweeps log the full model for the best
    trial only); ``progress`` overrides ``trainer.progress``.
    """
    from nnexp.preflight import check_run_inputs
    from nnexp.progress import EpochProgress
    from nnexp.signals import StopOnSignal

    seed = int(cfg.seed)
    dataset, splits = build_splits(cfg.data, seed)
    model = build_model(
        cfg.model, dataset, seed, class_weight=class_weights(cfg.data, splits, dataset)
    )
    baseline = check_run_inputs(cfg, dataset, splits)  # bad input: refused before any record
    optimizer, schedule, schedule_callbacks = build_training(cfg, model, splits, dataset.task)
    show_progress = cfg.trainer.progress if progress is None else progress
    bar = EpochProgress(
        cfg.trainer.epochs,
        description=run_name or "train",
        enabled=None if show_progress else False,
    )
    # StopOnSignal comes last: an epoch's metrics are queued before a Ctrl-C/SIGTERM stops it.
    listeners = [bar, *callbacks, *schedule_callbacks, StopOnSignal()]

    from nnexp import inspection

    probe = inspection.make_probe(cfg, model)
    if not cfg.tracking.enabled:
        checked = inspection.gradient_check(cfg, model, splits)
        history = _fit(cfg, model, optimizer, schedule, splits, listeners, probe)
        return inspection.finish(
            _result(cfg, dataset, splits, model, history, baseline), probe, checked
        )

    tracking = cfg.tracking
    if tracking.log_plots:
        from nnexp import plot_helper

        plot_helper.warm_up()  # matplotlib loads on the other core while MLflow loads here

    from nnexp.tracking import RunRecorder, open_store

    store = open_store(tracking.uri, tracking.experiment_name, tracking.artifact_location)
    tags = _run_tags(cfg, overrides, splits, dataset, extra_tags)
    name = run_name or tracking.run_name or default_run_name(cfg)
    want_model = tracking.log_model if log_model is None else log_model
    with RunRecorder(
        store,
        run_name=name,
        tags=tags,
        parent_run_id=parent_run_id,
        description=_description(cfg, overrides),
        log_every=tracking.log_every,
    ) as recorder:
        for listener in listeners:  # e.g. a sweep trial learns its MLflow run id
            getattr(listener, "on_run_start", lambda run_id: None)(recorder.run_id)
        from nnexp.config.flatten import flatten_config
        from nnexp.tracking.datasets import split_datasets

        recorder.log_params(flatten_config(cfg))
        recorder.log_inputs(
            split_datasets(splits, dataset.name, dataset.source, dataset.class_names)
        )
        checked = inspection.gradient_check(cfg, model, splits, recorder)
        history = _fit(cfg, model, optimizer, schedule, splits, [recorder, *listeners], probe)
        result = _result(cfg, dataset, splits, model, history, baseline)
        inspection.finish(result, probe, checked)
        result.run_id, result.store_uri = recorder.run_id, store.display_uri
        result.store_source = store.source
        result.experiment_id = store.experiment_id
        with tempfile.TemporaryDirectory(prefix="nnexp-run-") as tmp:
            folder = Path(tmp)
            pictures = inspection.start_pictures(result, folder) if tracking.log_plots else None
            drawing = _start_plot(result, folder) if tracking.log_plots else None
            # while the learning curves are drawn (in a helper process): the MLflow writes
            recorder.log_metrics(result.final_metrics)
            recorder.queue_tags(
                {f"diagnosis.{k}": v for k, v in result.diagnosis.as_dict().items()}
                | {"diagnosis": result.diagnosis.label, "stop_reason": history.stop_reason}
                | inspection.finding_tags(result)
            )
            recorder.flush()
            _write_artifacts(result, folder)
            if want_model:
                from nnexp.tracking.pyfunc import log_pyfunc_model, model_tags

                result.model_uri = log_pyfunc_model(
                    model,
                    splits.scaler_mean,
                    splits.scaler_std,
                    example=splits.train.X[:5],
                    run_id=recorder.run_id,
                    linked_metrics=recorder.step0_metrics,
                    feature_names=dataset.feature_names,
                    class_names=dataset.class_names,
                )
                recorder.queue_tags(model_tags(result.model_uri, recorder.run_id))
            if drawing is not None:
                drawing()
            if pictures is not None:
                pictures()
            recorder.log_artifacts(folder)
    return result


def default_run_name(cfg: Any) -> str:
    """A readable run name, e.g. ``mlp-moons-adam-lr0.01-s0``."""
    return (
        f"{cfg.model.name}-{cfg.data.name}-{cfg.optimizer.name}-lr{cfg.optimizer.lr:g}-s{cfg.seed}"
    )


def _fit(
    cfg: Any,
    model: Any,
    optimizer: Any,
    schedule: Any,
    splits: Any,
    callbacks: list[Any],
    probe: Any = None,
) -> Any:
    from nnexp.train import EarlyStopping, fit

    trainer = cfg.trainer
    stop = trainer.early_stopping
    early = (
        EarlyStopping(
            monitor=stop.monitor,
            patience=stop.patience,
            min_delta=stop.min_delta,
            restore_best=stop.restore_best,
        )
        if stop.enabled
        else None
    )
    return fit(
        model,
        optimizer,
        splits,
        epochs=trainer.epochs,
        batch_size=trainer.batch_size,
        seed=int(cfg.seed),
        schedule=schedule,
        early_stopping=early,
        callbacks=callbacks,
        divergence_bound=trainer.divergence_bound,
        shuffle=trainer.shuffle,
        probe=probe,
    )


def _result(
    cfg: Any, dataset: Any, splits: Any, model: Any, history: Any, baseline: float
) -> RunResult:
    from nnexp.diagnosis import diagnose
    from nnexp.preflight import run_loss_floor

    diagnosis = diagnose(history, baseline, run_loss_floor(cfg, dataset, splits))
    return RunResult(
        cfg,
        dataset,
        splits,
        model,
        history,
        diagnosis,
        baseline,
        final_metrics=final_metrics(history, baseline),
    )


def final_metrics(history: Any, baseline: float) -> dict[str, float]:
    """Final, best-epoch and test values (finite only), for sorting runs in the MLflow UI.

    ``final_*`` describe the model the run keeps (saves, serves and tests): the epoch early
    stopping restored (also logged as ``kept_epoch``), else the last one."""
    metrics: dict[str, float] = {"baseline_loss": baseline}
    final = history.kept or {}
    if history.restored_epoch is not None:
        metrics["kept_epoch"] = float(history.restored_epoch)
    for key, value in final.items():
        if key in ("epoch", "epoch_time", "lr") or "/" in key:  # layerk/...: per epoch only
            continue
        if isinstance(value, int | float):
            metrics[f"final_{key}"] = float(value)
    best = history.epochs[history.best_epoch - 1] if history.epochs and history.best_epoch else None
    if best is not None:
        metrics["best_epoch"] = float(best["epoch"])
        for key, value in best.items():
            if key.startswith("val_") and isinstance(value, int | float):
                metrics[f"best_{key}"] = float(value)
    metrics["epochs_run"] = float(len(history.epochs))
    metrics["train_time"] = float(sum(record.get("epoch_time", 0.0) for record in history.epochs))
    for key, value in (history.test or {}).items():
        metrics[key] = float(value)
    return {k: v for k, v in metrics.items() if v == v and abs(v) != float("inf")}


def _run_tags(
    cfg: Any, overrides: Sequence[str], splits: Any, dataset: Any, extra: Mapping[str, Any] | None
) -> dict[str, Any]:
    from nnexp.cmdline import command_line, shell_line
    from nnexp.provenance import provenance

    tags: dict[str, Any] = dict(provenance())
    tags.update(
        {
            "seed": cfg.seed,
            "overrides": shell_line(overrides),
            "command": command_line(sys.argv[1:]),
            "nnexp.kind": "run",
            "data.fingerprint": splits.fingerprint,
            "data.digest": dataset.digest,
            "data.source": dataset.source,
        }
    )
    from nnexp.tracking.datasets import class_names_tag

    tags.update(class_names_tag(dataset.class_names))  # what the served model's labels are
    for part in ("train", "val", "test"):
        split = getattr(splits, part, None)
        if split is not None:
            tags[f"data.fingerprint.{part}"] = split.fingerprint
    tags.update(extra or {})
    return tags


def _description(cfg: Any, overrides: Sequence[str]) -> str:
    from nnexp.cmdline import command_line

    return f"`{command_line(overrides)}`" if overrides else "`python -m nnexp (defaults)`"


def _start_plot(result: RunResult, folder: Path) -> Any:
    """Start drawing ``learning_curves.png`` into ``folder``; returns a function that waits."""
    from nnexp import plot_helper

    return plot_helper.draw(
        result.history,
        folder / "learning_curves.png",
        title=default_run_name(result.config),
        diagnosis=result.diagnosis,
    )


def _write_artifacts(result: RunResult, folder: Path) -> None:
    """Config, history, diagnosis and weights into ``folder`` (logged in one call)."""
    from omegaconf import OmegaConf

    from nnexp.nn import save_model
    from nnexp.redact import redact

    config_yaml = OmegaConf.to_yaml(result.config, resolve=True)
    (folder / "config.yaml").write_text(redact(config_yaml), encoding="utf-8")
    result.history.to_csv(folder / "history.csv")
    diagnosis = {
        "label": result.diagnosis.label,
        "reason": result.diagnosis.reason,
        **result.diagnosis.as_dict(),
        "findings": [finding.as_dict() for finding in result.findings],
    }
    (folder / "diagnosis.json").write_text(
        json.dumps(diagnosis, indent=2, default=float), encoding="utf-8"
    )
    save_model(result.model, folder / "model.npz")

"""The short summary printed after a run: metrics, diagnosis, where the run is recorded."""

from __future__ import annotations

from typing import Any

SPLITS = ("train", "val", "test")


def format_summary(result: Any) -> str:
    """A few aligned lines: final metrics per split, the diagnosis, the MLflow run and UI."""
    history, diagnosis = result.history, result.diagnosis
    final = history.kept or {}  # the model kept: the epoch early stopping restored, else the last
    metric_names = sorted({key.split("_", 1)[1] for key in final if key.startswith("train_")})
    lines = [f"nnexp: {_experiment_line(result)}"]
    header = "  " + "".ljust(8) + "".join(name.rjust(12) for name in metric_names)
    lines.append(header)
    for split in SPLITS:
        source = history.test or {} if split == "test" else final
        values = [source.get(f"{split}_{name}") for name in metric_names]
        if all(value is None for value in values):
            continue
        cells = "".join(_cell(value) for value in values)
        lines.append(f"  {split.ljust(8)}{cells}")
    lines.append(
        f"  epochs   {len(history.epochs)} ({history.stop_reason}); best val epoch "
        f"{history.best_epoch}{_kept_note(history)}"
    )
    lines.append(f"  diagnosis: {diagnosis.label.upper()} - {diagnosis.reason}")
    if diagnosis.label != "good":  # causes explain why a network learns badly
        for finding in getattr(result, "findings", None) or ():
            lines.append(f"  cause: {finding.text}")
    if result.run_id:
        source = getattr(result, "store_source", "")
        note = f" (from {source})" if source.startswith("MLFLOW_") else ""
        lines.append(f"  MLflow run: {result.run_id} in {result.store_uri}{note}")
        lines.append(f"  open the UI: {ui_command(result.store_uri, result.experiment_id)}")
    return "\n".join(lines)


def loading_line(cfg: Any, run_name: str) -> str:
    """What a run loads before its first epoch (said on a terminal: MLflow takes seconds)."""
    from nnexp.project import tracking_uri
    from nnexp.redact import redact

    where = "tracking off"
    if cfg.tracking.enabled:  # the store the run will use, not the (often null) config value
        chosen = tracking_uri(cfg.tracking.uri)
        where = f"starting MLflow on {redact(chosen.value)}{chosen.note}"
    return f"run {run_name}: loading data={cfg.data.name}, {where}"


#: Where ``mlflow ui`` / ``mlflow server`` listen unless told otherwise.
MLFLOW_UI_DEFAULT = "http://127.0.0.1:5000"


def ui_command(store_uri: str, experiment_id: str | None = None) -> str:
    """The command that opens the MLflow UI on ``store_uri`` (relative to the cwd when possible),
    then the link to the experiment's runs table when ``experiment_id`` is known."""
    import os

    link = f", then {runs_url(MLFLOW_UI_DEFAULT, experiment_id)}" if experiment_id else ""
    if store_uri.startswith("sqlite:///"):
        path = store_uri[len("sqlite:///") :]
        try:
            relative = os.path.relpath(path)
        except ValueError:
            relative = path
        if not relative.startswith(".."):
            path = relative
        return f"mlflow ui --backend-store-uri sqlite:///{path}{link}"
    if store_uri.startswith(("http://", "https://")):
        target = runs_url(store_uri, experiment_id) if experiment_id else store_uri
        return f"open {target} in a browser"
    return f"mlflow ui --backend-store-uri {store_uri}{link}"


def runs_url(ui_base: str, experiment_id: str) -> str:
    """The UI page of an experiment's runs table, whatever the browser saw before.

    MLflow 3.17's UI chooses an experiment's landing tab from its global GenAI / Model training
    switch alone: the ``workflowType`` URL parameter, else localStorage
    ``mlflow.workflowType_v1``, else ``genai`` (the GenAI overview). It does not read the
    experiment's ``mlflow.experimentKind`` tag for this, so the link carries the parameter.
    """
    return f"{ui_base.rstrip('/')}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"


def _experiment_line(result: Any) -> str:
    cfg = result.config
    hidden = "-".join(str(size) for size in cfg.model.hidden_sizes) or "linear"
    return (
        f"{cfg.data.name}, {cfg.model.name} [{hidden}] {cfg.model.activation}, "
        f"{cfg.optimizer.name} lr={cfg.optimizer.lr:g}, seed {cfg.seed}"
    )


def _kept_note(history: Any) -> str:
    """Which epoch the rows above describe, when it is not the last one trained."""
    kept = history.kept
    if kept is None or kept is history.final:
        return ""
    return f"; rows: epoch {kept['epoch']}, the weights early stopping kept"


def _cell(value: Any) -> str:
    return (f"{value:.4f}" if isinstance(value, int | float) else "-").rjust(12)

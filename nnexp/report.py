"""The short summary printed after a run: metrics, diagnosis, where the run is recorded."""

from __future__ import annotations

from typing import Any

SPLITS = ("train", "val", "test")


def format_summary(result: Any) -> str:
    """A few aligned lines: final metrics per split, the diagnosis, the MLflow run and UI."""
    history, diagnosis = result.history, result.diagnosis
    final = history.final or {}
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
        f"{history.best_epoch}"
    )
    lines.append(f"  diagnosis: {diagnosis.label.upper()} - {diagnosis.reason}")
    for finding in getattr(result, "findings", None) or ():
        lines.append(f"  cause: {finding.text}")
    if result.run_id:
        lines.append(f"  MLflow run: {result.run_id} in {result.store_uri}")
        lines.append(f"  open the UI: {ui_command(result.store_uri)}")
    return "\n".join(lines)


def loading_line(cfg: Any, run_name: str) -> str:
    """What a run loads before its first epoch (said on a terminal: MLflow takes seconds)."""
    from nnexp.redact import redact

    where = (
        f"starting MLflow ({redact(cfg.tracking.uri)})" if cfg.tracking.enabled else "tracking off"
    )
    return f"run {run_name}: loading data={cfg.data.name}, {where}"


def ui_command(store_uri: str) -> str:
    """The command that opens the MLflow UI on ``store_uri`` (relative to the cwd when possible)."""
    import os

    if store_uri.startswith("sqlite:///"):
        path = store_uri[len("sqlite:///") :]
        try:
            relative = os.path.relpath(path)
        except ValueError:
            relative = path
        if not relative.startswith(".."):
            path = relative
        return f"mlflow ui --backend-store-uri sqlite:///{path}"
    if store_uri.startswith(("http://", "https://")):
        return f"open {store_uri} in a browser"
    return f"mlflow ui --backend-store-uri {store_uri}"


def _experiment_line(result: Any) -> str:
    cfg = result.config
    hidden = "-".join(str(size) for size in cfg.model.hidden_sizes) or "linear"
    return (
        f"{cfg.data.name}, {cfg.model.name} [{hidden}] {cfg.model.activation}, "
        f"{cfg.optimizer.name} lr={cfg.optimizer.lr:g}, seed {cfg.seed}"
    )


def _cell(value: Any) -> str:
    return (f"{value:.4f}" if isinstance(value, int | float) else "-").rjust(12)

"""The study's results as data: per-trial records, the summary, the trials CSV, the final table.

Optuna holds each trial's state, values and parameters; its seed and override line follow from
those (:func:`nnexp.sweep.objective.trial_overrides`), so no extra journal write per trial is
needed for them. Train/validation metrics and run ids come from the MLflow child runs (one
search at the end); with ``tracking=off`` there are none.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nnexp.cmdline import command_line, shell_line
from nnexp.sweep.objective import seed_trial_number, trial_overrides
from nnexp.sweep.storage import counted_trials, replaced_numbers

METRIC_PREFIXES = ("final_", "best_val_", "test_")


def records(study: Any, plan: Any, children: Mapping[int, Any]) -> list[dict[str, Any]]:
    """One dict per trial (orphans included), in trial-number order."""
    rows = []
    trials = study.get_trials(deepcopy=False)
    replaced = replaced_numbers(trials)
    for trial in trials:
        overrides, seed = trial_overrides(plan, trial.params, seed_trial_number(trial))
        run = children.get(trial.number)
        metrics = {}
        if run is not None:
            metrics = {k: v for k, v in run.data.metrics.items() if k.startswith(METRIC_PREFIXES)}
            for key, value in run.data.metrics.items():  # a pruned run: its last epoch
                if key.startswith(("train_", "val_")):
                    metrics.setdefault(f"final_{key}", value)
        rows.append(
            {
                "trial": trial,
                "number": trial.number,
                "state": trial.state.name,
                "values": list(trial.values) if trial.values else None,
                "params": dict(trial.params),
                "seed": seed,
                "overrides": overrides,
                "run_id": run.info.run_id if run is not None else None,
                "metrics": metrics,
                "diagnosis": run.data.tags.get("diagnosis") if run is not None else None,
                "epochs": run.data.metrics.get("epochs_run") if run is not None else None,
                "seconds": _seconds(trial),
                "fail_reason": trial.user_attrs.get("fail_reason"),
                "replaced": trial.number in replaced,
            }
        )
    return rows


def best_trials(study: Any) -> list[Any]:
    """The best trial (single objective) or the Pareto front (several), possibly empty."""
    from optuna.trial import TrialState

    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return []
    if len(study.directions) == 1:
        return [study.best_trial]
    return list(study.best_trials)


def ranked(study: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Counted trials: complete ones best first (first objective), then pruned, then failed."""
    from optuna.study import StudyDirection

    sign = 1.0 if study.directions[0] == StudyDirection.MINIMIZE else -1.0
    counted = {t.number for t in counted_trials(study.get_trials(deepcopy=False))}

    def key(row: dict[str, Any]) -> tuple[int, float]:
        order = {"COMPLETE": 0, "PRUNED": 1}.get(row["state"], 2)
        value = shown_value(row)
        return order, sign * value if value is not None and math.isfinite(value) else math.inf

    return sorted((r for r in rows if r["number"] in counted), key=key)


def shown_value(row: dict[str, Any]) -> float | None:
    """The objective value, or for a pruned trial its last reported value."""
    if row["values"]:
        return row["values"][0]
    steps = row["trial"].intermediate_values
    return steps[max(steps)] if steps else None


def shown_state(row: dict[str, Any]) -> str:
    """The state; a pruned trial's with the epoch it was pruned at (``PRUNED@25``), as in
    ``nnexp runs``."""
    steps = row["trial"].intermediate_values
    if row["state"] == "PRUNED" and steps:
        return f"PRUNED@{max(steps)}"
    return row["state"]


def summarize(study: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    trials = counted_trials(study.get_trials(deepcopy=False))
    summary: dict[str, Any] = {
        "study": study.study_name,
        "n_counted": len(trials),
        "n_complete": sum(t.state.name == "COMPLETE" for t in trials),
        "n_pruned": sum(t.state.name == "PRUNED" for t in trials),
        "n_failed": sum(t.state.name == "FAIL" for t in trials),
        "n_orphans_replaced": sum(r["replaced"] for r in rows),
    }
    best = best_trials(study)
    if best:
        row = rows[best[0].number]
        summary.update(
            {
                "best_trial": row["number"],
                "best_values": row["values"],
                "best_params": row["params"],
                "best_run_id": row["run_id"],
                "best_overrides": shell_line(row["overrides"]),
                "best_command": command_line(row["overrides"]),
                "pareto_trials": [t.number for t in best] if len(best) > 1 else None,
            }
        )
    return summary


def write_trials_csv(study: Any, rows: list[dict[str, Any]], path: Path) -> Path:
    """One row per trial (every state, orphans included): values, params, metrics, run, reason."""
    params = sorted({name for row in rows for name in row["params"]})
    metrics = sorted({name for row in rows for name in row["metrics"]})
    n_values = len(study.directions)
    value_cols = ["value"] if n_values == 1 else [f"value_{i}" for i in range(n_values)]
    header = ["number", "state", *value_cols, *[f"param.{p}" for p in params], *metrics,
              "seed", "seconds", "epochs", "diagnosis", "fail_reason", "replaced_by_retry",
              "run_id", "overrides"]  # fmt: skip
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            values = row["values"] or [None] * n_values
            writer.writerow(
                [row["number"], row["state"], *values]
                + [row["params"].get(p) for p in params]
                + [row["metrics"].get(m) for m in metrics]
                + [row["seed"], row["seconds"], row["epochs"], row["diagnosis"]]
                + [row["fail_reason"], row["replaced"], row["run_id"]]
                + [shell_line(row["overrides"])]
            )
    return path


def format_table(
    study: Any, rows: list[dict[str, Any]], summary: dict[str, Any], top_k: int, where: str
) -> str:
    """The lines printed at the end of a sweep."""
    lines = [
        f"nnexp sweep '{study.study_name}': {summary['n_counted']} trials "
        f"({summary['n_complete']} complete, {summary['n_pruned']} pruned, "
        f"{summary['n_failed']} failed) in {where}"
    ]
    metrics = objective_names(study)
    top = ranked(study, rows)[:top_k]
    if top:
        names = sorted({p for row in top for p in row["params"]})
        header = ["#", metrics[0], "state", *names, "run id"]
        table = [header]
        for row in top:
            table.append(
                [str(row["number"]), format_value(shown_value(row)), shown_state(row)]
                + [format_value(row["params"].get(n)) for n in names]
                + [row["run_id"] or "-"]
            )
        widths = [max(len(line[i]) for line in table) for i in range(len(header))]
        for line in table:
            cells = "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))
            lines.append("  " + cells.rstrip())
    if summary.get("best_command"):
        values = ", ".join(
            f"{name} = {format_value(v)}"
            for name, v in zip(metrics, summary["best_values"], strict=False)
        )
        lines.append(f"  best {values} (trial {summary['best_trial']})")
        lines.append(f"  re-run it: {summary['best_command']}")
    else:
        lines.append("  no trial completed")
    return "\n".join(lines)


def objective_names(study: Any) -> list[str]:
    """The objectives' metric names (``best_val_loss``), as the sweep set them on the study."""
    n_values = len(study.directions)
    names = study.metric_names
    if names and len(names) == n_values:
        return list(names)
    return ["value"] if n_values == 1 else [f"value_{i}" for i in range(n_values)]


def _seconds(trial: Any) -> float | None:
    if trial.datetime_start and trial.datetime_complete:
        return round((trial.datetime_complete - trial.datetime_start).total_seconds(), 3)
    return None


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)

"""The parent run's pictures (matplotlib, Agg): Optuna's four and the train-vs-validation curve.

``train_vs_val_<param>.png`` plots each trial's final train and validation metric against a
swept parameter: where validation turns up while train keeps falling, the sweep has crossed
from underfitting into overfitting (the U-curve). A plot Optuna cannot draw yet (e.g. parameter
importances with fewer than two complete trials) is skipped, never an error.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any


def make_plots(
    study: Any, rows: list[dict[str, Any]], folder: Path, dims: list[Any], metric: str
) -> list[Path]:
    """Write every plot that can be drawn into ``folder``; return the files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    single = len(study.directions) == 1

    def importances(target: Any, **kwargs: Any) -> Any:
        from optuna.importance import PedAnovaImportanceEvaluator

        # PED-ANOVA takes about 20 ms where the default fANOVA forest takes about 1.7 s
        return ovm.plot_param_importances(target, evaluator=PedAnovaImportanceEvaluator(), **kwargs)

    drawings = {"optimization_history": ovm.plot_optimization_history}
    if single and len(dims) > 1:
        # with one parameter its importance is 100% by definition; skipping the plot also
        # skips importing optuna.importance (1.5-3 s: it pulls in scikit-learn's forests)
        drawings["param_importances"] = importances
    if single:
        drawings.update(
            {
                "parallel_coordinate": ovm.plot_parallel_coordinate,
                "intermediate_values": ovm.plot_intermediate_values,
            }
        )
    paths = []
    for name, draw in drawings.items():
        path = folder / f"{name}.png"
        try:
            # Optuna's plots switch the global style to ggplot: keep that inside this plot
            with matplotlib.rc_context(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                kwargs = {} if single else {"target": lambda t: t.values[0], "target_name": metric}
                axes = draw(study, **kwargs)
                figure = _figure(axes)
                figure.savefig(path, dpi=100, bbox_inches="tight")
            paths.append(path)
        except Exception:
            pass
        finally:
            plt.close("all")
    for dim in dims:
        path = train_vs_val(study, rows, dim, folder, metric, several=len(dims) > 1)
        if path is not None:
            paths.append(path)
    return paths


def make_plots_from_trials(
    study_name: str,
    directions: list[Any],
    trials: list[Any],
    rows: list[dict[str, Any]],
    folder: str,
    dims: list[Any],
    metric: str,
) -> list[str]:
    """:func:`make_plots` in another process (:mod:`nnexp.plot_helper`): the study is rebuilt
    in memory from its finished trials, which is all the plots read."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name, directions=directions)
    study.add_trials([trial for trial in trials if trial.state.is_finished()])
    return [str(path) for path in make_plots(study, rows, Path(folder), dims, metric)]


def train_vs_val(
    study: Any, rows: list[dict[str, Any]], dim: Any, folder: Path, metric: str, several: bool
) -> Path | None:
    """Final train and validation metric of every trial against parameter ``dim.name``.

    With several swept parameters the points are not joined (neighbours differ in the others).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = _base_metric(metric)
    points = []
    for row in rows:
        metrics = row["metrics"]
        train, val = metrics.get(f"final_train_{base}"), metrics.get(f"final_val_{base}")
        if dim.name in row["params"] and train is not None and val is not None:
            points.append((row["params"][dim.name], train, val, row["state"]))
    if len(points) < 2:
        return None
    if dim.numeric:
        points.sort(key=lambda p: p[0])
        xs = [p[0] for p in points]
        labels = None
    else:
        order = {choice: i for i, choice in enumerate(dim.choices)}
        points.sort(key=lambda p: order.get(p[0], len(order)))
        xs = [order.get(p[0], len(order)) for p in points]
        labels = [str(c) for c in dim.choices]
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    style = "o" if several else "o-"
    try:
        axes.plot(
            xs, [p[1] for p in points], style, color="tab:blue", label=f"train {base}", alpha=0.8
        )
        axes.plot(
            xs,
            [p[2] for p in points],
            style.replace("o", "s"),
            color="tab:orange",
            label=f"validation {base}",
            alpha=0.8,
        )
        pruned = [(x, p[2]) for x, p in zip(xs, points, strict=True) if p[3] == "PRUNED"]
        if pruned:
            axes.scatter(
                *zip(*pruned, strict=True),
                facecolors="none",
                edgecolors="grey",
                s=90,
                label="pruned (at stop)",
            )
        if dim.numeric and dim.log:
            axes.set_xscale("log")
        if labels is not None:
            axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        if base == "loss" and all(p[1] > 0 and p[2] > 0 for p in points):
            values = [v for p in points for v in p[1:3]]
            if max(values) / max(min(values), 1e-12) > 50:
                axes.set_yscale("log")
        axes.set_xlabel(f"{dim.name} ({dim.key})")
        axes.set_ylabel(f"final {base}")
        axes.set_title(f"{study.study_name}: train vs validation {base} across trials")
        axes.grid(True, alpha=0.3)
        axes.legend()
        path = folder / f"train_vs_val_{dim.name}.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        return path
    finally:
        plt.close(figure)


def _base_metric(metric: str) -> str:
    name = metric.rsplit("_", 1)[-1]
    return name if name in ("loss", "accuracy", "rmse", "r2") else "loss"


def _figure(axes: Any) -> Any:
    if hasattr(axes, "figure"):
        return axes.figure
    flat = getattr(axes, "flat", None)
    first = next(iter(flat)) if flat is not None else axes[0]
    return first.figure

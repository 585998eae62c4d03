"""Draw the figures of ``experiments/README.md`` from the runs recorded in an MLflow store.

Run the experiment's command first (see the README), then, from the repository root::

    python experiments/make_figures.py capacity        # U-curve, points coloured by diagnosis
    python experiments/make_figures.py learning_rate   # overlaid learning curves of a multirun
    python experiments/make_figures.py seed_xor regularization activations digits
    python experiments/make_figures.py activations_gradients capacity_boundaries dead_relu

Each figure is drawn from the newest sweep (``capacity``, ``digits``) or multirun (the others)
parent run in the MLflow experiment of the same name, and written to
``experiments/figures/<name>.png`` (``--output-dir`` to choose). ``--tracking-uri`` reads another
store (default ``sqlite:///mlruns/mlflow.db``, relative to the working directory).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import textwrap
from pathlib import Path
from typing import Any

FIGURES = Path(__file__).resolve().parent / "figures"
DIAGNOSIS_COLOURS = {
    "underfit": "tab:blue",
    "good": "tab:green",
    "overfit": "tab:red",
    "diverged": "black",
}
#: figure -> kind of parent run it is drawn from
SOURCES = {
    "seed_xor": "multirun",
    "capacity": "sweep",
    "learning_rate": "multirun",
    "regularization": "multirun",
    "activations": "multirun",
    "digits": "sweep",
    "activations_gradients": "multirun",
    "capacity_boundaries": "sweep",
    "dead_relu": "multirun",
}


def newest_parent(reader: Any, experiment: str, kind: str) -> Any:
    """The newest ``kind`` (sweep | multirun) parent run of MLflow experiment ``experiment``."""
    from nnexp.errors import NnexpError

    runs = reader.search([reader.experiment_id(experiment)])  # newest first
    for run in runs:
        if run.kind == kind:
            return run
    raise NnexpError(f"no {kind} run in experiment {experiment!r}: run the README's command first")


def children(reader: Any, parent: Any) -> list[Any]:
    """The parent's finished child runs, in the order they ran."""
    runs = [run for run in reader.children(parent) if run.status == "FINISHED"]
    return sorted(runs, key=lambda run: run.start_time)


def multirun_figure(reader: Any, name: str, path: Path) -> Path:
    """Overlaid learning curves of the newest multirun (as ``python -m nnexp compare``)."""
    from nnexp.commands.common import differing_params, short_names
    from nnexp.commands.compare import read_curves
    from nnexp.commands.curves import plot_runs

    parent = newest_parent(reader, name, "multirun")
    runs = children(reader, parent)
    keys = differing_params(runs)
    names = short_names(keys)
    curves = []
    for run in runs:
        curve = read_curves(reader, run)
        setting = ", ".join(f"{names[key]}={run.params.get(key)}" for key in keys)
        curve.label = f"{setting} ({run.tags.get('diagnosis', '-')})"
        curves.append(curve)
    varied = " and ".join(names[key] for key in keys) or "nothing"
    return plot_runs(curves, path, f"{name}: varying {varied}")


def capacity_figure(reader: Any, path: Path) -> Path:
    """Final train and validation loss against width; regions named by each run's diagnosis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parent = newest_parent(reader, "capacity", "sweep")
    points = []
    for run in children(reader, parent):
        width = run.tags.get("trial.param.width")
        train, val = run.metrics.get("final_train_loss"), run.metrics.get("final_val_loss")
        if width is not None and train is not None and val is not None:
            points.append((int(width), train, val, run.tags.get("diagnosis", "-")))
    points.sort()
    widths = [p[0] for p in points]
    figure, axes = plt.subplots(figsize=(7.5, 4.5), dpi=100, layout="constrained")
    try:
        # one band per run, from the geometric midpoint to each neighbour; one label per region
        edges = [widths[0] / 1.5]
        edges += [math.sqrt(a * b) for a, b in itertools.pairwise(widths)]
        edges += [widths[-1] * 1.5]
        start = 0
        for index in range(1, len(points) + 1):
            if index < len(points) and points[index][3] == points[start][3]:
                continue
            label = points[start][3]
            colour = DIAGNOSIS_COLOURS.get(label, "grey")
            axes.axvspan(edges[start], edges[index], color=colour, alpha=0.08, linewidth=0)
            middle = math.sqrt(edges[start] * edges[index])
            axes.text(
                middle,
                0.97,
                label,
                transform=axes.get_xaxis_transform(),
                ha="center",
                va="top",
                fontsize=11,
                fontweight="bold",
                color=colour,
            )
            start = index
        axes.plot(widths, [p[1] for p in points], "--", color="0.4", label="train loss")
        axes.plot(widths, [p[2] for p in points], "-", color="0.15", label="validation loss")
        for marker, column in (("o", 1), ("s", 2)):
            axes.scatter(
                widths,
                [p[column] for p in points],
                c=[DIAGNOSIS_COLOURS.get(p[3], "grey") for p in points],
                marker=marker,
                s=45,
                zorder=3,
                edgecolors="white",
            )
        axes.set_xscale("log")
        axes.set_xticks(widths, [str(w) for w in widths])
        axes.minorticks_off()
        axes.set_xlim(edges[0], edges[-1])
        axes.set_ylim(0, max(max(p[1], p[2]) for p in points) * 1.15)
        axes.set_xlabel("width of the hidden layer (model.hidden_sizes=[width])")
        axes.set_ylabel("final loss (cross-entropy)")
        axes.set_title(
            "capacity: train loss falls with width, validation loss falls then rises\n"
            "(points and regions coloured by each run's diagnosis)",
            fontsize=10,
        )
        axes.grid(alpha=0.3)
        axes.legend(loc="center right", fontsize=9)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    finally:
        plt.close(figure)
    return path


def digits_figure(reader: Any, path: Path) -> Path:
    """Each trial's final validation loss and test accuracy against its learning rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parent = newest_parent(reader, "digits", "sweep")
    runs = [run for run in children(reader, parent) if "test_accuracy" in run.metrics]
    best = parent.tags.get("best_run_id")
    widths = sorted({int(run.tags["trial.param.width"]) for run in runs})
    colours = dict(zip(widths, ("tab:blue", "tab:orange", "tab:green", "tab:purple"), strict=False))
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100, layout="constrained")
    try:
        for axes, metric, label in (
            (left, "final_val_loss", "final validation loss (ranks the trials)"),
            (right, "test_accuracy", "test accuracy"),
        ):
            for width in widths:
                chosen = [run for run in runs if int(run.tags["trial.param.width"]) == width]
                axes.scatter(
                    [float(run.params["optimizer.lr"]) for run in chosen],
                    [run.metrics[metric] for run in chosen],
                    color=colours[width],
                    s=50,
                    label=f"width {width}",
                )
            for run in runs:
                if run.run_id == best:
                    axes.scatter(
                        float(run.params["optimizer.lr"]),
                        run.metrics[metric],
                        s=220,
                        facecolors="none",
                        edgecolors="black",
                        label="best trial (lowest validation loss)",
                    )
            axes.set_xscale("log")
            axes.set_xlabel("learning rate (optimizer.lr)")
            axes.set_ylabel(label)
            axes.grid(alpha=0.3)
        left.set_yscale("log")
        right.legend(fontsize=8, loc="lower left")
        figure.suptitle(f"digits: {len(runs)} trials of width and learning rate", fontsize=11)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    finally:
        plt.close(figure)
    return path


def layer_series(reader: Any, run: Any, stat: str) -> dict[int, list[tuple[int, float]]]:
    """``{layer: [(epoch, value), ...]}`` of the run's ``layerk/<stat>`` metrics."""
    out = {}
    for key in run.metrics:
        head, _, name = key.partition("/")
        if name == stat and head.startswith("layer") and head[5:].isdigit():
            out[int(head[5:])] = reader.metric_history(run.run_id, key)
    return dict(sorted(out.items()))


def layer_panels(
    reader: Any, experiment: str, stat: str, ylabel: str, log: bool, path: Path
) -> Path:
    """One panel per run of the newest multirun: ``stat`` per layer over the epochs, titled
    with the run's setting, diagnosis and causes (the tags a run records)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import colormaps

    from nnexp.commands.common import differing_params, short_names

    parent = newest_parent(reader, experiment, "multirun")
    runs = children(reader, parent)
    keys = differing_params(runs)
    names = short_names(keys)
    figure, axes = plt.subplots(1, len(runs), figsize=(4.6 * len(runs), 4.2), dpi=100,
                                layout="constrained", sharey=True, squeeze=False)  # fmt: skip
    try:
        for ax, run in zip(axes[0], runs, strict=True):
            series = layer_series(reader, run, stat)
            cmap = colormaps["viridis"]
            for k, points in series.items():
                colour = cmap(0.9 * (k - 1) / max(len(series) - 1, 1))
                ax.plot([e for e, _ in points], [v for _, v in points], color=colour,
                        linewidth=1.5, label=f"layer {k}")  # fmt: skip
            if log:
                ax.set_yscale("log")
            setting = ", ".join(f"{names[key]}={run.params.get(key)}" for key in keys)
            causes = run.tags.get("diagnosis.causes", "none")
            causes = "\n".join(textwrap.wrap(f"causes: {causes}", 60)[:3])
            ax.set_title(f"{setting} ({run.tags.get('diagnosis', '-')})\n{causes}", fontsize=8)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel(ylabel)
        axes[0][-1].legend(fontsize=7, loc="best")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    finally:
        plt.close(figure)
    return path


def capacity_boundaries_figure(reader: Any, path: Path) -> Path:
    """Decision boundaries of the capacity sweep at a narrow, the best and a wide width."""
    from nnexp.records.boundaries import draw_run_boundaries

    parent = newest_parent(reader, "capacity", "sweep")
    by_width = {int(run.tags["trial.param.width"]): run for run in children(reader, parent)
                if "trial.param.width" in run.tags}  # fmt: skip
    chosen = [w for w in (2, 12, 256) if w in by_width] or sorted(by_width)[:3]
    runs = [by_width[w] for w in chosen]
    titles = [
        f"width {w}: {run.tags.get('diagnosis', '-')} (val loss "
        f"{run.metrics.get('final_val_loss', float('nan')):.3f})"
        for w, run in zip(chosen, runs, strict=True)
    ]
    drawn, _ = draw_run_boundaries(
        reader, runs, titles, path, "capacity: decision boundaries across widths"
    )
    return drawn


def make_figure(reader: Any, name: str, folder: Path) -> Path:
    path = folder / f"{name}.png"
    if name == "activations_gradients":
        return layer_panels(reader, "activations", "grad_norm",
                            "gradient norm per layer (mean over batches)", True, path)  # fmt: skip
    if name == "dead_relu":
        return layer_panels(reader, "dead_relu", "dead_fraction",
                            "fraction of dead units per hidden layer", False, path)  # fmt: skip
    if name == "capacity_boundaries":
        return capacity_boundaries_figure(reader, path)
    if name == "capacity":
        return capacity_figure(reader, path)
    if name == "digits":
        return digits_figure(reader, path)
    return multirun_figure(reader, name, path)


def shrink(path: Path, limit: int = 100_000) -> Path:
    """Re-save a PNG over ``limit`` bytes with a 256-colour palette (the figures are committed)."""
    if path.stat().st_size > limit:
        from PIL import Image

        with Image.open(path) as image:
            small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
        small.save(path, optimize=True)
    return path


def main(argv: list[str] | None = None) -> int:
    from nnexp.commands.common import default_tracking_uri, open_reader
    from nnexp.errors import NnexpError

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+", choices=sorted(SOURCES), metavar="NAME")
    parser.add_argument("--tracking-uri", default=default_tracking_uri(), metavar="URI")
    parser.add_argument("--output-dir", type=Path, default=FIGURES, metavar="DIR")
    opts = parser.parse_args(argv)
    try:
        reader = open_reader(opts.tracking_uri)
        for name in opts.names:
            path = shrink(make_figure(reader, name, opts.output_dir))
            print(f"{name}: {path} ({path.stat().st_size // 1024} KB)")
    except NnexpError as exc:
        print(f"make_figures: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

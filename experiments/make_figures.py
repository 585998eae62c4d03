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
import re
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
    "capacity": "multirun",
    "learning_rate": "multirun",
    "regularization": "multirun",
    "activations": "multirun",
    "digits": "sweep",  # and the baseline runs of experiments/sklearn_digits.py
    "activations_gradients": "multirun",
    "capacity_boundaries": "multirun",
    "dead_relu": "multirun",
}
#: a cause's name in the ``diagnosis.causes`` tag: "dead units: 86% of layer 1 ...; ..."
CAUSE_NAME = re.compile(r"(?:^|; )([a-z][a-z0-9 ]+):")
#: params every child of the figure's parent must have: the activations experiment records an
#: SGD multirun (the figures) and an Adam one
WHERE = {"activations": {"optimizer.name": "sgd"}}


def newest_parent(reader: Any, experiment: str, kind: str) -> Any:
    """The newest ``kind`` (sweep | multirun) parent of ``experiment`` (for ``activations``:
    the SGD multirun, not the Adam one)."""
    from tables import newest_parent as newest  # experiments/ is this script's folder

    return newest(reader, experiment, kind, WHERE.get(experiment, {}))


def children(reader: Any, parent: Any) -> list[Any]:
    """The parent's finished child runs, in the order they ran."""
    runs = [run for run in reader.children(parent) if run.status == "FINISHED"]
    return sorted(runs, key=lambda run: run.start_time)


def group_label(names: dict[str, str], keys: list[str], values: tuple, runs: list[Any]) -> str:
    """``lr=0.3 (good 5/5)``: the setting and how the seeds' diagnoses fell."""
    from tables import tally_cell

    setting = ", ".join(f"{names[key]}={value}" for key, value in zip(keys, values, strict=True))
    return f"{setting} ({tally_cell([run.tags.get('diagnosis', '-') for run in runs])})"


def multirun_figure(reader: Any, name: str, path: Path) -> Path:
    """Per setting of the newest multirun, the mean learning curve over its seeds with a 95%
    t-interval band (as ``python -m nnexp compare PARENT_ID`` draws one group)."""
    from tables import seed_count, seed_groups

    from nnexp.commands.common import short_names
    from nnexp.commands.compare import read_curves
    from nnexp.commands.curves import Curves, plot_runs
    from nnexp.commands.groups import mean_band

    parent = newest_parent(reader, name, "multirun")
    keys, groups = seed_groups(children(reader, parent))
    names = short_names(keys)
    curves = []
    for values, runs in groups:
        member = [read_curves(reader, run) for run in runs]
        group = Curves(group_label(names, keys, values, runs))
        for key in {k for c in member for k in c.series}:
            group.series[key], group.bands[key] = mean_band([c.series.get(key, []) for c in member])
        curves.append(group)
    varied = " and ".join(names[key] for key in keys) or "nothing"
    title = f"{name}: varying {varied}\n(mean over {seed_count(groups)} seeds, band = 95% CI)"
    return plot_runs(curves, path, title)


def seed_xor_figure(reader: Any, path: Path) -> Path:
    """One panel per learning rate: every seed's train MSE over the longest budget, coloured by
    whether that seed solves XOR; the tutorial's 1000-epoch budget marked. Seeds split into
    two outcomes (a plateau at 3 of 4 points, or solved), so a mean band would hide the story."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parent = newest_parent(reader, "seed_xor", "multirun")
    runs = children(reader, parent)
    longest = max(int(run.params["trainer.epochs"]) for run in runs)
    runs = [run for run in runs if int(run.params["trainer.epochs"]) == longest]
    rates = sorted({run.params["optimizer.lr"] for run in runs}, key=float)
    figure, axes = plt.subplots(1, len(rates), figsize=(5.2 * len(rates), 4.2), dpi=100,
                                layout="constrained", sharey=True, squeeze=False)  # fmt: skip
    try:
        for ax, rate in zip(axes[0], rates, strict=True):
            chosen = sorted((run for run in runs if run.params["optimizer.lr"] == rate),
                            key=lambda run: int(run.params["seed"]))  # fmt: skip
            for run in chosen:
                points = [
                    (s, v) for s, v in reader.metric_history(run.run_id, "train_loss") if s > 0
                ]
                solved = run.metrics.get("final_train_accuracy") == 1.0
                ax.plot([s for s, _ in points], [v for _, v in points], linewidth=1.4,
                        color="tab:green" if solved else "tab:red",
                        label=f"seed {run.params['seed']}: "
                              f"{'solved' if solved else 'not solved'}")  # fmt: skip
            ax.axvline(1000, color="0.5", linestyle=":", label="the tutorial's 1000 epochs")
            ax.axhline(0.25, color="0.7", linestyle="--", label="always 0.5 (MSE 0.25)")
            ax.set_yscale("log")
            ax.set_xlabel("epoch")
            n_solved = sum(run.metrics.get("final_train_accuracy") == 1.0 for run in chosen)
            ax.set_title(f"lr={rate}: {n_solved} of {len(chosen)} seeds solve XOR", fontsize=10)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower left")
        axes[0][0].set_ylabel("train MSE (one line per seed)")
        figure.suptitle(f"seed_xor: the tutorial's 2-2-1 sigmoid network, {longest} epochs",
                        fontsize=11)  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    finally:
        plt.close(figure)
    return path


def capacity_points(reader: Any) -> list[tuple]:
    """Per width of the newest capacity multirun: ``(width, train Summary, val Summary,
    majority diagnosis, runs)``, narrowest first."""
    from tables import seed_groups

    from nnexp.stats import summarize

    parent = newest_parent(reader, "capacity", "multirun")
    keys, groups = seed_groups(children(reader, parent))
    if keys != ["model.hidden_sizes"]:
        from nnexp.errors import NnexpError

        raise NnexpError(f"capacity multirun {parent.run_id} varies {keys}, not only the width")
    points = []
    for (sizes,), runs in groups:
        train = summarize([run.metrics["final_train_loss"] for run in runs])
        val = summarize([run.metrics["final_val_loss"] for run in runs])
        labels = [run.tags.get("diagnosis", "-") for run in runs]
        majority = max(dict.fromkeys(labels), key=labels.count)
        points.append((int(sizes.strip("[]")), train, val, majority, runs))
    return sorted(points, key=lambda point: point[0])


def capacity_figure(reader: Any, path: Path) -> Path:
    """Mean final train and validation loss against width, each with its 95% t-interval band;
    points and regions coloured by the diagnosis most of the width's seeds got."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = capacity_points(reader)
    widths = [p[0] for p in points]
    seeds = sorted({len(p[4]) for p in points})
    figure, axes = plt.subplots(figsize=(7.5, 4.5), dpi=100, layout="constrained")
    try:
        # one band per width, from the geometric midpoint to each neighbour; one label per region
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
            axes.text(middle, 0.97, label, transform=axes.get_xaxis_transform(), ha="center",
                      va="top", fontsize=11, fontweight="bold", color=colour)  # fmt: skip
            start = index
        for column, style, shade, name in (
            (1, "--", "0.4", "train"),
            (2, "-", "0.15", "validation"),
        ):
            means = [p[column].mean for p in points]
            low = [p[column].ci_low if p[column].n > 1 else p[column].mean for p in points]
            high = [p[column].ci_high if p[column].n > 1 else p[column].mean for p in points]
            axes.plot(widths, means, style, color=shade, label=f"{name} loss (mean)")
            axes.fill_between(widths, low, high, color=shade, alpha=0.2, linewidth=0,
                              label=f"{name}: 95% CI")  # fmt: skip
            axes.scatter(widths, means, c=[DIAGNOSIS_COLOURS.get(p[3], "grey") for p in points],
                         marker="o" if column == 1 else "s", s=45, zorder=3,
                         edgecolors="white")  # fmt: skip
        axes.set_xscale("log")
        axes.set_xticks(widths, [str(w) for w in widths])
        axes.minorticks_off()
        axes.set_xlim(edges[0], edges[-1])
        top = max(max(p[1].ci_high, p[2].ci_high) if p[1].n > 1 else p[2].mean for p in points)
        axes.set_ylim(0, top * 1.15)
        axes.set_xlabel("width of the hidden layer (model.hidden_sizes=[width])")
        axes.set_ylabel("final loss (cross-entropy)")
        count = "-".join(str(n) for n in seeds)
        axes.set_title(
            "capacity: train loss falls with width, validation loss falls then rises\n"
            f"(mean over {count} seeds, bands = 95% t-interval; colour = most seeds' diagnosis)",
            fontsize=10,
        )
        axes.grid(alpha=0.3)
        axes.legend(loc="center right", fontsize=8)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    finally:
        plt.close(figure)
    return path


def digits_figure(reader: Any, path: Path) -> Path:
    """Left: each search trial's final validation loss against its learning rate (one seed).
    Right: test accuracy of each confirmed configuration and of scikit-learn's MLPClassifier in
    the winner's setting, one dot per seed, with the mean and its 95% t-interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from tables import confirmed_groups, digits_record

    from nnexp.stats import summarize

    record = digits_record(reader)
    runs = [run for run in record["trials"] if "final_val_loss" in run.metrics]
    winner = record["winner"]
    widths = sorted({int(run.tags["trial.param.width"]) for run in runs})
    colours = dict(zip(widths, ("tab:blue", "tab:orange", "tab:green", "tab:purple"), strict=False))
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=100, layout="constrained",
                                         width_ratios=(1, 1.2))  # fmt: skip
    try:
        for width in widths:
            chosen = [run for run in runs if int(run.tags["trial.param.width"]) == width]
            left.scatter([float(run.params["optimizer.lr"]) for run in chosen],
                         [run.metrics["final_val_loss"] for run in chosen],
                         color=colours[width], s=50, label=f"width {width}")  # fmt: skip
        left.set_xscale("log")
        left.set_yscale("log")
        left.set_xlabel("learning rate (optimizer.lr)")
        left.set_ylabel("final validation loss (ranks the trials)")
        left.set_title(f"the search: {len(runs)} trials, one seed each", fontsize=10)
        left.grid(alpha=0.3)
        left.legend(fontsize=8)

        groups = {
            label.replace(" ", "\n", 1) if label.startswith("sklearn") else label: runs
            for label, runs in confirmed_groups(record).items()
        }
        for x, (label, members) in enumerate(groups.items()):
            values = [run.metrics["test_accuracy"] for run in members]
            stats = summarize(values)
            colour = "black" if label == winner else ("tab:red" if "sklearn" in label else "0.5")
            right.scatter([x + 0.12] * len(values), values, color=colour, alpha=0.5, s=25)
            right.errorbar([x - 0.05], [stats.mean], yerr=[[stats.mean - stats.ci_low],
                           [stats.ci_high - stats.mean]], fmt="o", color=colour, capsize=6,
                           markersize=8)  # fmt: skip
            right.annotate(f"{stats.mean:.4f}\n± {stats.half_width:.4f}", (x - 0.1, stats.mean),
                           ha="right", va="center", fontsize=7)  # fmt: skip
        names = [f"{label}\n(winner)" if label == winner else label for label in groups]
        right.set_xticks(range(len(groups)), names, fontsize=8)
        right.set_xlim(-0.8, len(groups) - 0.5)
        right.set_ylabel("test accuracy")
        seeds = sorted({len(members) for members in groups.values()})
        right.set_title(
            f"confirmed over {'-'.join(map(str, seeds))} seeds (dots); mean and 95% t-interval",
            fontsize=10,
        )
        right.grid(alpha=0.3, axis="y")
        figure.suptitle("digits: the sweep's winner, confirmed, beside scikit-learn", fontsize=11)
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
    """One panel per setting of the newest multirun: ``stat`` per layer over the epochs, the
    mean over the setting's seeds with a 95% t-interval band, titled with the setting and how
    many seeds got each diagnosis and named each cause."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import colormaps
    from tables import seed_groups, tally_cell

    from nnexp.commands.common import short_names
    from nnexp.commands.groups import mean_band

    parent = newest_parent(reader, experiment, "multirun")
    keys, groups = seed_groups(children(reader, parent))
    names = short_names(keys)
    figure, axes = plt.subplots(1, len(groups), figsize=(4.6 * len(groups), 4.4), dpi=100,
                                layout="constrained", sharey=True, squeeze=False)  # fmt: skip
    try:
        for ax, (values, runs) in zip(axes[0], groups, strict=True):
            per_run = [layer_series(reader, run, stat) for run in runs]
            layers = sorted(set().union(*per_run))
            cmap = colormaps["viridis"]
            for k in layers:
                colour = cmap(0.9 * (k - 1) / max(len(layers) - 1, 1))
                means, band = mean_band([series.get(k, []) for series in per_run])
                ax.plot([e for e, _ in means], [v for _, v in means], color=colour,
                        linewidth=1.5, label=f"layer {k}")  # fmt: skip
                if band:
                    epochs, low, high = zip(*band, strict=True)
                    ax.fill_between(
                        epochs,
                        low,
                        high,
                        color=colour,
                        alpha=0.2,
                        linewidth=0,
                        where=[v > 0 for v in low] if log else None,
                    )
            if log:
                ax.set_yscale("log")
            setting = ", ".join(f"{names[key]}={v}" for key, v in zip(keys, values, strict=True))
            diagnoses = tally_cell([run.tags.get("diagnosis", "-") for run in runs])
            # cause names are what precedes ":" at the start of each "; "-joined cause
            tags = [run.tags.get("diagnosis.causes", "none") for run in runs]
            causes = sorted({name for tag in tags for name in CAUSE_NAME.findall(tag)} or {"none"})
            named = []
            for cause in causes:
                count = sum(cause in tag for tag in tags)
                named.append(f"{cause} {count}/{len(runs)}")
            text = "\n".join(textwrap.wrap("causes: " + ", ".join(named), 60)[:3])
            ax.set_title(f"{setting}: {diagnoses}\n{text}", fontsize=8)
            ax.set_xlabel("epoch")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel(f"{ylabel}\n(mean over seeds, band = 95% CI)")
        axes[0][-1].legend(fontsize=7, loc="best")
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    finally:
        plt.close(figure)
    return path


def capacity_boundaries_figure(reader: Any, path: Path) -> Path:
    """Decision boundaries at a narrow, the best and a wide width: each width's seed-0 run."""
    from nnexp.records.boundaries import draw_run_boundaries

    by_width = {}
    for width, _, _, _, runs in capacity_points(reader):
        first = min(runs, key=lambda run: int(run.params.get("seed", 0)))
        by_width[width] = first
    chosen = [w for w in (2, 12, 256) if w in by_width] or sorted(by_width)[:3]
    runs = [by_width[w] for w in chosen]
    titles = [
        f"width {w}, seed {run.params.get('seed')}: {run.tags.get('diagnosis', '-')} (val loss "
        f"{run.metrics.get('final_val_loss', float('nan')):.3f})"
        for w, run in zip(chosen, runs, strict=True)
    ]
    drawn, _ = draw_run_boundaries(
        reader, runs, titles, path, "capacity: decision boundaries across widths (one seed)"
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
    if name == "seed_xor":
        return seed_xor_figure(reader, path)
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

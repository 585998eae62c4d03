"""Pictures of the inside of a run: network health, histograms, decision boundaries.

* ``network_health.png``: per layer over the logged epochs, the gradient norm (log scale), the
  update/weight ratio (log scale) and the dead or saturated fraction, with the thresholds of
  :mod:`nnexp.findings` dashed and the findings in the header.
* ``histograms.png``: small multiples, one row per dense layer: its weights and its
  pre-activations on the validation split, each panel with the first, middle and last logged
  epoch from light to dark (the saturation bounds or ReLU's kink dashed).
* ``decision_boundary.png`` (classification on two features): the model's decision regions
  (binary: the probability of class 1, with the 0.5 contour) with the training points (circles)
  and validation points (triangles); ``fitted_curve.png`` (regression on one feature): the
  model's curve over the data.
* :func:`draw_boundaries`: several models' decision regions side by side (a sweep's best
  trials, ``compare --boundaries``).

Drawn in the plot helper process (:mod:`nnexp.plot_helper`) from plain inputs
(:func:`picture_inputs`), with the object-oriented API on an Agg canvas, fixed margins and fast
PNG compression, as :mod:`nnexp.plots` does. matplotlib is imported lazily.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from nnexp.nn.inspect import DEAD_UNIT_ACTIVATIONS

GRID_POINTS = 160  # per axis of the decision-region grid
MAX_POINTS_DRAWN = 600  # per split: more points only hide the regions
_TRAIN_COLOUR, _VAL_COLOUR = "#1f77b4", "#ff7f0e"


def picture_inputs(result: Any) -> dict[str, Any]:
    """Everything the pictures need, as plain picklable data (sent to the helper process)."""
    from nnexp.findings import DEAD_FRACTION, SATURATED_FRACTION, STEP_RATIO
    from nnexp.nn.inspect import SATURATION_Z, layer_activations

    splits, probe = result.splits, result.probe
    val = splits.val if splits.val is not None else splits.train
    from nnexp.run import default_run_name

    return {
        "title": default_run_name(result.config),  # as the learning curves': seed included
        "records": [dict(r) for r in result.history.epochs],
        "activations": layer_activations(result.model),
        "findings": [finding.text for finding in result.findings],
        "diagnosis": result.diagnosis.label,
        "snapshots": probe.histogram_snapshots() if probe is not None else [],
        "model": result.model,
        "task": result.dataset.task,
        "train": (splits.train.X, splits.train.y),
        "val": (val.X, val.y),
        "thresholds": {
            "step": STEP_RATIO,
            "dead": DEAD_FRACTION,
            "saturated": SATURATED_FRACTION,
            "saturation_z": dict(SATURATION_Z),
        },
    }


PICTURES = ("network_health.png", "histograms.png", "decision_boundary.png", "fitted_curve.png")


def start_drawing(inputs: dict[str, Any], folder: str) -> list[int]:
    """In the plot helper: fork children that draw the run's pictures and return their pids, so
    the helper draws the learning curves meanwhile (the pictures take about three times as
    long); ``[]`` when it drew them itself (no ``fork`` here). :func:`wait_drawing` collects
    them. Two children, the network-health figure in one and the others in the second: drawn
    one after the other, the pictures were the longest wait of a run (0.3-0.4 s)."""
    import os

    if not hasattr(os, "fork"):
        draw_run_pictures(inputs, folder)
        return []
    pids: list[int] = []
    try:
        for part in ("health", "others"):
            pid = os.fork()
            if pid == 0:  # a child: draw, then leave without touching the helper's pipes
                code = 1
                try:
                    draw_run_pictures(inputs, folder, part)
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
    except OSError:  # no second child: collect the first, the run draws them itself
        for pid in pids:
            os.waitpid(pid, 0)
        raise
    return pids


def wait_drawing(pids: list[int], folder: str) -> list[str] | None:
    """Wait for :func:`start_drawing`'s children; the pictures drawn, or None if one failed."""
    import os

    failed = False
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        failed = failed or status != 0
    if failed:
        return None
    return [str(Path(folder) / name) for name in PICTURES if (Path(folder) / name).is_file()]


def draw_run_pictures(inputs: dict[str, Any], folder: str, part: str = "all") -> list[str]:
    """Draw every picture that applies to the run into ``folder``; return the paths.
    ``part``: ``health`` (the network-health figure), ``others`` (the rest) or ``all``."""
    _agg()
    from matplotlib import style

    with style.context("default"):  # whatever ran before here (Optuna's plots use ggplot)
        return _draw_run_pictures(inputs, folder, part)


def _draw_run_pictures(inputs: dict[str, Any], folder: str, part: str) -> list[str]:
    folder_path = Path(folder)
    paths = []
    if part in ("all", "health"):
        paths.append(network_health(inputs, folder_path / "network_health.png"))
    if part == "health":
        return [str(path) for path in paths]
    if inputs["snapshots"]:
        paths.append(histograms(inputs, folder_path / "histograms.png"))
    X = np.asarray(inputs["train"][0])
    if inputs["task"] == "classification" and X.shape[1] == 2:
        panel = _panel(inputs["title"], inputs["model"], inputs["train"], inputs["val"])
        paths.append(draw_boundaries([panel], folder_path / "decision_boundary.png"))
    elif inputs["task"] == "regression" and X.shape[1] == 1:
        paths.append(fitted_curve(inputs, folder_path / "fitted_curve.png"))
    return [str(path) for path in paths]


# -- network health ---------------------------------------------------------------------------
def _layer_series(records: list[dict], stat: str) -> dict[int, tuple[list[int], list[float]]]:
    out: dict[int, tuple[list[int], list[float]]] = {}
    for record in records:
        for key, value in record.items():
            head, _, name = key.partition("/")
            if name == stat and head.startswith("layer") and head[5:].isdigit():
                xs, ys = out.setdefault(int(head[5:]), ([], []))
                xs.append(int(record["epoch"]))
                ys.append(float(value))
    return dict(sorted(out.items()))


def network_health(inputs: dict[str, Any], path: Path) -> Path:
    """Gradient norms, update/weight ratios and dead/saturated fractions per layer."""
    from matplotlib.figure import Figure

    records, names = inputs["records"], inputs["activations"]
    findings = inputs["findings"] or ["no cause found"]
    lines = [line for text in findings for line in textwrap.wrap(text, 150)]
    header = 0.45 + 0.17 * len(lines)
    width, height = 14.0, 3.9 + header
    fig = Figure(figsize=(width, height), dpi=90)
    fig.subplots_adjust(
        left=0.85 / width, right=1 - 0.2 / width, bottom=0.55 / height,
        top=1 - (header + 0.3) / height, wspace=0.3,
    )  # fmt: skip
    fig.text(0.6 / width, 1 - 0.12 / height, f"Network health: {inputs['title']}",
             ha="left", va="top", fontsize=12, fontweight="bold")  # fmt: skip
    fig.text(0.6 / width, 1 - 0.42 / height, "\n".join(lines), ha="left", va="top",
             fontsize=9, color="#c62828" if inputs["findings"] else "#1a7f37")  # fmt: skip
    axes = fig.subplots(1, 3)
    colours = _layer_colours(len(names))

    def label(k: int) -> str:
        name = names[k - 1] if k - 1 < len(names) and names[k - 1] else "output"
        return f"layer {k} ({name})"

    for ax, stat, title in (
        (axes[0], "grad_norm", "gradient norm (mean over batches)"),
        (axes[1], "update_ratio", "update / weight (one step)"),
    ):
        for k, (xs, ys) in _layer_series(records, stat).items():
            positive = [(x, y) for x, y in zip(xs, ys, strict=True) if y > 0]
            if positive:
                px, py = zip(*positive, strict=True)
                ax.plot(px, py, color=colours[k - 1], linewidth=1.4, label=label(k))
        ax.set_yscale("log")
        _plain_log_ticks(ax)
        ax.set_title(title, fontsize=10, y=1.01)
    axes[1].axhline(inputs["thresholds"]["step"], color="0.3", linestyle="--", linewidth=1)
    ax = axes[2]
    drawn = False
    for stat, style, threshold in (
        ("dead_fraction", "-", inputs["thresholds"]["dead"]),
        ("saturated_fraction", "-", inputs["thresholds"]["saturated"]),
    ):
        for k, (xs, ys) in _layer_series(records, stat).items():
            what = "dead" if stat == "dead_fraction" else "saturated"
            ax.plot(xs, ys, style, color=colours[k - 1], linewidth=1.4,
                    label=f"{label(k)} {what}")  # fmt: skip
            drawn = True
        if _layer_series(records, stat):
            ax.axhline(threshold, color="0.3", linestyle="--", linewidth=1)
    ax.set_ylim(-0.03, 1.03)
    ax.set_title("dead (ReLU) / saturated (sigmoid, tanh) units", fontsize=10, y=1.01)
    if not drawn:
        ax.text(0.5, 0.5, "no ReLU, sigmoid or tanh hidden layer", ha="center", va="center",
                transform=ax.transAxes, color="0.4")  # fmt: skip
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_label_coords(0.5, -0.1)  # fixed: placing it measures every tick label
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper right", framealpha=0.8)
    return _save(fig, path)


def _plain_log_ticks(ax: Any) -> None:
    """Log-axis tick labels as plain numbers (``0.001``) and no minor ticks: the default 10^k
    labels go through mathtext, and every minor tick is an object to lay out."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    ax.yaxis.set_major_locator(LogLocator(numticks=6))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_locator(NullLocator())  # minor ticks cost a Tick object each


def _layer_colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.9 * i / max(n - 1, 1)) for i in range(max(n, 1))]


# -- histograms ---------------------------------------------------------------------------------
def histograms(inputs: dict[str, Any], path: Path) -> Path:
    """Small multiples, one row per dense layer: its weights (left) and its pre-activations on
    the validation split (right), each at the first, middle and last logged epoch as outlined
    histograms from light to dark (TensorBoard's histogram view, one panel per tensor)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    snaps = inputs["snapshots"]
    names = inputs["activations"]
    n_layers = len(snaps[0].weights)
    width, height = 10.0, 1.45 * n_layers + 1.0
    fig = Figure(figsize=(width, height), dpi=80)
    fig.subplots_adjust(left=1.0 / width, right=1 - 0.15 / width, bottom=0.35 / height,
                        top=1 - 0.85 / height, wspace=0.08, hspace=0.5)  # fmt: skip
    epochs = ", ".join(str(snap.epoch) for snap in snaps)
    fig.text(0.15 / width, 1 - 0.1 / height,
             f"Weights (left) and pre-activations (right) per layer at epochs {epochs}: "
             f"{inputs['title']}", ha="left", va="top", fontsize=10, fontweight="bold")  # fmt: skip
    axes = fig.subplots(n_layers, 2, squeeze=False)
    sat = inputs["thresholds"]["saturation_z"]
    shades = [0.35, 0.65, 1.0][-len(snaps) :]
    for row in range(n_layers):
        name = names[row] if row < len(names) and names[row] else None
        for col, kind in enumerate(("weights", "preacts")):
            ax = axes[row, col]
            arrays = [np.asarray(getattr(s, kind)[row], np.float64).ravel() for s in snaps]
            finite = [a[np.isfinite(a)] for a in arrays]
            lo = min((a.min() for a in finite if a.size), default=-1.0)
            hi = max((a.max() for a in finite if a.size), default=1.0)
            if not hi > lo:
                lo, hi = lo - 0.5, hi + 0.5
            edges = np.linspace(lo, hi, 51)
            base = (0.12, 0.47, 0.71) if kind == "weights" else (0.42, 0.11, 0.6)
            for snap, values, shade in zip(snaps, finite, shades, strict=True):
                counts, _ = np.histogram(values, bins=edges)
                colour = tuple(1 - shade * (1 - c) for c in base)
                # a step line: much cheaper to draw than a StepPatch (ax.stairs)
                ax.plot(edges, np.append(counts, counts[-1]), drawstyle="steps-post",
                        color=colour, linewidth=1.3, label=f"epoch {snap.epoch}")  # fmt: skip
            ax.set_yticks([])
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.tick_params(labelsize=7, pad=1)
            if kind == "preacts" and name in sat:
                for z in (-sat[name], sat[name]):
                    if lo < z < hi:
                        ax.axvline(z, color="#c62828", linestyle="--", linewidth=0.8)
            elif kind == "preacts" and name in DEAD_UNIT_ACTIVATIONS and lo < 0 < hi:
                ax.axvline(0.0, color="#c62828", linestyle="--", linewidth=0.8)
            what = f"W{row + 1}" if kind == "weights" else f"pre-activation z{row + 1}"
            ax.set_title(what, fontsize=8, y=1.0, pad=2)
            if row == 0 and col == 1:
                ax.legend(fontsize=7, loc="upper right", framealpha=0.8)
        layer = f"layer {row + 1}\n({name or 'output'})"
        axes[row, 0].set_ylabel(layer, fontsize=8, rotation=0, ha="right", va="center")
        axes[row, 0].yaxis.set_label_coords(-0.03, 0.5)
    return _save(fig, path)


# -- decision boundaries ------------------------------------------------------------------------
def _panel(title: str, model: Any, train: tuple, val: tuple) -> dict[str, Any]:
    return {"title": title, "model": model, "train": train, "val": val}


def boundary_panel(title: str, model: Any, splits: Any) -> dict[str, Any]:
    """One panel of :func:`draw_boundaries` from a model and its (standardised) splits."""
    val = splits.val if splits.val is not None else splits.train
    return _panel(title, model, (splits.train.X, splits.train.y), (val.X, val.y))


def draw_boundaries(
    panels: list[dict[str, Any]], path: str | Path, title: str | None = None
) -> Path:
    """Decision regions of each panel's model (2 input features, classification) side by
    side, with its training (circles) and validation (triangles) points."""
    _agg()
    from matplotlib import style

    with style.context("default"):
        return _draw_boundaries(panels, Path(path), title)


def _draw_boundaries(panels: list[dict[str, Any]], path: Path, title: str | None) -> Path:
    from matplotlib.figure import Figure

    n = len(panels)
    width, height = 4.2 * n + 0.4, 4.5 + (0.35 if title else 0.0)
    fig = Figure(figsize=(width, height), dpi=90)
    fig.subplots_adjust(left=0.35 / width, right=1 - 0.1 / width, bottom=0.35 / height,
                        top=1 - (0.5 + (0.35 if title else 0.0)) / height, wspace=0.12)  # fmt: skip
    if title:
        fig.text(0.35 / width, 1 - 0.1 / height, title, ha="left", va="top", fontsize=12,
                 fontweight="bold")  # fmt: skip
    axes = np.atleast_1d(fig.subplots(1, n, squeeze=False)[0])
    for ax, panel in zip(axes, panels, strict=True):
        _boundary(ax, panel)
    return _save(fig, path)


def _boundary(ax: Any, panel: dict[str, Any]) -> None:
    model = panel["model"]
    Xt, yt = (np.asarray(a) for a in panel["train"])
    Xv, yv = (np.asarray(a) for a in panel["val"])
    both = np.vstack([Xt, Xv])
    (x0, y0), (x1, y1) = both.min(axis=0) - 0.5, both.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(x0, x1, GRID_POINTS), np.linspace(y0, y1, GRID_POINTS))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    with np.errstate(all="ignore"):
        out = np.asarray(model.forward(grid), np.float64)
    extent = (x0, x1, y0, y1)
    labels = np.unique(np.concatenate([np.asarray(yt).ravel(), np.asarray(yv).ravel()]))
    if out.shape[1] == 1:  # binary: probability of class 1
        p = out[:, 0].reshape(gx.shape)
        ax.imshow(p, origin="lower", extent=extent, cmap="RdBu_r", vmin=0, vmax=1,
                  alpha=0.55, aspect="auto", interpolation="bilinear")  # fmt: skip
        if np.nanmin(p) < 0.5 < np.nanmax(p):
            ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.2)
        cmap, vmax = "RdBu_r", 1
    else:  # several classes: the predicted class
        pred = out.argmax(axis=1).reshape(gx.shape)
        vmax = max(out.shape[1] - 1, 1)
        ax.imshow(pred, origin="lower", extent=extent, cmap="tab10", vmin=0, vmax=9,
                  alpha=0.4, aspect="auto", interpolation="nearest")  # fmt: skip
        cmap, vmax = "tab10", 9
    for X, y, marker, split in ((Xt, yt, "o", "train"), (Xv, yv, "^", "validation")):
        X, y = X[:MAX_POINTS_DRAWN], np.asarray(y).ravel()[:MAX_POINTS_DRAWN]
        ax.scatter(X[:, 0], X[:, 1], c=y.astype(np.float64), cmap=cmap, vmin=0, vmax=vmax,
                   marker=marker, s=14, edgecolors="k", linewidths=0.4, label=split)  # fmt: skip
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(panel["title"], fontsize=9, y=1.0)
    if len(labels) <= 10:
        ax.legend(fontsize=7, loc="lower right", framealpha=0.8)


# -- fitted curve -------------------------------------------------------------------------------
def fitted_curve(inputs: dict[str, Any], path: Path) -> Path:
    """Regression on one feature: the data and the model's prediction over its range."""
    from matplotlib.figure import Figure

    Xt, yt = (np.asarray(a) for a in inputs["train"])
    Xv, yv = (np.asarray(a) for a in inputs["val"])
    lo, hi = min(Xt.min(), Xv.min()), max(Xt.max(), Xv.max())
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    xs = np.linspace(lo - pad, hi + pad, 400).reshape(-1, 1)
    with np.errstate(all="ignore"):
        ys = np.asarray(inputs["model"].forward(xs), np.float64)[:, 0]
    fig = Figure(figsize=(7.0, 4.4), dpi=90)
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.12, top=0.9)
    ax = fig.subplots()
    ax.scatter(Xt[:MAX_POINTS_DRAWN, 0], yt.reshape(len(yt), -1)[:MAX_POINTS_DRAWN, 0], s=10,
               color=_TRAIN_COLOUR, alpha=0.6, label="train")  # fmt: skip
    ax.scatter(Xv[:MAX_POINTS_DRAWN, 0], yv.reshape(len(yv), -1)[:MAX_POINTS_DRAWN, 0], s=14,
               marker="^", color=_VAL_COLOUR, alpha=0.8, label="validation")  # fmt: skip
    ax.plot(xs[:, 0], ys, color="k", linewidth=1.8, label="model")
    ax.set_title(f"Fitted curve: {inputs['title']}", fontsize=11, y=1.01)
    ax.set_xlabel("x (standardised)")
    ax.set_ylabel("y")
    ax.xaxis.set_label_coords(0.5, -0.09)
    ax.yaxis.set_label_coords(-0.08, 0.5)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _save(fig, path)


# -- shared -------------------------------------------------------------------------------------
def _agg() -> None:
    import sys

    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")


def _save(fig: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", pil_kwargs={"compress_level": 1})
    return path

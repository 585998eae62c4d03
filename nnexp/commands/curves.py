"""Overlaid learning curves of several runs as one PNG (``python -m nnexp compare``).

One colour per run; train loss dashed, validation loss solid (as in every nnexp plot, the gap
between the two is what tells under- from overfitting). A second panel shows accuracy or R²
when every run recorded it. Like :mod:`nnexp.plots`: matplotlib imported lazily, the
object-oriented ``Figure`` on an Agg canvas, never ``pyplot``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG_SPAN = 100.0  # log y-scale when the losses span more than two decades
SECOND_PANEL = (("accuracy", "accuracy"), ("r2", "R²"))


@dataclass
class Curves:
    """One run's per-epoch histories: ``{"train_loss": [(epoch, value), ...], ...}``."""

    label: str
    series: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    #: a group's 95% interval around its mean curve: ``{"val_loss": [(epoch, low, high)]}``
    bands: dict[str, list[tuple[int, float, float]]] = field(default_factory=dict)


def plot_runs(curves: list[Curves], path: str | Path, title: str) -> Path:
    """Write the overlaid curves of ``curves`` to the PNG ``path``; return it as a Path."""
    path = Path(path)
    fig = runs_figure(curves, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def runs_figure(curves: list[Curves], title: str) -> Any:
    """The matplotlib ``Figure`` that :func:`plot_runs` saves (its axes and lines can be read)."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    second = next(
        (
            (key, name)
            for key, name in SECOND_PANEL
            if all(c.series.get(f"train_{key}") for c in curves)
        ),
        None,
    )
    fig = Figure(figsize=(12 if second else 7.5, 4.8), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2 if second else 1, squeeze=False)[0]
    colours = _colours(len(curves))
    panels = [("loss", "loss")] + ([second] if second else [])
    floor = _log_floor(curves)  # None: linear axes
    for ax, (key, name) in zip(axes, panels, strict=True):
        for colour, run in zip(colours, curves, strict=True):
            for part, style in (("train", "--"), ("val", "-")):
                points = run.series.get(f"{part}_{key}") or []
                if points:
                    steps, values = zip(*points, strict=True)
                    ax.plot(
                        steps,
                        values,
                        linestyle=style,
                        color=colour,
                        linewidth=1.5,
                        marker="o" if len(points) == 1 else None,  # one epoch: no line to draw
                    )
                band = run.bands.get(f"{part}_{key}") or []
                if band:
                    epochs, low, high = zip(*band, strict=True)
                    if key == "loss" and floor is not None:
                        # a band reaching zero or below runs off a log axis: down to the floor
                        low = [max(value, floor) for value in low]
                    ax.fill_between(epochs, low, high, color=colour, alpha=0.18, linewidth=0)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name if name == "R²" else name.capitalize(), fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    if floor is not None:
        axes[0].set_yscale("log")
    handles = [
        Line2D([], [], color=colour, linewidth=2, label=run.label)
        for colour, run in zip(colours, curves, strict=True)
    ]
    handles += [
        Line2D([], [], color="0.3", linestyle="--", label="train"),
        Line2D([], [], color="0.3", linestyle="-", label="validation"),
    ]
    fig.legend(handles=handles, fontsize=8, loc="outside right upper")
    fig.suptitle(title, fontsize=11, fontweight="bold")
    return fig


def _colours(n: int) -> list:
    import matplotlib

    if n <= 10:
        cmap = matplotlib.colormaps["tab10"]
        return [cmap(i) for i in range(n)]
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(i / max(n - 1, 1)) for i in range(n)]


def _log_floor(curves: list[Curves]) -> float | None:
    """Half the smallest positive loss drawn when the losses span more than :data:`LOG_SPAN`
    (the loss axis is then logarithmic and bands are cut there), else None (linear)."""
    values = [
        v
        for run in curves
        for key in ("train_loss", "val_loss")
        for _, v in run.series.get(key) or []
        if v > 0 and math.isfinite(v)
    ]
    if values and max(values) / min(values) > LOG_SPAN:
        return min(values) / 2.0
    return None

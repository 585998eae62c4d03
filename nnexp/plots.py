"""Learning-curve PNG: the first picture a user looks at after a run.

``plot_learning_curves(history, path, title=None, diagnosis=None)`` draws train and validation
loss per epoch (left; log y-scale when the values span more than two decades) and accuracy or
R² (right, when recorded), marks the epoch of minimal validation loss (dashed vertical line and
a point), and puts the diagnosis label and reason and any non-"completed" stop reason in the
title.

matplotlib is imported lazily inside the function, so ``import nnexp.plots`` stays cheap.
The figure is drawn with the object-oriented API on an Agg canvas (``Figure`` +
``FigureCanvasAgg``, never ``pyplot``), so no GUI window can open and no global pyplot figure
is left behind; ``matplotlib.use("Agg")`` is called only if pyplot has not been imported yet
(switching the backend under a live pyplot session, e.g. a notebook, would close its figures).
"""

from __future__ import annotations

import contextlib
import math
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["learning_curves_figure", "plot_learning_curves"]

_LABEL_COLOURS = {
    "good": "#1a7f37",
    "underfit": "#b35900",
    "overfit": "#c62828",
    "unstable": "#d84315",
    "diverged": "#6a1b9a",
}
_TRAIN_COLOUR = "#1f77b4"
_VAL_COLOUR = "#ff7f0e"
_LOG_SPAN = 100.0  # log y-scale when max/min of the losses exceeds two decades
_WIDTH, _BODY_HEIGHT = 10.0, 3.8  # inches; the header's height is added on top


def _column(history: Any, key: str) -> list[float] | None:
    if not history.epochs or any(key not in r for r in history.epochs):
        return None
    return [float(r[key]) for r in history.epochs]


def _header_lines(history: Any, title: str | None, diagnosis: Any) -> dict:
    label = str(diagnosis.label) if diagnosis is not None else None
    reason_text = str(diagnosis.reason) if diagnosis is not None else ""
    reason = textwrap.wrap(reason_text, width=140)
    stop = getattr(history, "stop_reason", None)
    show_stop = stop and stop != "completed" and (diagnosis is None or stop not in reason_text)
    stop_lines = textwrap.wrap(f"stopped: {stop}", width=140) if show_stop else []
    return {
        "title": title or "Learning curves",
        "label": label,
        "reason": reason,
        "stop": stop_lines,
    }


def _header_height(header: dict) -> float:
    """Inches needed by the header: title line plus 9.5 pt lines for reason and stop."""
    return 0.38 + 0.165 * (len(header["reason"]) + len(header["stop"]))


def _draw_header(fig: Any, header: dict) -> None:
    """Left-aligned header: bold title, coloured LABEL after it, reason lines, stop reason."""
    from matplotlib.text import Annotation

    def add(text: str, xy: tuple, xycoords: Any, offset: tuple, **kw: Any) -> Any:
        ann = Annotation(
            text, xy=xy, xycoords=xycoords, xytext=offset, textcoords="offset points", **kw
        )
        fig.add_artist(ann)
        return ann

    title = add(
        header["title"],
        (0, 1),
        fig.transFigure,
        (8, -6),
        ha="left",
        va="top",
        fontsize=12,
        fontweight="bold",
    )
    if header["label"]:
        add(
            header["label"].upper(),
            (1, 0),
            title,
            (10, 0),
            ha="left",
            va="bottom",
            fontsize=12,
            fontweight="bold",
            color=_LABEL_COLOURS.get(header["label"], "black"),
        )
    anchor = title
    if header["reason"]:
        anchor = add(
            "\n".join(header["reason"]),
            (0, 0),
            anchor,
            (0, -4),
            ha="left",
            va="top",
            fontsize=9.5,
            color="0.15",
            linespacing=1.25,
        )
    if header["stop"]:
        add(
            "\n".join(header["stop"]),
            (0, 0),
            anchor,
            (0, -2),
            ha="left",
            va="top",
            fontsize=9.5,
            color="0.35",
            style="italic",
            linespacing=1.25,
        )


def plot_learning_curves(
    history: Any, path: str | Path, title: str | None = None, diagnosis: Any = None
) -> Path:
    """Write the learning curves of ``history`` to the PNG ``path`` and return it as a Path.

    ``diagnosis`` is an ``nnexp.diagnosis.Diagnosis`` (or anything with ``label`` and
    ``reason``); its label and reason go into the title.
    """
    path = Path(path)
    with _default_style():
        fig = _draw(history, title, diagnosis)
        path.parent.mkdir(parents=True, exist_ok=True)
        # zlib level 1: a fifth larger file, a quarter less encoding time than the default 6
        fig.savefig(path, format="png", dpi=100, pil_kwargs={"compress_level": 1})
    return path


def learning_curves_figure(history: Any, title: str | None = None, diagnosis: Any = None) -> Any:
    """The matplotlib ``Figure`` that :func:`plot_learning_curves` saves (to inspect its axes
    and lines: scales, colours, line styles), not saved anywhere."""
    with _default_style():
        return _draw(history, title, diagnosis)


@contextlib.contextmanager
def _default_style() -> Iterator[None]:
    """Agg (no GUI), and matplotlib's defaults whatever ran before in this process (Optuna's
    plots switch the global style to ggplot): the same run gives the same picture."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    from matplotlib import style

    with style.context("default"):
        yield


def _draw(history: Any, title: str | None, diagnosis: Any) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = [int(r["epoch"]) for r in history.epochs]
    train_loss = _column(history, "train_loss")
    val_loss = _column(history, "val_loss")
    metric_key = next(
        (m for m in ("accuracy", "r2") if _column(history, f"train_{m}") is not None), None
    )

    header = _header_lines(history, title, diagnosis)
    header_h = _header_height(header)
    height = _BODY_HEIGHT + header_h
    fig = Figure(figsize=(_WIDTH, height), dpi=100)
    FigureCanvasAgg(fig)
    # Fixed margins in inches instead of constrained layout: the layout engine drew the figure
    # twice and cost ~0.18 s of a ~0.25 s plot, more than a 100-epoch run's whole recording.
    fig.subplots_adjust(
        left=0.75 / _WIDTH,
        right=1 - 0.2 / _WIDTH,
        bottom=0.55 / height,
        top=1 - (header_h + 0.3) / height,
        wspace=0.25,
    )
    _draw_header(fig, header)
    if metric_key is not None:
        ax_loss, ax_metric = fig.subplots(1, 2)
    else:
        ax_loss, ax_metric = fig.subplots(1, 1), None

    marker = "o" if len(epochs) <= 30 else None
    style = {"marker": marker, "markersize": 3, "linewidth": 1.6}

    best_epoch = best_val = None
    if val_loss is not None:
        i_best = min(range(len(val_loss)), key=val_loss.__getitem__)
        best_epoch, best_val = epochs[i_best], val_loss[i_best]

    # ---- loss panel
    if train_loss is not None:
        ax_loss.plot(epochs, train_loss, color=_TRAIN_COLOUR, label="train", **style)
    if val_loss is not None:
        ax_loss.plot(epochs, val_loss, color=_VAL_COLOUR, label="validation", **style)
    if best_epoch is not None:
        ax_loss.axvline(best_epoch, color="0.45", linestyle="--", linewidth=1)
        ax_loss.plot(
            [best_epoch],
            [best_val],
            "o",
            color=_VAL_COLOUR,
            markeredgecolor="black",
            markersize=7,
            zorder=5,
            label=f"min val {best_val:.4g} (epoch {best_epoch})",
        )
    losses = [v for v in (train_loss or []) + (val_loss or []) if v > 0 and math.isfinite(v)]
    if losses and max(losses) / min(losses) > _LOG_SPAN:
        ax_loss.set_yscale("log")
    if getattr(history, "diverged", False) and epochs:
        ax_loss.axvline(epochs[-1] + 1, color=_LABEL_COLOURS["diverged"], linewidth=1.2)
        ax_loss.text(
            epochs[-1] + 1,
            0.98,
            "diverged ",
            color=_LABEL_COLOURS["diverged"],
            transform=ax_loss.get_xaxis_transform(),
            ha="right",
            va="top",
            fontsize=8,
        )
    if not epochs:
        ax_loss.text(
            0.5,
            0.5,
            "no finite epoch recorded",
            ha="center",
            va="center",
            transform=ax_loss.transAxes,
            color="0.4",
        )
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("Loss", fontsize=10, y=1.01)

    # ---- metric panel
    if ax_metric is not None:
        name = "accuracy" if metric_key == "accuracy" else "R²"
        tr = _column(history, f"train_{metric_key}")
        va = _column(history, f"val_{metric_key}")
        ax_metric.plot(epochs, tr, color=_TRAIN_COLOUR, label="train", **style)
        if va is not None:
            ax_metric.plot(epochs, va, color=_VAL_COLOUR, label="validation", **style)
        if best_epoch is not None:
            ax_metric.axvline(best_epoch, color="0.45", linestyle="--", linewidth=1)
            if va is not None:
                v_at_best = va[epochs.index(best_epoch)]
                ax_metric.plot(
                    [best_epoch],
                    [v_at_best],
                    "o",
                    color=_VAL_COLOUR,
                    markeredgecolor="black",
                    markersize=7,
                    zorder=5,
                    label=f"at min val loss {v_at_best:.4g}",
                )
        values = tr + (va or [])
        lo, hi = min(values), max(values)
        if metric_key == "r2" and lo < -1 < hi:  # keep early, very negative R² from flattening
            lo = -1.0
        pad = max(0.02, 0.05 * (hi - lo))
        upper = min(hi + pad, 1.02)
        ax_metric.set_ylim(lo - pad, upper if upper > lo - pad else hi + pad)
        ax_metric.set_xlabel("epoch")
        ax_metric.set_ylabel(name)
        ax_metric.set_title(name.capitalize() if name == "accuracy" else name, fontsize=10, y=1.01)

    # Fixed legend corners where curves rarely are (losses fall, accuracy and R² rise):
    # loc="best" scans every plotted point and is slow on long runs.
    for ax, corner in ((ax_loss, "upper right"), (ax_metric, "lower right")):
        if ax is None:
            continue
        # Fixed title and label positions: placing them automatically measures every tick
        # label's extent and was a third of the drawing time.
        ax.xaxis.set_label_coords(0.5, -0.1)
        ax.yaxis.set_label_coords(-0.1, 0.5)
        ax.grid(True, which="major", alpha=0.35)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc=corner, framealpha=0.85)

    return fig

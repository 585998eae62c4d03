"""Decision boundaries of recorded runs side by side: ``compare --boundaries`` and a sweep's
best trials.

Each run's model comes back from its ``model.npz`` artifact and its data from its config
(the ``config.yaml`` artifact, as ``reproduce`` rebuilds it: same data, seed and split), so
nothing but what every run records is needed. Only classification on two input features has a
decision boundary to draw; other runs are skipped with the reason.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

MODEL_ARTIFACT = "model.npz"


def boundary_panel(reader: Any, run: Any, title: str) -> tuple[dict[str, Any] | None, str]:
    """``(panel, "")`` for :func:`nnexp.inspect_plots.draw_boundaries`, or ``(None, reason)``."""
    from nnexp.build import build_splits
    from nnexp.inspect_plots import boundary_panel as panel_of
    from nnexp.nn import load_model
    from nnexp.records.rebuild import rebuild_config

    cfg = rebuild_config(reader, run).cfg
    dataset, splits = build_splits(cfg.data, int(cfg.seed))
    features = splits.train.X.shape[1]
    if dataset.task != "classification" or features != 2:
        noun = "feature" if features == 1 else "features"
        return None, f"{dataset.task} on {features} {noun} (data={cfg.data.name})"
    with tempfile.TemporaryDirectory(prefix="nnexp-boundary-") as tmp:
        local = reader.download(run.run_id, MODEL_ARTIFACT, tmp)
        if local is None:
            return None, f"no {MODEL_ARTIFACT} artifact"
        model = load_model(local)
    return panel_of(title, model, splits), ""


def boundary_panels(
    reader: Any, runs: Sequence[Any], titles: Sequence[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The panels of the runs that have a boundary, and one line per skipped run. Rebuilding
    a run can fail (an incomplete record): callers collect panels before writing any file."""
    panels, skipped = [], []
    for run, name in zip(runs, titles, strict=True):
        panel, reason = boundary_panel(reader, run, name)
        if panel is None:
            skipped.append(f"{name}: {reason}")
        else:
            panels.append(panel)
    return panels, skipped


def draw_panels(panels: list[dict[str, Any]], path: Path, title: str) -> Path | None:
    """Draw ``panels`` side by side into ``path``; None (nothing written) when there are none."""
    from nnexp.inspect_plots import draw_boundaries

    return draw_boundaries(panels, path, title) if panels else None


def draw_run_boundaries(
    reader: Any, runs: Sequence[Any], titles: Sequence[str], path: Path, title: str
) -> tuple[Path | None, list[str]]:
    """Draw the runs that have a boundary into ``path``; return it (None if none had one) and
    one line per skipped run."""
    panels, skipped = boundary_panels(reader, runs, titles)
    return draw_panels(panels, path, title), skipped

"""The sweep parent's ``best_decision_boundaries.png``: its best trials' decision regions side
by side (classification on two features), drawn from the trials' records like
``compare --boundaries`` (:mod:`nnexp.records.boundaries`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

#: Trials drawn, best first: enough to see how the boundary changes near the optimum.
MAX_BOUNDARIES = 4
FILE = "best_decision_boundaries.png"


def best_boundaries(study: Any, rows: list[dict[str, Any]], store_uri: str, folder: Path,
                    metric: str) -> list[Path]:  # fmt: skip
    """Draw the best complete trials' boundaries into ``folder``; the file, or nothing (no
    complete trial, data without a boundary, or a failure, which is reported, never raised:
    a picture must not fail a finished sweep)."""
    from nnexp.sweep.report import ranked, shown_value

    best = [row for row in ranked(study, rows) if row["state"] == "COMPLETE" and row["run_id"]]
    best = best[:MAX_BOUNDARIES]
    if not best:
        return []
    try:
        from nnexp.records.boundaries import draw_run_boundaries
        from nnexp.tracking.reader import StoreReader

        reader = StoreReader(store_uri)
        runs = [reader.get_run(row["run_id"]) for row in best]
        titles = [_title(row, metric, shown_value(row)) for row in best]
        path, _ = draw_run_boundaries(
            reader,
            runs,
            titles,
            folder / FILE,
            f"Decision boundaries of the {len(runs)} best trials",
        )
    except Exception as exc:  # reported: the sweep's result stands
        print(f"nnexp: warning: no {FILE}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return []
    return [path] if path is not None else []


def _title(row: dict[str, Any], metric: str, value: float | None) -> str:
    params = ", ".join(
        f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}"
        for name, value in row["params"].items()
    )
    score = f"{metric} {value:.4g}" if value is not None else metric
    return f"trial {row['number']}: {params}\n{score}"

"""Runs as groups: mean ± sd per value of a param (``runs --group-by``), and a parent run's
children as one mean learning curve with a band (``compare PARENT_ID``).

A group is what a researcher repeats over seeds: the jobs of ``-m seed=range(5)``, the
confirm runs of a sweep's winner, or every run with ``model.activation=relu``. Its spread is
the honest error bar on any one of its runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from nnexp.commands.common import MISSING, format_number, format_param
from nnexp.commands.table import Column, fit_columns, render
from nnexp.errors import NnexpError
from nnexp.stats import summarize

PARENT_TAG = "mlflow.parentRunId"

#: Metrics summarised per group, when any run has them (``test_*`` follow).
GROUP_METRICS = ("final_val_loss", "best_val_loss")
GROUP_KEY_WIDTH = 24
MAX_WIDTH = 120  # as the runs table
CELL_FORMAT = "mean ± sd [95% CI of the mean, Student t] over the group's runs"


def group_runs(runs: Sequence[Any], key: str) -> dict[str, list[Any]]:
    """``{param value: runs}`` in first-seen order; a run without the param is in ``-``."""
    if not any(key in run.params for run in runs):
        known = sorted({k for run in runs for k in run.params})
        near = [k for k in known if k.endswith(key.split(".")[-1])][:5] or known[:8]
        raise NnexpError(
            f"runs: --group-by {key}: no listed run has that param (e.g. {', '.join(near)})"
        )
    groups: dict[str, list[Any]] = {}
    for run in runs:
        groups.setdefault(run.params.get(key, MISSING), []).append(run)
    return groups


def distinct_runs(runs: Sequence[Any]) -> list[Any]:
    """``runs`` with one confirm run per (parent, configuration, seed): the first listed.

    A later confirm phase now reuses the runs an earlier phase of its sweep made
    (:mod:`nnexp.sweep.confirm_reuse`); before, it made them again, identical, under the same
    parent. Counting such a copy narrows an interval with nothing new, so a store written then
    is read as if each (configuration, seed) had run once.
    """
    seen: set[tuple[str | None, ...]] = set()
    kept = []
    for run in runs:
        tags = getattr(run, "tags", {})
        if tags.get("nnexp.kind") == "confirm":
            same = (tags.get(PARENT_TAG), tags.get("confirm.config"), tags.get("confirm.seed"))
            if same in seen:
                continue
            seen.add(same)
        kept.append(run)
    return kept


def group_table(runs: Sequence[Any], key: str, sort_metric: str) -> list[str]:
    """One row per group: its value, the count, and mean ± sd [95% t interval] of each metric
    (the sort metric first in importance: the others show as ``MAX_WIDTH`` allows), then a note
    on the cells' format and any metric left out."""
    runs = distinct_runs(runs)
    groups = group_runs(runs, key)
    present = {m for run in runs for m in run.metrics}
    metrics = [m for m in (*GROUP_METRICS, sort_metric) if m in present]
    metrics += sorted(m for m in present if m.startswith("test_") and m not in metrics)
    metrics = list(dict.fromkeys(metrics))
    cells: dict[str, list[str]] = {m: [] for m in metrics}
    order = sorted(groups, key=lambda g: _mean_key(groups[g], sort_metric))
    for value in order:
        for metric in metrics:
            stats = summarize([r.metrics[metric] for r in groups[value] if metric in r.metrics])
            cells[metric].append(_mean_sd(stats))
    before = [
        Column(key[-GROUP_KEY_WIDTH:], [format_param(v, GROUP_KEY_WIDTH) for v in order]),
        Column("n", [str(len(groups[v])) for v in order], ">"),
    ]
    # the sort metric always shows; the others as the width allows, named when left out
    sort_column = [Column(sort_metric, cells[sort_metric], ">")] if sort_metric in cells else []
    others = [Column(m, cells[m], ">") for m in metrics if m != sort_metric]
    _, dropped = fit_columns([*before, *sort_column], others, [], MAX_WIDTH)
    gone = {id(column) for column in dropped}
    shown = [c for c in [*sort_column, *others] if id(c) not in gone]
    shown.sort(key=lambda column: metrics.index(column.header))
    notes = [f"each metric: {CELL_FORMAT}"]
    if dropped:
        notes.append(f"metrics not shown (width): {', '.join(c.header for c in dropped)}")
    return [*render([*before, *shown]), *notes]


def _mean_key(runs: list[Any], metric: str) -> float:
    mean = summarize([r.metrics[metric] for r in runs if metric in r.metrics]).mean
    return mean if math.isfinite(mean) else math.inf


def _mean_sd(stats: Any) -> str:
    if stats.n == 0:
        return MISSING
    if stats.n == 1:
        return format_number(stats.mean)
    # the Student-t interval of the mean beside the spread: the error bar a reader compares
    return f"{stats.mean:.4g} ± {stats.std:.2g} [{stats.ci_low:.4g}, {stats.ci_high:.4g}]"


def group_members(reader: Any, parent: Any) -> tuple[list[Any], str]:
    """The finished children of ``parent`` that form its group, and what they are.

    A sweep with a confirm phase: the winner's confirm runs (one configuration over seeds); a
    sweep without one: its completed trials; a multirun: its jobs.
    """
    children = [r for r in reader.children(parent) if r.status == "FINISHED"]
    winner = parent.tags.get("confirm.winner")
    if parent.kind == "sweep" and winner and winner != "none":
        members = [
            r for r in children if r.kind == "confirm" and r.tags.get("confirm.config") == winner
        ]
        members = distinct_runs(members)
        return members, f"confirmed {winner}"
    if parent.kind == "sweep":
        members = [r for r in children if r.tags.get("trial_state") == "COMPLETE"]
        return members, "completed trials"
    return children, "jobs"


def mean_band(series: Sequence[Sequence[tuple[int, float]]]) -> tuple[list, list]:
    """Per epoch logged by every run: ``(epoch, mean)`` and ``(epoch, ci_low, ci_high)``."""
    by_run = [dict(points) for points in series if points]
    if not by_run:
        return [], []
    epochs = sorted(set.intersection(*(set(points) for points in by_run)))
    means, band = [], []
    for epoch in epochs:
        stats = summarize([points[epoch] for points in by_run])
        means.append((epoch, stats.mean))
        if stats.n >= 2:
            band.append((epoch, stats.ci_low, stats.ci_high))
    return means, band

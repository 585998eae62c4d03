"""Runs as groups: mean ± sd per value of a param (``runs --group-by``), and a parent run's
children as one mean learning curve with a band (``compare PARENT_ID``).

A group is what a researcher repeats over seeds: the jobs of ``-m seed=range(5)``, the
confirm runs of a sweep's winner, or every run with ``model.activation=relu``. Its spread is
the honest error bar on any one of its runs.
"""

from __future__ import annotations

import math
import textwrap
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


def group_table(
    runs: Sequence[Any],
    key: str,
    sort_metric: str,
    descending: bool = False,
    limit: int | None = None,
) -> list[str]:
    """One row per group: its value, ``n`` and mean ± sd [95% t interval] of each metric (the
    sort metric first in importance: the others show as ``MAX_WIDTH`` allows), then a note on
    the cells' format and any metric or group left out.

    Groups are ordered by the mean of ``sort_metric``, highest first when ``descending`` (groups
    without it last); ``limit`` keeps the first ``limit`` groups, each still summarised over all
    its runs. ``n`` is the count behind the sort metric's statistics (runs with a finite value);
    where runs of the group lack it (pruned, diverged, failed) it reads ``4 of 6``, and a cell
    of another metric whose count differs says its own ``(n=K)``.
    """
    runs = distinct_runs(runs)
    groups = group_runs(runs, key)
    present = {m for run in runs for m in run.metrics}
    metrics = [m for m in (*GROUP_METRICS, sort_metric) if m in present]
    metrics += sorted(m for m in present if m.startswith("test_") and m not in metrics)
    metrics = list(dict.fromkeys(metrics))
    order = sorted(groups, key=lambda g: _mean_key(groups[g], sort_metric, descending))
    shown_groups = order[:limit] if limit else order
    stats = {
        value: {
            m: summarize([r.metrics[m] for r in groups[value] if m in r.metrics]) for m in metrics
        }
        for value in shown_groups
    }
    counts = [_count_cell(stats[v].get(sort_metric), len(groups[v])) for v in shown_groups]
    cells: dict[str, list[str]] = {m: [] for m in metrics}
    for value in shown_groups:
        used = stats[value].get(sort_metric)
        for metric in metrics:
            cell = _mean_sd(stats[value][metric])
            own = stats[value][metric].n
            if used is not None and own != used.n and own > 0:
                cell += f" (n={own})"
            cells[metric].append(cell)
    before = [
        Column(key[-GROUP_KEY_WIDTH:], [format_param(v, GROUP_KEY_WIDTH) for v in shown_groups]),
        Column("n", counts, ">"),
    ]
    # the sort metric always shows; the others as the width allows, named when left out
    sort_column = [Column(sort_metric, cells[sort_metric], ">")] if sort_metric in cells else []
    others = [Column(m, cells[m], ">") for m in metrics if m != sort_metric]
    _, dropped = fit_columns([*before, *sort_column], others, [], MAX_WIDTH)
    gone = {id(column) for column in dropped}
    shown = [c for c in [*sort_column, *others] if id(c) not in gone]
    shown.sort(key=lambda column: metrics.index(column.header))
    notes = [f"each metric: {CELL_FORMAT}"]
    if any(" of " in count for count in counts):
        notes.append(
            f"n: K of N = the statistics use K of the group's N runs; the others lack "
            f"{sort_metric} (pruned, diverged or failed)"
        )
    if dropped:
        notes.append(f"metrics not shown (width): {', '.join(c.header for c in dropped)}")
    if len(shown_groups) < len(order):
        notes.append(f"groups not shown (--limit {limit}): {len(order) - len(shown_groups)}")
    wrapped = [
        part
        for note in notes
        for part in textwrap.wrap(note, MAX_WIDTH, subsequent_indent="  ", break_long_words=False)
    ]
    return [*render([*before, *shown]), *wrapped]


def group_heading(
    title: str, runs: Sequence[Any], key: str, metric: str, order: str, limit: int | None
) -> str:
    """``<title>: 8 runs grouped by KEY (2 groups), highest mean METRIC first``; with
    ``--limit 1``: ``(2 groups, the first 1 shown)``."""
    count = len(group_runs(distinct_runs(runs), key))
    groups = f"{count} group{'' if count == 1 else 's'}"
    if limit and limit < count:
        groups += f", the first {limit} shown"
    listed = f"{len(runs)} run{'' if len(runs) == 1 else 's'}"
    return f"{title}: {listed} grouped by {key} ({groups}), {order} mean {metric} first"


def _count_cell(stats: Any, runs: int) -> str:
    """``4``, or ``4 of 6`` when 2 of the group's runs lack the sort metric."""
    used = runs if stats is None else stats.n
    return str(used) if used == runs else f"{used} of {runs}"


def _mean_key(runs: list[Any], metric: str, descending: bool = False) -> tuple[int, float]:
    """Ascending or descending by the mean; a group without a finite mean last either way."""
    mean = summarize([r.metrics[metric] for r in runs if metric in r.metrics]).mean
    if not math.isfinite(mean):
        return (1, 0.0)
    return (0, -mean if descending else mean)


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
    """``(epoch, mean)`` and ``(epoch, ci_low, ci_high)`` per epoch that at least two runs
    logged (one run alone: its own curve, no band).

    Runs of one group stop at different epochs (a seed diverges, early stopping): the mean
    goes on as long as two of them do, over those still running, so one early stop does not
    cut every curve to its length. :func:`runs_per_epoch_note` says where the count falls.
    """
    by_run = [dict(points) for points in series if points]
    if not by_run:
        return [], []
    least = min(2, len(by_run))
    epochs = sorted(e for e in set().union(*by_run) if sum(e in p for p in by_run) >= least)
    means, band = [], []
    for epoch in epochs:
        stats = summarize([points[epoch] for points in by_run if epoch in points])
        means.append((epoch, stats.mean))
        if stats.n >= 2:
            band.append((epoch, stats.ci_low, stats.ci_high))
    return means, band


def runs_per_epoch_note(series: Sequence[Sequence[tuple[int, float]]]) -> str:
    """``""`` when every run logged every epoch the mean is drawn at, else where the count
    of runs behind it falls: ``"; n<5 from epoch 3, n=2 at epoch 8"`` (for the legend)."""
    by_run = [dict(points) for points in series if points]
    if len(by_run) < 2:
        return ""
    counts = {e: sum(e in p for p in by_run) for e in set().union(*by_run)}
    drawn = sorted(e for e, n in counts.items() if n >= 2)
    fewer = [e for e in drawn if counts[e] < len(by_run)]
    if not fewer:
        return ""
    return f"; n<{len(by_run)} from epoch {fewer[0]}, n={counts[drawn[-1]]} at epoch {drawn[-1]}"

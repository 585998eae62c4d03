"""A multirun over seeds (``python -m nnexp -m seed=range(5)``): mean ± 95% CI on its parent.

When the finished jobs of a multirun differ in ``seed`` and in nothing else (bookkeeping params
aside), they are one configuration repeated: the parent run then records, for every final
metric any job has (``final_*``, ``best_*``, ``test_*``), ``<metric>_mean``, ``_std``,
``_ci_low`` and ``_ci_high`` (Student t, :mod:`nnexp.stats`) over the jobs that have it, and
``<metric>_n``, their count; and the tag ``seeds`` = the count of finished jobs. A seed that
diverged before its first epoch has no final metric: it is left out of every statistic (each
metric's own ``n`` says so) and named in the printed summary, rather than hiding the others'.
A multirun that varies anything else is a comparison, not a repetition: nothing is added.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from nnexp.stats import Summary, summarize

BOOKKEEPING = ("tracking.", "trainer.progress")
SUMMARISED = ("final_", "best_", "test_")
STAT_PARTS = ("mean", "std", "ci_low", "ci_high")


@dataclass
class SeedSummary:
    """The statistics of a seed group: ``stats`` per metric (each over the seeds that have a
    finite value), the finished ``seeds``, and ``lacking``: ``{seed: diagnosis}`` of the seeds
    without a value of some summarised metric."""

    stats: dict[str, Summary]
    seeds: int
    lacking: dict[str, str] = field(default_factory=dict)


def summarize_seed_jobs(store: Any, parent_id: str) -> SeedSummary | None:
    """Log the seed statistics to the parent; return them (None if the jobs are no seed group)."""
    from mlflow.entities import Metric, RunTag

    from nnexp.tracking.client import tracking_client

    client = tracking_client(store.uri)
    children = client.search_runs(
        [store.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    finished = [run for run in children if run.info.status == "FINISHED"]
    if len(finished) < 2:
        return None
    keys = set().union(*(run.data.params for run in finished))
    differing = {
        key
        for key in keys
        if not key.startswith(BOOKKEEPING)
        and len({run.data.params.get(key) for run in finished}) > 1
    }
    if differing != {"seed"}:
        return None
    names = sorted(
        {key for run in finished for key in run.data.metrics if key.startswith(SUMMARISED)}
    )
    stats = {
        name: summarize([run.data.metrics[name] for run in finished if name in run.data.metrics])
        for name in names
    }
    lacking = {
        run.data.params.get("seed", run.info.run_id[:8]): run.data.tags.get("diagnosis", "-")
        for run in finished
        if any(not math.isfinite(run.data.metrics.get(name, math.nan)) for name in names)
    }
    now = int(time.time() * 1000)
    metrics = [
        Metric(f"{name}_{part}", float(getattr(summary, part)), now, 0)
        for name, summary in stats.items()
        for part in STAT_PARTS
        if math.isfinite(getattr(summary, part))  # one seed: no spread to record
    ]
    metrics += [Metric(f"{name}_n", float(summary.n), now, 0) for name, summary in stats.items()]
    client.log_batch(parent_id, metrics=metrics, tags=[RunTag("seeds", str(len(finished)))])
    return SeedSummary(stats, len(finished), lacking)


def format_seed_summary(summary: SeedSummary) -> str:
    """Lines for the console: the count, then mean ± sd [95% CI] (n) per loss and test metric,
    then the seeds left out of some statistic."""
    stats = summary.stats
    shown = [k for k in stats if k in ("final_val_loss", "best_val_loss") or k.startswith("test_")]
    lines = [f"over {summary.seeds} seeds (mean ± sd [95% CI, Student t]):"]
    lines += [f"  {name}: {stats[name].text()}" for name in shown]
    if not stats:
        lines.append("  no seed recorded a final metric")
    if summary.lacking:
        listed = ", ".join(f"{seed} ({why})" for seed, why in summary.lacking.items())
        lines.append(
            f"  left out where they lack a metric ({len(summary.lacking)} of {summary.seeds} "
            f"seeds; n counts the others): seed {listed}"
        )
    return "\n".join(lines)

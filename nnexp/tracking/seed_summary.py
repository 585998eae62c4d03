"""A multirun over seeds (``python -m nnexp -m seed=range(5)``): mean ± 95% CI on its parent.

When the finished jobs of a multirun differ in ``seed`` and in nothing else (bookkeeping params
aside), they are one configuration repeated: the parent run then records, for every final
metric the jobs share (``final_*``, ``best_*``, ``test_*``), ``<metric>_mean``, ``_std``,
``_ci_low`` and ``_ci_high`` (Student t, :mod:`nnexp.stats`), and the tag ``seeds`` = the count.
A multirun that varies anything else is a comparison, not a repetition: nothing is added.
"""

from __future__ import annotations

import time
from typing import Any

from nnexp.stats import Summary, summarize

BOOKKEEPING = ("tracking.", "trainer.progress")
SUMMARISED = ("final_", "best_", "test_")


def summarize_seed_jobs(store: Any, parent_id: str) -> dict[str, Summary] | None:
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
    shared = set.intersection(*(set(run.data.metrics) for run in finished))
    names = sorted(key for key in shared if key.startswith(SUMMARISED))
    stats = {name: summarize([run.data.metrics[name] for run in finished]) for name in names}
    now = int(time.time() * 1000)
    metrics = [
        Metric(f"{name}_{part}", float(getattr(summary, part)), now, 0)
        for name, summary in stats.items()
        for part in ("mean", "std", "ci_low", "ci_high")
    ]
    client.log_batch(parent_id, metrics=metrics, tags=[RunTag("seeds", str(len(finished)))])
    return stats


def format_seed_summary(stats: dict[str, Summary]) -> str:
    """Lines for the console: the count, then mean ± sd [95% CI] per loss and test metric."""
    n = next(iter(stats.values())).n if stats else 0
    shown = [k for k in stats if k in ("final_val_loss", "best_val_loss") or k.startswith("test_")]
    lines = [f"over {n} seeds (mean ± sd [95% CI, Student t]):"]
    lines += [f"  {name}: {stats[name].text()}" for name in shown]
    return "\n".join(lines)

"""One plain line per finished trial, for logs (CI, ``nohup``, ``| tee``) where no bar is drawn.

``trial 7/30 COMPLETE  best_val_loss 0.0912  lr=0.0123  (2.1 s)  best so far 0.0788 (trial 2)``:
the number, the state, the objective value (a pruned trial: the last value it reported, and
the epoch it was pruned at; a failed one: why), the sampled parameters, and the study's best.
"""

from __future__ import annotations

import math
from typing import Any


def trial_line(plan: Any, study: Any, params: dict[str, Any], outcome: Any, done: int) -> str:
    """The line for ``outcome`` (a :class:`nnexp.sweep.objective.TrialOutcome`)."""
    total = f"/{plan.max_trials}" if plan.max_trials else ""
    metrics = plan.spec.objective_metrics
    parts = [f"trial {outcome.number}{total} {outcome.state}"]
    if outcome.values:
        parts.append(
            "  ".join(f"{m} {_number(v)}" for m, v in zip(metrics, outcome.values, strict=False))
        )
    elif outcome.reason:
        parts.append(outcome.reason)
    if params:
        parts.append(" ".join(f"{name}={_number(value)}" for name, value in params.items()))
    parts.append(f"({outcome.seconds:.1f} s)")
    best = best_so_far(study)
    if best:
        parts.append(best)
    return "nnexp: " + "  ".join(parts)


def best_so_far(study: Any) -> str:
    """``best so far 0.0788 (trial 2)``, or '' with no complete trial (or several objectives)."""
    if len(study.directions) != 1:
        return ""
    try:
        best = study.best_trial
    except ValueError:  # no complete trial yet
        return ""
    return f"best so far {_number(best.value)} (trial {best.number})"


def _number(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.4g}"
    return str(value)

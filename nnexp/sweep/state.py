"""Where a study stands before and after a launch: done, workers worth starting, trials missing.

- A launch first looks at the study (:func:`peek`), before MLflow or any worker starts: a study
  whose report was written at its total (:data:`~nnexp.sweep.attrs.FINISHED_ATTR`) and that has
  nothing left to run says ``30/30 trials already done; ...`` and exits 0 in about a second.
- ``sweep.workers`` is capped at the trials left to run (a worker with no trial only costs start
  time) and warned about above the machine's cores (:func:`plan_workers`).
- A sweep that ends short of ``n_trials`` for any reason but its ``timeout`` (trials that kept
  failing outside the trial, a worker that crashed) exits 1 saying how many trials are missing
  (:class:`SweepIncomplete`); the trials lost that way are re-queued, so the same command runs
  them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from nnexp.errors import NnexpError
from nnexp.sweep.attrs import FINISHED_ATTR, IDENTITY_ATTR

EXIT_INCOMPLETE = 1


class SweepIncomplete(NnexpError):
    """The sweep stopped short of its total (exit 1: not a bad input, not a crash of nnexp)."""

    exit_code = EXIT_INCOMPLETE


@dataclass
class StudyState:
    done: int  # trials that count towards n_trials and are finished
    running: int  # trials that count and are RUNNING (maybe in another process)
    unfinished: int  # RUNNING or WAITING (queued) trials
    finished_total: int | None  # the total at which the report was last written
    same_identity: bool


def study_state(study: Any, identity: dict[str, Any] | None = None) -> StudyState:
    from optuna.trial import TrialState

    from nnexp.sweep.storage import counted_trials

    trials = study.get_trials(deepcopy=False)
    counted = counted_trials(trials)
    done = sum(t.state.is_finished() for t in counted)
    unfinished = sum(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)
    attrs = study.user_attrs
    stored = attrs.get(IDENTITY_ATTR)
    return StudyState(
        done=done,
        running=sum(t.state == TrialState.RUNNING for t in counted),
        unfinished=unfinished,
        finished_total=attrs.get(FINISHED_ATTR),
        same_identity=_same_identity(stored, identity),
    )


def _same_identity(stored: Any, identity: dict[str, Any] | None) -> bool:
    from nnexp.redact import redact_value
    from nnexp.sweep.identity import identity_mismatch

    if identity is None or not isinstance(stored, dict):
        return True
    return identity_mismatch(stored, redact_value(identity)) is None


def peek(storage: Any, study_name: str, identity: dict[str, Any]) -> tuple[Any, StudyState] | None:
    """``(study, state)`` if the study exists in ``storage``, else None. Creates nothing."""
    import optuna

    from nnexp.errors import ConfigError
    from nnexp.sweep.storage import describe_storage

    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        return None
    except Exception as exc:  # an unusable URL: the same line as creating the study gives
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ConfigError(
            f"cannot open the Optuna storage {describe_storage(storage)}: "
            f"{type(exc).__name__}: {first}"
        ) from None
    return study, study_state(study, identity)


def already_done(state: StudyState, total: int | None) -> bool:
    """A finished sweep: reported at a total it has reached, nothing running or queued."""
    return (
        total is not None
        and state.same_identity
        and state.finished_total is not None
        and state.unfinished == 0
        and state.done >= total
    )


def done_message(study: Any, state: StudyState, total: int, metric: str) -> str:
    lines = [
        f"sweep {study.study_name}: {state.done}/{total} trials already done; "
        f"raise sweep.n_trials or choose sweep.study_name"
    ]
    if len(study.directions) == 1:
        try:
            best = study.best_trial
            lines.append(f"  best: {metric} = {best.value:.4g} (trial {best.number})")
        except ValueError:
            pass
    return "\n".join(lines)


def mark_finished(study: Any, total: int | None) -> None:
    """Record that the report was written with the study at ``total`` trials."""
    if total is not None:
        study.set_user_attr(FINISHED_ATTR, int(total))


def plan_workers(requested: int, remaining: int | None, cores: int | None = None) -> int:
    """How many processes to run: at most the trials left, with a warning above the cores."""
    workers = requested
    if remaining is not None and workers > max(remaining, 1):
        workers = max(remaining, 1)
        print(
            f"nnexp: sweep.workers={requested} capped at {workers} "
            f"({remaining} trial{'s' if remaining != 1 else ''} left to run)",
            file=sys.stderr,
            flush=True,
        )
    cores = cores or _cores()
    if workers > cores:
        print(
            f"nnexp: warning: sweep.workers={workers} is more than this machine's {cores} "
            f"cores: the workers will share them and each trial runs slower",
            file=sys.stderr,
            flush=True,
        )
    return workers


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def missing_message(done: int, total: int, why: str) -> str:
    missing = total - done
    return (
        f"the sweep ended with {done} of {total} trials: {missing} missing ({why}); "
        f"they are queued: run the same command again to run them"
    )

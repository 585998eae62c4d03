"""One trial: sample, compose the overrides, run them through ``run_experiment``, tell Optuna.

Outcomes and how they are recorded (Optuna state / MLflow child run):

- completed: COMPLETE with the metric's value / FINISHED, ``trial_state=COMPLETE``.
- pruned (the pruner stopped it, see :class:`TrialCallback`): PRUNED with the last reported
  value / FINISHED, ``trial_state=PRUNED`` (the recorder's soft stop: never a "crash").
- diverged (NaN or a loss above ``trainer.divergence_bound``): FAIL with ``fail_reason`` =
  the stop reason (``diverged: loss=nan at epoch 3``) / FINISHED, ``diagnosis=diverged``,
  ``trial_state=FAIL``. Divergence is a result about the hyperparameters, not a crash of the
  bench, so the run is not FAILED; in Optuna it must not be COMPLETE, because a diverged value
  (NaN, or the last finite loss before the blow-up) is never a best value. The sweep goes on.
- crashed (an exception): FAIL with the error as ``fail_reason`` / FAILED with the ``error``
  tag (by the recorder). The sweep goes on, but stops after ``MAX_CONSECUTIVE_CRASHES`` in a
  row (a broken setup should not burn the whole budget).
- interrupted (Ctrl-C, SIGTERM): FAIL, re-queued for the next launch / KILLED; re-raised.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from nnexp.cmdline import command_line, shell_line
from nnexp.redact import redact
from nnexp.sweep.attrs import REPLACED_ATTR, RETRY_OF_ATTR, RUN_ID_ATTR, WORKER_ATTR
from nnexp.sweep.orphans import LEASE_REFRESH, requeue_trial, worker_identity
from nnexp.sweep.overrides import merge_overrides, trial_seed
from nnexp.sweep.space import suggest, to_override

MAX_CONSECUTIVE_CRASHES = 3


@dataclass
class TrialOutcome:
    number: int
    state: str
    values: list[float] | None = None
    run_id: str | None = None
    reason: str | None = None
    crashed: bool = False
    outside: bool = False  # failed for a reason outside the trial: re-queued
    seconds: float = 0.0
    overrides: list[str] = field(default_factory=list)


class TrialCallback:
    """Training callback: report the validation metric to Optuna, prune, keep the lease fresh.

    Reports go ``report_every`` epochs apart (each is a synced journal write). For a ``best_*``
    objective the reported value is the best so far (running minimum, or maximum when
    maximising), i.e. what the objective would be if the trial stopped now: a noisy epoch then
    cannot get a trial pruned that has already done well. With a pruner, ``should_prune()``
    after each report raises ``optuna.TrialPruned``.
    """

    def __init__(
        self, trial: Any, key: str | None, every: int, prune: bool, running: str | None = None
    ):
        self.trial, self.key, self.every, self.prune = trial, key, every, prune
        self.running = running  # "minimize" | "maximize" | None (report the raw value)
        self.best: float | None = None
        self.run_id: str | None = None
        self.last_report: tuple[int, float] | None = None  # (epoch, value) last told to Optuna
        self._lease = time.monotonic()

    def on_run_start(self, run_id: str) -> None:
        self.run_id = run_id
        # optuna-dashboard shows user attributes: a trial names its MLflow run from the start
        self.trial.set_user_attr(RUN_ID_ATTR, run_id)

    def on_epoch_end(self, record: dict[str, Any]) -> None:
        epoch = int(record["epoch"])
        if time.monotonic() - self._lease > LEASE_REFRESH:
            self.trial.set_user_attr(WORKER_ATTR, worker_identity())
            self._lease = time.monotonic()
        if self.key is None:
            return
        value = record.get(self.key)
        if value is None or not math.isfinite(value):
            return
        if self.running is not None:
            better = min if self.running == "minimize" else max
            value = value if self.best is None else better(self.best, value)
            self.best = value
        if epoch % self.every:
            return
        self.trial.report(float(value), epoch)
        self.last_report = (epoch, float(value))
        if self.prune and self.trial.should_prune():
            import optuna

            told = (
                f"best {self.key} so far {value:.4g}" if self.running else f"{self.key}={value:.4g}"
            )
            raise optuna.TrialPruned(f"pruned at epoch {epoch} ({told})")


def trial_overrides(plan: Any, params: dict[str, Any], number: int) -> tuple[list[str], int]:
    """The trial's override list and seed (see :mod:`nnexp.sweep.overrides`).

    With ``vary_seed`` each trial gets its own seed (initialisation, shuffling, dropout) while
    the data stays on the base seed (``data.seed``, unless set or swept): trials are compared on
    one validation split, so the pruner and the best value judge the hyperparameters, not the
    luck of a split.
    """
    sampled = [to_override(dim, params[dim.name]) for dim in plan.dims if dim.name in params]
    seed = trial_seed(plan.base_seed, number) if plan.spec.vary_seed else plan.base_seed
    swept = {dim.key for dim in plan.dims}
    tail = []
    if plan.spec.vary_seed and "data.seed" not in swept and plan.base_cfg.data.seed is None:
        tail.append(f"data.seed={plan.base_seed}")
    if "seed" not in swept:
        tail.append(f"seed={seed}")
    return merge_overrides(plan.base_overrides, sampled, tail), seed


def seed_trial_number(trial: Any) -> int:
    """The number the trial's seed derives from: its own, or the orphan's it replaces."""
    return int(trial.user_attrs.get(RETRY_OF_ATTR, trial.number))


def run_trial(plan: Any, study: Any, trial: Any, runs: Any) -> TrialOutcome:
    """Run ``trial`` (from ``study.ask()``) to a told state; return what happened."""
    import optuna
    from optuna.trial import TrialState

    from nnexp.errors import NnexpError
    from nnexp.run import run_experiment

    started = time.perf_counter()
    params = {dim.name: suggest(trial, dim) for dim in plan.dims}
    seed_number = seed_trial_number(trial)
    overrides, seed = trial_overrides(plan, params, seed_number)
    outcome = TrialOutcome(trial.number, "RUNNING", overrides=overrides)
    running = plan.spec.direction if plan.spec.metric.startswith("best_") else None
    callback = TrialCallback(
        trial, plan.report_key, plan.spec.report_every, plan.prune, running=running
    )
    tags = {
        "nnexp.kind": "trial",
        "nnexp.study": plan.study_name,
        "trial_number": trial.number,
        "trial_seed": seed,
        "overrides": shell_line(overrides),
        "command": command_line(overrides),
        **{f"trial.param.{k}": v for k, v in params.items()},
        # for `nnexp runs`: the config keys the sweep varies, and the objective's metric
        "nnexp.swept": ",".join(dim.key for dim in plan.dims),
        "nnexp.objective": plan.spec.objective_metrics[0],
    }
    if RETRY_OF_ATTR in trial.user_attrs:
        tags["trial_retry_of"] = trial.user_attrs[RETRY_OF_ATTR]
    result = None
    try:
        cfg = plan.composer.compose(overrides)
        cfg.tracking.log_plots = bool(plan.spec.log_plots)
        cfg.tracking.log_every = int(plan.spec.log_every)
        result = run_experiment(
            cfg,
            overrides=overrides,
            parent_run_id=plan.parent_id,
            extra_tags=tags,
            callbacks=[callback],
            log_model=plan.spec.log_model == "all",
            progress=False,
            run_name=f"{plan.study_name}-{trial.number}",
        )
    except optuna.TrialPruned as exc:
        outcome.state, outcome.reason = "PRUNED", str(exc)
    except KeyboardInterrupt:
        trial.set_user_attr(REPLACED_ATTR, True)
        trial.set_user_attr("fail_reason", "interrupted")
        study.tell(trial, state=TrialState.FAIL)
        requeue_trial(study, params, seed_number)
        raise
    except Exception as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if outside_the_trial(exc):
            # the store, the disk or the network failed, not these hyperparameters: the trial
            # is failed, marked replaced and re-queued with its parameters and seed
            outcome.state, outcome.outside = "FAIL", True
            outcome.reason = f"failed outside the trial: {type(exc).__name__}: {text}"
            trial.set_user_attr(REPLACED_ATTR, True)
        # bad input for this point of the space (e.g. a batch larger than the data) is a
        # failed trial; anything else is a crash, and crashes in a row stop the sweep
        elif isinstance(exc, NnexpError):
            outcome.state, outcome.reason = "FAIL", text
        else:
            outcome.state, outcome.crashed = "FAIL", True
            outcome.reason = f"{type(exc).__name__}: {text}"
    outcome.run_id = callback.run_id
    if result is not None:
        outcome.run_id = result.run_id
        _judge(plan, result, outcome)
    outcome.seconds = time.perf_counter() - started
    if outcome.state == "COMPLETE":
        study.tell(trial, outcome.values)
    else:
        if outcome.reason and outcome.state == "FAIL":
            trial.set_user_attr("fail_reason", redact(outcome.reason))  # kept in the journal
        study.tell(trial, state=TrialState[outcome.state])
    if outcome.outside:
        requeue_trial(study, params, seed_number)
    if runs is not None and outcome.run_id:
        end_tags: dict[str, Any] = {"trial_state": outcome.state}
        if outcome.values:
            end_tags["trial_value"] = ",".join(repr(v) for v in outcome.values)
        if outcome.reason and outcome.state != "PRUNED":
            end_tags["trial_fail_reason"] = outcome.reason
        if outcome.state == "PRUNED" and callback.last_report is not None:
            end_tags["trial_pruned_epoch"], end_tags["trial_reported_value"] = callback.last_report
        try:
            runs.tag_run(outcome.run_id, end_tags)
        except Exception:
            if not outcome.outside:  # the store that failed the trial may fail this too
                raise
    return outcome


def tell_untold(study: Any, trial: Any, exc: BaseException) -> None:
    """Tell FAIL a trial still RUNNING after ``exc`` escaped it (e.g. raised while sampling).

    An interruption re-queues its parameters (like one inside the run), so it is not lost.
    """
    from optuna.trial import TrialState

    try:
        state = study._storage.get_trial(trial._trial_id).state
    except Exception:  # the storage itself failed: the orphan reaper will see the trial
        return
    if state != TrialState.RUNNING:
        return
    interrupted = isinstance(exc, KeyboardInterrupt)
    reason = "interrupted" if interrupted else f"{type(exc).__name__}: {str(exc)[:200]}"
    trial.set_user_attr("fail_reason", reason)
    if interrupted:
        trial.set_user_attr(REPLACED_ATTR, True)
    study.tell(trial, state=TrialState.FAIL)
    if interrupted:
        requeue_trial(study, dict(trial.params), seed_trial_number(trial))


def outside_the_trial(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure of the store, the disk or the network, not of the trial.

    Such a trial is retried with the same parameters: e.g. MLflow's ``UNIQUE constraint
    failed: datasets...`` when several processes log the same data set at once, a full disk,
    a lost connection. A ``ConfigError`` or ``ValueError`` is about the hyperparameters.
    """
    from nnexp.errors import ConfigError, TrackingError

    if isinstance(exc, TrackingError):
        return True
    if isinstance(exc, ConfigError):
        return False
    if isinstance(exc, OSError | ConnectionError | TimeoutError):
        return True
    for cls in type(exc).__mro__:
        module = cls.__module__.split(".", 1)[0]
        if module in ("mlflow", "sqlalchemy", "sqlite3", "psycopg", "requests", "urllib3"):
            return True
    return False


def _judge(plan: Any, result: Any, outcome: TrialOutcome) -> None:
    if result.history.diverged:
        outcome.state, outcome.reason = "FAIL", result.history.stop_reason
        return
    values = []
    for metric in plan.spec.objective_metrics:
        value = result.final_metrics.get(metric)
        if value is None or not math.isfinite(value):
            available = ", ".join(sorted(result.final_metrics))
            outcome.state = "FAIL"
            outcome.reason = f"metric {metric} not produced by the run (available: {available})"
            return
        values.append(float(value))
    outcome.state, outcome.values = "COMPLETE", values

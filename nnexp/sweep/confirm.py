"""The confirm phase: re-run a sweep's winners over fresh seeds, so the winner is not one lucky draw.

A sweep's best trial is one draw: with 30 trials on a small validation set the winner is partly
luck (the winner's curse). After the search, the ``sweep.confirm.top_k`` best *distinct*
configurations (plus the base config, ``sweep.confirm.baseline``) are each re-run with
``sweep.confirm.seeds`` fresh seeds, the same seeds for every configuration, so they can be
compared seed by seed (:func:`nnexp.stats.paired_t_test`). Each re-run is an ordinary run
through the single-run path, a child of the sweep's parent run tagged ``role=confirm``.

How it is scheduled, so it resumes and spreads over workers like the search does: the jobs live
in a second Optuna study in the same storage, ``<study>.confirm-top<K>x<S>``. Under the sweep
lock, once no search trial is running or waiting, the first process to get there *decides*
(picks the configurations, stores them as the confirm study's user attribute ``nnexp.confirm``)
and enqueues one WAITING trial per (seed, configuration). Every process (launcher and workers,
on any machine) then takes WAITING jobs under the lock, claims them, runs them and tells the
result, exactly like search trials. A killed process leaves its job RUNNING; the next process
fails it and enqueues it again (on RDB storages Optuna's heartbeat does the same), so a killed
confirm phase resumes to exactly ``(top_k + baseline) x seeds`` finished runs, none run twice.
A later phase of the same sweep (other ``top_k``/``seeds``: another confirm study) resumes the
same way from the jobs the earlier phases finished (:mod:`nnexp.sweep.confirm_reuse`): a
(configuration, seed) run is made once per sweep, so a larger ``--seeds`` only adds seeds.

Confirm seeds: ``base_seed * SEED_STRIDE + SEED_STRIDE - 1 - s`` for ``s = 0..seeds-1``, the top
of the base seed's block of trial seeds (trial ``n`` has ``base_seed * SEED_STRIDE + n``), so
they are fresh for any sweep of fewer than ``SEED_STRIDE - seeds`` trials. The data stay on the
base seed (``data.seed``): the configurations are compared on the sweep's split.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nnexp.errors import ConfigError, first_line
from nnexp.sweep.attrs import RUN_ID_ATTR
from nnexp.sweep.overrides import SEED_STRIDE, merge_overrides
from nnexp.sweep.storage import sweep_lock

PLAN_ATTR = "nnexp.confirm"
JOB_ATTR = "nnexp.confirm.job"
RESULT_ATTR = "nnexp.confirm.metrics"
WAIT_POLL = 2.0
BASE_LABEL = "base"


@dataclass
class ConfirmJob:
    """One run of the confirm phase: configuration ``config`` (an index) with ``seed``."""

    config: int
    seed: int
    attempt: int = 0

    def attrs(self) -> dict[str, int]:
        return {"config": self.config, "seed": self.seed, "attempt": self.attempt}


def check_confirm(spec: Any, dims: list[Any]) -> None:
    """``sweep.confirm.*`` before any trial: one line on a setting that cannot work."""
    confirm = spec.confirm
    if confirm.top_k < 0:
        raise ConfigError(f"sweep.confirm.top_k={confirm.top_k} is invalid: must be >= 0 (0: off)")
    if not confirm.top_k:
        return
    if confirm.seeds < 2:
        raise ConfigError(
            f"sweep.confirm.seeds={confirm.seeds} is invalid: must be >= 2 (an interval needs "
            "two values; sweep.confirm.top_k=0 turns the confirm phase off)"
        )
    if confirm.seeds >= SEED_STRIDE // 2:
        raise ConfigError(f"sweep.confirm.seeds={confirm.seeds} is invalid: must be < 5000")
    if len(spec.objective_metrics) > 1:
        raise ConfigError(
            "sweep.confirm.top_k is invalid with several objectives (sweep.metrics): a winner "
            "needs one metric; set sweep.confirm.top_k=0"
        )
    if any(dim.key == "seed" for dim in dims):
        raise ConfigError(
            "sweep.confirm.top_k is invalid when the space sweeps 'seed': the confirm phase "
            "chooses the seeds; set sweep.confirm.top_k=0"
        )


def confirm_study_name(study_name: str, spec: Any) -> str:
    """``<search study>.confirm-top<K>x<S>``: named after the search study as resolved (its
    default ``lr-<digest>`` name included), so two studies of one sweep file sharing a storage
    never share a confirm phase."""
    return f"{study_name}.confirm-top{spec.confirm.top_k}x{spec.confirm.seeds}"


def confirm_seeds(base_seed: int, n: int) -> list[int]:
    return [int(base_seed) * SEED_STRIDE + SEED_STRIDE - 1 - s for s in range(n)]


def open_confirm_study(plan: Any, study: Any) -> Any:
    """The confirm study in the search study's storage (created under the sweep lock)."""
    import optuna

    with sweep_lock(plan.lock_path):
        return optuna.create_study(
            storage=study._storage,
            study_name=confirm_study_name(plan.study_name, plan.spec),
            load_if_exists=True,
            direction=plan.spec.objective_directions[0],
            sampler=optuna.samplers.RandomSampler(seed=0),  # nothing is sampled: jobs are queued
        )


def confirm_settled(storage: Any, study_name: str, spec: Any) -> bool:
    """Whether a finished search needs no confirm work: none asked, or its jobs all ended.

    Read before anything is created, so that a finished sweep whose confirm phase was killed
    (or that ``confirm PARENT_ID`` asks to confirm) is resumed rather than called done.
    """
    if not spec.confirm.top_k:
        return True
    import optuna
    from optuna.trial import TrialState

    try:
        confirm = optuna.load_study(
            study_name=confirm_study_name(study_name, spec), storage=storage
        )
    except KeyError:
        return False
    if PLAN_ATTR not in confirm.user_attrs:
        return False
    busy = (TrialState.WAITING, TrialState.RUNNING)
    return not confirm.get_trials(deepcopy=False, states=busy)


def run_confirm_phase(plan: Any, study: Any, runs: Any, search: Callable[[], None]) -> Any:
    """Decide the jobs once the search is settled, then run jobs until none is left.

    ``search()`` runs the search loop again: needed when a search trial orphaned by a killed
    worker was re-queued while this process waited for the search to settle. Returns the
    confirm study.
    """
    confirm = open_confirm_study(plan, study)
    while not _decided(plan, study, confirm, runs):
        if _search_waiting(study):
            search()
            continue
        _pause(WAIT_POLL)
    _run_jobs(plan, confirm, runs)
    return confirm


def _search_waiting(study: Any) -> bool:
    from optuna.trial import TrialState

    return bool(study.get_trials(deepcopy=False, states=(TrialState.WAITING,)))


def _decided(plan: Any, study: Any, confirm: Any, runs: Any) -> bool:
    """Under the lock: True once the jobs are queued (deciding them if the search is settled)."""
    from optuna.trial import TrialState

    from nnexp.sweep.orphans import fail_stale_trials, heartbeat_interval, reap_orphans

    with sweep_lock(plan.lock_path):
        if PLAN_ATTR in confirm.user_attrs:
            return True
        if heartbeat_interval(study):
            stale = fail_stale_trials(study)
        else:
            end = (lambda trial, reason: runs.end_orphan(trial.number, reason)) if runs else None
            stale = reap_orphans(study, end)
        for number, reason, requeued in stale:
            if runs is not None and heartbeat_interval(study):
                runs.end_orphan(number, f"orphaned: {reason}")
            again = "re-queued" if requeued else "not re-queued (it was a retry)"
            _say(f"trial {number} was orphaned ({reason}): failed, {again}")
        busy = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
        if busy:
            return False
        configs = choose_configs(plan, study)
        seeds = confirm_seeds(plan.base_seed, plan.spec.confirm.seeds)
        metric = plan.spec.objective_metrics[0]
        from nnexp.sweep.confirm_reuse import add_reused, earlier_results

        # a job an earlier phase of this sweep finished is resumed from, not run again
        earlier = earlier_results(confirm._storage, plan.study_name, confirm.study_name, metric)
        reused = 0
        for seed in seeds:
            for index, config in enumerate(configs):
                job = ConfirmJob(index, seed)
                if (config["trial"], seed) in earlier:
                    add_reused(confirm, job, earlier[(config["trial"], seed)])
                    reused += 1
                else:
                    confirm.enqueue_trial({}, user_attrs={JOB_ATTR: job.attrs()})
        confirm.set_metric_names([metric])  # dashboards name the value
        confirm.set_user_attr(
            PLAN_ATTR,
            {
                "configs": configs,
                "seeds": seeds,
                "metric": plan.spec.objective_metrics[0],
                "direction": plan.spec.objective_directions[0],
            },
        )
        total = len(configs) * len(seeds)
        again = f"; {reused} made by an earlier confirm phase, reused" if reused else ""
        _say(
            f"confirm phase: {len(configs)} configurations x {len(seeds)} seeds = {total} runs "
            f"({', '.join(c['label'] for c in configs) or 'no complete trial'}){again}",
            error=False,
        )
        return True


def choose_configs(plan: Any, study: Any) -> list[dict[str, Any]]:
    """The top-k distinct configurations by search value, then the base config.

    Distinct: trials with the same sampled parameters (a re-queued trial, a grid revisited) are
    one configuration, represented by its best trial. Each entry: ``label``, ``trial`` (number,
    None for the base), ``params`` and ``search_value``. No override lines: they are rebuilt
    from the params by each process (:func:`config_overrides`), so the secrets a command line
    may hold (a tracking URI's password) never reach the study's storage.
    """
    from optuna.trial import TrialState

    spec = plan.spec
    complete = [
        t
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if t.values and math.isfinite(t.values[0])
    ]
    sign = 1.0 if spec.objective_directions[0] == "minimize" else -1.0
    complete.sort(key=lambda t: (sign * t.values[0], t.number))
    configs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for trial in complete:
        key = json.dumps(trial.params, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        configs.append(
            {
                "label": f"trial {trial.number}",
                "trial": trial.number,
                "params": dict(trial.params),
                "search_value": float(trial.values[0]),
            }
        )
        if len(configs) == spec.confirm.top_k:
            break
    if spec.confirm.baseline and configs:
        configs.append({"label": BASE_LABEL, "trial": None, "params": {}, "search_value": None})
    return configs


def config_overrides(plan: Any, config: dict[str, Any]) -> list[str]:
    """The configuration's override line without the seed, as this process's command has it."""
    from nnexp.sweep.objective import trial_overrides

    overrides, _ = trial_overrides(plan, config["params"], config["trial"] or 0)
    return _without_seed(overrides)


def job_overrides(plan: Any, config: dict[str, Any], seed: int) -> list[str]:
    return merge_overrides(config_overrides(plan, config), [f"seed={seed}"])


def _without_seed(overrides: list[str]) -> list[str]:
    from nnexp.sweep.overrides import override_key

    return [line for line in overrides if override_key(line) != "seed"]


def _run_jobs(plan: Any, confirm: Any, runs: Any) -> None:
    from optuna.trial import TrialState

    from nnexp.sweep.orphans import (
        WORKER_ATTR,
        TrialHeartbeat,
        fail_stale_trials,
        heartbeat_interval,
        worker_identity,
    )

    interval = heartbeat_interval(confirm)
    decided = confirm.user_attrs[PLAN_ATTR]
    while True:
        trial = None
        with sweep_lock(plan.lock_path):
            if interval:
                for number, reason, _ in fail_stale_trials(confirm):
                    _say(f"confirm run {number} lost its worker ({reason}): run again")
            else:
                _reap_confirm_orphans(confirm, runs)
            trials = confirm.get_trials(deepcopy=False)
            if any(t.state == TrialState.WAITING for t in trials):
                trial = confirm.ask()
                trial.set_user_attr(WORKER_ATTR, worker_identity())
                beat = TrialHeartbeat(confirm, trial).start()
            running = any(t.state == TrialState.RUNNING for t in trials)
        if trial is None:
            if interval and running:  # another worker's job may yet lose its worker
                _pause(min(interval, WAIT_POLL))
                continue
            return
        try:
            _run_job(plan, confirm, trial, decided, runs)
        finally:
            beat.stop()


def _run_job(plan: Any, confirm: Any, trial: Any, decided: dict[str, Any], runs: Any) -> None:
    from optuna.trial import TrialState

    from nnexp.cmdline import command_line, shell_line
    from nnexp.run import run_experiment

    job = trial.user_attrs[JOB_ATTR]
    config = decided["configs"][int(job["config"])]
    seed = int(job["seed"])
    overrides = job_overrides(plan, config, seed)
    metric = decided["metric"]
    tags = {
        "nnexp.kind": "confirm",
        "role": "confirm",
        "nnexp.study": plan.study_name,
        "confirm.config": config["label"],
        "confirm.trial": "base" if config["trial"] is None else config["trial"],
        "confirm.seed": seed,
        "overrides": shell_line(overrides),
        "command": command_line(overrides),
    }
    suffix = "base" if config["trial"] is None else f"t{config['trial']}"
    try:
        cfg = plan.composer.compose(overrides)
        cfg.tracking.log_plots = False
        cfg.tracking.log_every = int(plan.spec.log_every)
        result = run_experiment(
            cfg,
            overrides=overrides,
            parent_run_id=plan.parent_id,
            extra_tags=tags,
            log_model=False,
            progress=False,
            run_name=f"{plan.study_name}-confirm-{suffix}-s{seed}",
        )
    except KeyboardInterrupt:
        _requeue(confirm, trial, "interrupted")
        raise
    except Exception as exc:
        # a crash of one seed is recorded (the interval is over the seeds that ran) rather
        # than re-run: re-running the same seed would crash again
        text = first_line(exc)
        trial.set_user_attr("fail_reason", text)
        confirm.tell(trial, state=TrialState.FAIL)
        _say(f"confirm run {config['label']} seed {seed} failed: {text}")
        return
    finals = result.final_metrics
    kept = {k: float(v) for k, v in finals.items() if k == metric or k.startswith("test_")}
    trial.set_user_attr(RESULT_ATTR, {**kept, "run_id": result.run_id})
    if result.run_id:  # optuna-dashboard users jump from a trial to its run, as in the search
        trial.set_user_attr(RUN_ID_ATTR, result.run_id)
    value = finals.get(metric)
    state = "COMPLETE"
    if result.history.diverged or value is None or not math.isfinite(value):
        state = "FAIL"
        trial.set_user_attr("fail_reason", result.history.stop_reason)
        confirm.tell(trial, state=TrialState.FAIL)
    else:
        confirm.tell(trial, float(value))
    if runs is not None and result.run_id:
        runs.tag_run(result.run_id, {"trial_state": state})
    from nnexp.progress import emit

    # a progress line, on stdout like the search's trial lines (so `| tee log` keeps it)
    emit(f"nnexp: confirm {config['label']} seed {seed}: {metric} = {_fmt(value)}")


def _requeue(confirm: Any, trial: Any, reason: str) -> None:
    """Fail ``trial`` and queue its job again (it is replaced: it does not count)."""
    from optuna.trial import TrialState

    from nnexp.sweep.attrs import REPLACED_ATTR

    storage = confirm._storage
    storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
    storage.set_trial_user_attr(trial._trial_id, REPLACED_ATTR, True)
    confirm.tell(trial.number, state=TrialState.FAIL)
    job = dict(trial.user_attrs[JOB_ATTR])
    job["attempt"] = int(job.get("attempt", 0)) + 1
    confirm.enqueue_trial({}, user_attrs={JOB_ATTR: job})


def _reap_confirm_orphans(confirm: Any, runs: Any) -> None:
    """Journal storage: a RUNNING job whose local process died is failed and queued again."""
    from optuna.trial import TrialState

    from nnexp.sweep.attrs import WORKER_ATTR
    from nnexp.sweep.orphans import is_orphan

    for trial in confirm.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER_ATTR)
        reason = "its worker died before claiming it" if worker is None else is_orphan(worker)
        if reason is None:
            continue
        _requeue(confirm, trial, f"orphaned: {reason}")
        if runs is not None:
            job = trial.user_attrs[JOB_ATTR]
            label = confirm.user_attrs[PLAN_ATTR]["configs"][int(job["config"])]["label"]
            runs.end_confirm_orphan(label, int(job["seed"]), f"orphaned: {reason}")
        _say(f"confirm run {trial.number} was orphaned ({reason}): queued again")


def _pause(seconds: float) -> None:
    from nnexp.sweep.driver import _pause as pause

    pause(seconds, None)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def _say(message: str, error: bool = True) -> None:
    print(f"nnexp: {message}", file=sys.stderr if error else sys.stdout, flush=True)

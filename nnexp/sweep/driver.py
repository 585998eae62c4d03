"""``python -m nnexp +sweep=NAME``: plan and check the sweep, then run trials until the total.

One launch, in order:

1. Plan: compose the trials' base config (``sweep.base_overrides`` + the command line), check the
   sweep (:mod:`nnexp.sweep.validate`); any problem is one line, before anything is created.
2. Under the sweep lock: create or load the study (refusing a same-named study of a different
   sweep), find or create the MLflow parent run, fail and re-queue orphaned trials.
3. Start ``sweep.workers - 1`` extra processes, then run trials here too: under the lock count
   the study's trials and ask for one more only while fewer than ``n_trials`` exist, so the
   total holds across resumes and workers; stop at ``sweep.timeout`` seconds (no new trial
   starts after it; a running one finishes). On an RDB storage (heartbeat), first fail and
   re-queue trials whose worker died (:func:`nnexp.sweep.orphans.fail_stale_trials`) and end
   their MLflow runs KILLED; at the total, wait while other workers' trials still run, since
   one of them may yet lose its worker and need a retry.
4. Wait for the workers; log the trials CSV, the plots, the best values and the best trial's
   pyfunc model to the parent run; print the best trials and the best trial's override line.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nnexp.errors import NnexpError
from nnexp.sweep.config import SweepConfig, to_sweep_config
from nnexp.sweep.objective import MAX_CONSECUTIVE_CRASHES, run_trial
from nnexp.sweep.overrides import TrialComposer, merge_overrides, user_overrides
from nnexp.sweep.space import Dimension, resolve_space
from nnexp.sweep.storage import counted_trials, storage_location, sweep_lock
from nnexp.sweep.validate import (
    check_dimensions,
    check_dry_run,
    check_metric_task,
    check_settings,
    config_groups,
    grid_space,
)
from nnexp.sweep.workers import is_worker

MAX_BEST_MODELS = 5
WAIT_POLL = 2.0  # seconds between looks at other workers' running trials, at the total


@dataclass
class SweepPlan:
    """Everything a launch needs, checked."""

    spec: SweepConfig
    dims: list[Dimension]
    base_overrides: list[str]
    base_cfg: Any
    base_seed: int
    composer: TrialComposer
    study_name: str
    storage: str
    lock_path: Any  # a lock file, or a DatabaseLock on PostgreSQL (see nnexp.sweep.storage)
    max_trials: int | None
    grid: dict[str, list[Any]] | None
    report_key: str | None
    prune: bool
    pruner: Any
    identity: dict[str, Any]
    command_overrides: list[str]
    parent_id: str | None = None


def plan_sweep(cfg: Any, overrides: list[str]) -> SweepPlan:
    """Check the sweep and its space; raise :class:`ConfigError` with one line on a problem."""
    from nnexp.sweep.samplers import build_pruner, build_sampler

    spec = to_sweep_config(cfg.sweep)
    check_settings(spec)
    groups = config_groups()
    dims = resolve_space(spec.space, set(groups))
    base = merge_overrides(spec.base_overrides, user_overrides(overrides))
    composer = TrialComposer(set(groups))
    base_cfg = composer.compose(base)
    check_dimensions(dims, groups, base_cfg)
    multi = len(spec.objective_metrics) > 1
    pruner = build_pruner(spec.pruner, multi_objective=multi)
    grid = grid_space(dims) if spec.sampler.name == "grid" else None
    build_sampler(spec.sampler, grid_space=grid)
    check_dry_run(dims, composer, base)
    check_metric_task(spec, base_cfg)
    max_trials = spec.n_trials
    if grid is not None:
        size = 1
        for values in grid.values():
            size *= len(values)
        max_trials = size if max_trials is None else min(max_trials, size)
    tracking_uri = base_cfg.tracking.uri if base_cfg.tracking.enabled else None
    storage, lock_path = storage_location(spec.storage, spec.study, tracking_uri)
    return SweepPlan(
        spec=spec,
        dims=dims,
        base_overrides=base,
        base_cfg=base_cfg,
        base_seed=int(base_cfg.seed),
        composer=composer,
        study_name=spec.study,
        storage=storage,
        lock_path=lock_path,
        max_trials=max_trials,
        grid=grid,
        report_key=None if multi else report_key(spec.metric),
        prune=spec.pruner.name != "none",
        pruner=pruner,
        identity=_identity(spec, base),
        command_overrides=list(overrides),
    )


def report_key(metric: str) -> str | None:
    """The per-epoch record key reported to the pruner for ``metric``."""
    for prefix in ("best_", "final_"):
        if metric.startswith(prefix):
            return metric[len(prefix) :]
    if metric.startswith("test_"):
        return "val_" + metric[len("test_") :]
    return None


def run_sweep(cfg: Any, overrides: list[str]) -> dict[str, Any]:
    """Run (or resume, or join) the study; return the summary (best trial, counts)."""
    _quiet_optuna()
    plan = plan_sweep(cfg, list(overrides))
    spec, worker = plan.spec, is_worker()
    if spec.workers > 1 or worker:
        from nnexp.sweep.workers import follow_launcher, limit_blas_threads

        limit_blas_threads()
        if worker:
            follow_launcher()  # a launcher killed with SIGKILL takes its workers along
    processes: list[Any] = []
    runs = None
    if plan.base_cfg.tracking.enabled and not worker and spec.workers == 1:
        from nnexp import plot_helper

        # the parent run's plots are drawn there at the end: import their libraries meanwhile,
        # on the core the trials leave free (with several workers none is: it starts at the end)
        plot_helper.warm_up("matplotlib.pyplot", "optuna.visualization.matplotlib")
    try:
        if spec.workers > 1 and not worker:  # start them first: they take seconds to boot
            from nnexp.sweep.workers import spawn_workers

            processes = spawn_workers(plan.command_overrides, spec.workers - 1)
        study, runs = _open(plan, worker)
        _loop(plan, study, runs, show_progress=not worker and sys.stderr.isatty())
        if processes:
            from nnexp.sweep.workers import wait_workers

            codes = wait_workers(processes)
            if any(codes):
                raise NnexpError(f"sweep worker(s) exited with {codes}; see their errors above")
    except BaseException as exc:
        if processes:
            from nnexp.sweep.workers import stop_workers

            stop_workers(processes)
        if runs is not None and not worker:
            runs.end_parent("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    if worker:
        return {}
    return _finish(plan, study, runs)


def _open(plan: SweepPlan, worker: bool) -> tuple[Any, Any]:
    from nnexp.sweep.orphans import reap_orphans
    from nnexp.sweep.samplers import build_sampler
    from nnexp.sweep.storage import load_study, open_storage

    spec, base_cfg = plan.spec, plan.base_cfg
    tracking = base_cfg.tracking
    runs = None
    if tracking.enabled:
        from nnexp.tracking.sweep_runs import SweepRuns

        runs = SweepRuns(tracking, plan.study_name, plan.storage)
    storage = open_storage(
        spec.storage,
        plan.study_name,
        tracking.uri if tracking.enabled else None,
        heartbeat_interval=spec.heartbeat_interval,
        grace_period=spec.grace_period,
    )
    with sweep_lock(plan.lock_path):
        study, launch = load_study(
            storage, plan.study_name, spec.objective_directions, None, plan.pruner, plan.identity
        )
        study.sampler = build_sampler(
            spec.sampler, launch_index=launch, grid_space=plan.grid, warn=False
        )
        if runs is not None:
            from omegaconf import OmegaConf

            from nnexp.tracking.sweep_runs import command_text

            parent = runs.find_parent() if worker else None
            plan.parent_id = parent or runs.open_parent(
                spec,
                command_text(plan.command_overrides),
                OmegaConf.to_yaml(OmegaConf.structured(spec)),
            )
        from nnexp.sweep.orphans import heartbeat_interval

        if not worker and not heartbeat_interval(study):  # RDB storages: the heartbeat does it
            end = (lambda trial, reason: runs.end_orphan(trial.number, reason)) if runs else None
            for number, reason, requeued in reap_orphans(study, end):
                again = "re-queued" if requeued else "not re-queued (it was a retry)"
                print(
                    f"nnexp: trial {number} was orphaned ({reason}): failed, {again}",
                    file=sys.stderr,
                    flush=True,
                )
    return study, runs


def _loop(plan: SweepPlan, study: Any, runs: Any, show_progress: bool) -> None:
    spec = plan.spec
    deadline = time.monotonic() + spec.timeout if spec.timeout else None
    bar = None
    if show_progress:
        from tqdm import tqdm

        done = len(counted_trials(study.get_trials(deepcopy=False)))
        bar = tqdm(
            total=plan.max_trials,
            initial=done,
            desc=f"sweep {plan.study_name}",
            unit="trial",
            dynamic_ncols=True,
        )
    from optuna.trial import TrialState

    from nnexp.sweep.orphans import (
        WORKER_ATTR,
        TrialHeartbeat,
        fail_stale_trials,
        heartbeat_interval,
        worker_identity,
    )

    interval = heartbeat_interval(study)
    crashes, logged = 0, None
    try:
        while deadline is None or time.monotonic() < deadline:
            trial = None
            with sweep_lock(plan.lock_path):
                stale = fail_stale_trials(study)
                trials = study.get_trials(deepcopy=False)
                if plan.max_trials is None or len(counted_trials(trials)) < plan.max_trials:
                    trial = study.ask()
                    # claimed inside the lock: a RUNNING trial without a worker, seen under the
                    # lock, was asked by a process that died here (reap_orphans fails it)
                    trial.set_user_attr(WORKER_ATTR, worker_identity())
                    beat = TrialHeartbeat(study, trial).start()
                running = any(t.state == TrialState.RUNNING for t in trials)
            _end_stale(stale, runs)
            if trial is None:
                if not (interval and running):
                    break
                # another worker's trial may yet lose its worker: look again shortly
                _pause(min(interval, WAIT_POLL), deadline)
                continue
            try:
                outcome = run_trial(plan, study, trial, runs)
            except Exception as exc:
                if not _failed_by_another_worker(exc):
                    raise
                print(
                    f"nnexp: trial {trial.number} was failed and re-queued by another worker "
                    "meanwhile (its heartbeat looked stale: was this process paused?); "
                    "its result is dropped",
                    file=sys.stderr,
                    flush=True,
                )
                continue
            finally:
                beat.stop()
            crashes = crashes + 1 if outcome.crashed else 0
            if crashes >= MAX_CONSECUTIVE_CRASHES:
                raise NnexpError(
                    f"{crashes} trials in a row crashed, stopping the sweep; last: "
                    f"trial {outcome.number}: {outcome.reason}"
                )
            best = _best_values(study)
            done = len(counted_trials(study.get_trials(deepcopy=False)))
            if runs is not None and best is not None and best != logged:
                runs.log_progress(best, done)  # only when it improves: one MLflow call
                logged = best
            if bar is not None:
                bar.n = done
                bar.set_postfix(best=f"{best[0]:.4g}" if best else "-", refresh=True)
    finally:
        if bar is not None:
            bar.close()


def _failed_by_another_worker(exc: Exception) -> bool:
    """Whether ``exc`` says the trial was already finished: failed as stale by another worker."""
    from optuna.exceptions import UpdateFinishedTrialError

    return isinstance(exc, UpdateFinishedTrialError) or (
        isinstance(exc, ValueError) and str(exc).startswith("Cannot tell a ")
    )


def _pause(seconds: float, deadline: float | None) -> None:
    """Sleep ``seconds`` (not past the deadline), honouring Ctrl-C/SIGTERM within a second."""
    from nnexp.signals import raise_if_stop_requested

    end = time.monotonic() + seconds
    if deadline is not None:
        end = min(end, deadline)
    while time.monotonic() < end:
        raise_if_stop_requested()
        time.sleep(min(1.0, max(0.0, end - time.monotonic())))
    raise_if_stop_requested()


def _end_stale(stale: list[tuple[int, str, bool]], runs: Any) -> None:
    """End the MLflow runs of trials failed for a stale heartbeat KILLED, and say so."""
    for number, reason, requeued in stale:
        if runs is not None:
            runs.end_orphan(number, f"orphaned: {reason}")
        again = "re-queued" if requeued else "not re-queued (it was a retry)"
        print(
            f"nnexp: trial {number} lost its worker ({reason}): failed, {again}",
            file=sys.stderr,
            flush=True,
        )


def _finish(plan: SweepPlan, study: Any, runs: Any) -> dict[str, Any]:
    import tempfile

    from optuna.trial import TrialState

    from nnexp.sweep.report import best_trials, format_table, records, summarize, write_trials_csv

    rows = records(study, plan, runs.children() if runs is not None else {})
    summary = summarize(study, rows)
    where = f"Optuna storage {_display(plan.storage)}"
    if runs is not None:
        from nnexp import plot_helper
        from nnexp.sweep.plots import make_plots

        metric = plan.spec.objective_metrics[0]
        with tempfile.TemporaryDirectory(prefix="nnexp-sweep-") as tmp:
            folder = Path(tmp)
            # the plots are drawn in the helper process while the best models are logged here
            trials = study.get_trials(deepcopy=False)
            drawing = plot_helper.call(
                "nnexp.sweep.plots:make_plots_from_trials",
                plan.study_name,
                list(study.directions),
                trials,
                rows,
                str(folder),
                plan.dims,
                metric,
            )
            if plan.spec.log_model == "best":
                with sweep_lock(plan.lock_path):
                    for trial in best_trials(study)[:MAX_BEST_MODELS]:
                        row = rows[trial.number]
                        if row["run_id"]:
                            runs.log_best_model(row["run_id"], row["overrides"], plan.composer)
            files = [write_trials_csv(study, rows, folder / "trials.csv")]
            drawn = drawing() if drawing is not None else None
            if drawn is None:  # no helper, or it failed: draw here
                drawn = make_plots(study, rows, folder, plan.dims, metric)
            files += [Path(path) for path in drawn]
            if plan.base_cfg.trainer.inspect:
                from nnexp.sweep.best_boundaries import best_boundaries

                files += best_boundaries(study, rows, runs.store.uri, folder, metric)
            runs.log_summary(summary, files)
        if not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            runs.end_parent("FINISHED")
        summary["parent_run_id"] = runs.parent_id
        where += f"; MLflow parent run {runs.parent_id}"
    print(format_table(study, rows, summary, plan.spec.top_k, where), flush=True)
    if runs is not None:
        from nnexp.report import ui_command

        print(f"  open the UI: {ui_command(runs.store.display_uri)}", flush=True)
    return summary


def _best_values(study: Any) -> list[float] | None:
    if len(study.directions) != 1:
        return None
    try:
        return [study.best_value]
    except ValueError:  # no complete trial yet
        return None


def _identity(spec: SweepConfig, base: list[str]) -> dict[str, Any]:
    """What makes two sweeps the same study (not: n_trials, timeout, workers, sampler, logging)."""
    from nnexp.sweep.overrides import override_key

    kept = [
        line
        for line in base
        if not override_key(line).startswith(("tracking", "hydra", "trainer.progress"))
    ]
    identity = {
        "overrides": kept,
        "space": {k: asdict(v) for k, v in spec.space.items()},
        "metrics": spec.objective_metrics,
        "directions": spec.objective_directions,
    }
    return json.loads(json.dumps(identity, default=str))


def _display(storage: str) -> str:
    from nnexp.redact import redact

    try:
        return str(Path(storage).relative_to(Path.cwd()))
    except ValueError:
        return redact(storage)


def _quiet_optuna() -> None:
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # nnexp beats the heartbeat itself around ask/tell (nnexp.sweep.orphans.TrialHeartbeat)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")

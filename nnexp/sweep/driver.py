"""``python -m nnexp +sweep=NAME``: plan and check the sweep, then run trials until the total.

One launch, in order:

1. Plan: compose the trials' base config (``sweep.base_overrides`` + the command line), check the
   sweep (:mod:`nnexp.sweep.validate`); any problem is one line, before anything is created.
   Then look at the study (:mod:`nnexp.sweep.state`): a finished one says so and exits before
   MLflow or any worker starts; ``sweep.workers`` is capped at the trials left.
2. Under the sweep lock: create or load the study (refusing a same-named study of a different
   sweep), find or create the MLflow parent run, fail and re-queue orphaned trials.
3. Start ``sweep.workers - 1`` extra processes, then run trials here too: under the lock count
   the study's trials and ask for one more only while fewer than ``n_trials`` exist, so the
   total holds across resumes and workers; stop at ``sweep.timeout`` seconds (no new trial
   starts after it; a running one finishes). On an RDB storage (heartbeat), first fail and
   re-queue trials whose worker died (:func:`nnexp.sweep.orphans.fail_stale_trials`) and end
   their MLflow runs KILLED; at the total, wait while other workers' trials still run, since
   one of them may yet lose its worker and need a retry.
   A trial failing outside the trial (store, disk, network) is re-queued; a stop request
   while waiting for the workers ends the sweep KILLED (exit 143/130).
4. Wait for the workers (then run what they left queued); log the trials CSV, the plots, the
   best values and the best trial's pyfunc model to the parent run; print the best trials and
   the best trial's override line.
   A sweep short of ``n_trials`` (not by its timeout) ends its parent FAILED and exits 1.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnexp.sweep.config import SweepConfig, to_sweep_config
from nnexp.sweep.identity import default_study_name, storage_key, study_identity
from nnexp.sweep.objective import MAX_CONSECUTIVE_CRASHES, run_trial, tell_untold
from nnexp.sweep.overrides import TrialComposer, merge_overrides, user_overrides
from nnexp.sweep.space import Dimension, resolve_space
from nnexp.sweep.storage import counted_trials, storage_location, sweep_lock
from nnexp.sweep.validate import (
    check_dimensions,
    check_dry_run,
    check_metric_task,
    check_settings,
    check_storage,
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
    storage_key: str = ""  # the storage as the MLflow parent records it (survives a move)
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
    check_storage(spec.storage)
    from nnexp.sweep.confirm import check_confirm

    check_confirm(spec, dims)
    max_trials = spec.n_trials
    if grid is not None:
        size = 1
        for values in grid.values():
            size *= len(values)
        max_trials = size if max_trials is None else min(max_trials, size)
    tracking_uri = base_cfg.tracking.uri if base_cfg.tracking.enabled else None
    from nnexp.config.job_source import job_config_name

    study_name = spec.study_name or default_study_name(spec.name, overrides, job_config_name())
    storage, lock_path = storage_location(spec.storage, study_name, tracking_uri)
    journal_root = None if spec.storage else Path(storage).parent.parent
    return SweepPlan(
        spec=spec,
        dims=dims,
        base_overrides=base,
        base_cfg=base_cfg,
        base_seed=int(base_cfg.seed),
        composer=composer,
        study_name=study_name,
        storage=storage,
        lock_path=lock_path,
        max_trials=max_trials,
        grid=grid,
        report_key=None if multi else report_key(spec.metric),
        prune=spec.pruner.name != "none",
        pruner=pruner,
        identity=study_identity(spec, base, base_cfg, tuple(dim.key for dim in dims)),
        command_overrides=list(overrides),
        storage_key=storage_key(storage, spec.storage, journal_root),
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
    if not worker:  # sweep.launcher=slurm: the workers are Slurm jobs, followed from here
        from nnexp.launch.slurm_sweep import launch_elsewhere

        launched = launch_elsewhere(cfg, plan)
        if launched is not None:
            return launched
    storage = _open_storage(plan)
    workers = 1
    if not worker:
        from nnexp.sweep.state import already_done, done_message, peek, plan_workers

        seen = peek(storage, plan.study_name, plan.identity)  # before MLflow and workers start
        if seen is not None and not seen[1].same_identity:  # refused here, before anything runs
            from nnexp.sweep.attrs import IDENTITY_ATTR
            from nnexp.sweep.storage import check_identity

            stored = seen[0].user_attrs.get(IDENTITY_ATTR)
            check_identity(storage, plan.study_name, stored, plan.identity)
        from nnexp.sweep.confirm import confirm_settled

        if (
            seen is not None
            and already_done(seen[1], plan.max_trials)
            and confirm_settled(storage, plan.study_name, spec)
        ):
            print(done_message(*seen, plan.max_trials, spec.objective_metrics[0]), flush=True)
            return {"study": plan.study_name, "already_done": True, "n_counted": seen[1].done}
        done = seen[1].done if seen is not None else 0
        remaining = None if plan.max_trials is None else plan.max_trials - done
        workers = plan_workers(spec.workers, remaining) if spec.workers > 1 else 1
    if workers > 1 or worker:
        from nnexp.sweep.workers import follow_launcher, limit_blas_threads

        limit_blas_threads()
        if worker:
            follow_launcher()  # a launcher killed with SIGKILL takes its workers along
    processes: list[Any] = []
    failed: list[int] = []  # exit codes of workers that failed (not stopped by a signal)
    runs = None
    if plan.base_cfg.tracking.enabled and not worker and workers == 1:
        from nnexp import plot_helper

        # the parent run's plots are drawn there at the end: import their libraries meanwhile,
        # on the core the trials leave free (with several workers none is: it starts at the end)
        plot_helper.warm_up("matplotlib.pyplot", "optuna.visualization.matplotlib")
    deadline = time.monotonic() + spec.timeout if spec.timeout else None
    timed_out = False
    try:
        if workers > 1 and not worker:  # start them first: they take seconds to boot
            from nnexp.sweep.workers import spawn_workers

            processes = spawn_workers(plan.command_overrides, workers - 1)
        study, runs = _open(plan, worker, storage)
        from nnexp.progress import interactive

        show = not worker and interactive()
        timed_out = _loop(plan, study, runs, show_progress=show, deadline=deadline)
        if spec.confirm.top_k and not timed_out:  # the winners over fresh seeds (confirm.py)
            _confirm_phase(plan, study, runs)
        if processes:
            from nnexp.sweep.workers import signal_stopped, wait_workers

            codes = wait_workers(processes)  # a stop request (SIGTERM, Ctrl-C) raises here
            processes = []
            failed = [code for code in codes if code and not signal_stopped(code)]
            if failed:
                print(
                    f"nnexp: sweep worker(s) exited with {failed}; see their errors above",
                    file=sys.stderr,
                    flush=True,
                )
            if not timed_out:  # trials a stopped or failed worker left queued: run them here
                timed_out = _loop(plan, study, runs, show_progress=show, deadline=deadline)
                if spec.confirm.top_k and not timed_out:
                    _confirm_phase(plan, study, runs)
    except BaseException as exc:
        if processes:
            from nnexp.sweep.workers import stop_workers

            stop_workers(processes)
        if runs is not None and not worker:
            runs.end_parent("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    if worker:
        return {}
    summary = _finish(plan, study, runs, timed_out)
    if failed:  # the study may be complete, but a worker asked for did not work (workers.py)
        from nnexp.sweep.workers import WorkersFailed

        raise WorkersFailed(failed)
    return summary


def _open_storage(plan: SweepPlan) -> Any:
    from nnexp.sweep.storage import open_storage

    spec, tracking = plan.spec, plan.base_cfg.tracking
    return open_storage(
        spec.storage,
        plan.study_name,
        tracking.uri if tracking.enabled else None,
        heartbeat_interval=spec.heartbeat_interval,
        grace_period=spec.grace_period,
    )


def _open(plan: SweepPlan, worker: bool, storage: Any) -> tuple[Any, Any]:
    from nnexp.sweep.orphans import reap_orphans
    from nnexp.sweep.samplers import build_sampler
    from nnexp.sweep.storage import load_study

    spec, base_cfg = plan.spec, plan.base_cfg
    tracking = base_cfg.tracking
    runs = None
    if tracking.enabled:
        from nnexp.tracking.sweep_runs import SweepRuns

        runs = SweepRuns(tracking, plan.study_name, plan.storage_key, legacy_storage=plan.storage)
    with sweep_lock(plan.lock_path):
        study, launch = load_study(
            storage, plan.study_name, spec.objective_directions, None, plan.pruner, plan.identity
        )
        study.sampler = build_sampler(
            spec.sampler, launch_index=launch, grid_space=plan.grid, warn=False
        )
        if not worker and study.metric_names != spec.objective_metrics:
            study.set_metric_names(spec.objective_metrics)  # the summary and dashboards name it
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


def _confirm_phase(plan: SweepPlan, study: Any, runs: Any) -> None:
    from nnexp.sweep.confirm import run_confirm_phase

    run_confirm_phase(plan, study, runs, lambda: _loop(plan, study, runs, False, None))


def _loop(
    plan: SweepPlan, study: Any, runs: Any, show_progress: bool, deadline: float | None
) -> bool:
    """Run trials until the total (return False) or the deadline (return True)."""
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

    from nnexp.progress import interactive
    from nnexp.sweep.orphans import (
        WORKER_ATTR,
        TrialHeartbeat,
        fail_stale_trials,
        heartbeat_interval,
        worker_identity,
    )

    interval = heartbeat_interval(study)
    crashes, logged = 0, None
    plain = not interactive()
    try:
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                return True
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
            except BaseException as exc:
                if not (isinstance(exc, Exception) and _failed_by_another_worker(exc)):
                    tell_untold(study, trial, exc)  # never leave an asked trial RUNNING
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
            crashes = crashes + 1 if (outcome.crashed or outcome.outside) else 0
            if crashes >= MAX_CONSECUTIVE_CRASHES:
                _stop_crashing(plan, study, crashes, outcome)
            best = _best_values(study)
            done = len(counted_trials(study.get_trials(deepcopy=False)))
            if runs is not None and best is not None and best != logged:
                runs.log_progress(best, done)  # only when it improves: one MLflow call
                logged = best
            if bar is not None:
                bar.n = done
                bar.set_postfix(best=f"{best[0]:.4g}" if best else "-", refresh=True)
            elif plain:  # a log (CI, nohup, | tee): one line per trial, whichever process ran it
                from nnexp.progress import emit
                from nnexp.sweep.trial_lines import trial_line

                emit(trial_line(plan, study, trial.params, outcome, done))
    finally:
        if bar is not None:
            bar.close()
    return False


def _stop_crashing(plan: SweepPlan, study: Any, crashes: int, outcome: Any) -> None:
    """Stop the sweep after ``crashes`` trials in a row crashed or failed outside the trial."""
    from nnexp.sweep.state import SweepIncomplete, missing_message, study_state

    what = "failed outside the trial" if outcome.outside else "crashed"
    why = f"{crashes} trials in a row {what}; last: trial {outcome.number}: {outcome.reason}"
    if plan.max_trials is None:
        raise SweepIncomplete(f"stopping the sweep: {why}")
    done = study_state(study).done
    raise SweepIncomplete(missing_message(done, plan.max_trials, why))


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


def _finish(plan: SweepPlan, study: Any, runs: Any, timed_out: bool = False) -> dict[str, Any]:
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
            confirmed = _confirm_report(plan, study, runs, folder)
    else:
        confirmed = _confirm_report(plan, study, None, None)
    from nnexp.sweep.state import SweepIncomplete, mark_finished, missing_message, study_state

    state = study_state(study)
    # trials still RUNNING belong to other processes (workers started by hand): not missing
    short = (
        plan.max_trials is not None
        and not timed_out
        and state.done + state.running < plan.max_trials
    )
    if runs is not None:
        if short:
            runs.end_parent("FAILED")
        elif not study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            runs.end_parent("FINISHED")
        summary["parent_run_id"] = runs.parent_id
        where += f"; MLflow parent run {runs.parent_id}"
    print(format_table(study, rows, summary, plan.spec.top_k, where), flush=True)
    if confirmed is not None:
        from nnexp.sweep.confirm_report import format_report

        summary["confirm"] = confirmed
        print(format_report(confirmed), flush=True)
    if runs is not None:
        from nnexp.report import ui_command

        print(
            f"  open the UI: {ui_command(runs.store.display_uri, runs.store.experiment_id)}",
            flush=True,
        )
    if short:
        raise SweepIncomplete(
            missing_message(state.done, plan.max_trials, "trials failed or were stopped")
        )
    if state.unfinished == 0 and plan.max_trials is not None:
        mark_finished(study, plan.max_trials)  # the next launch says "already done" at once
    return summary


def _confirm_report(plan: SweepPlan, study: Any, runs: Any, folder: Path | None) -> Any:
    """The confirm phase's report (None without one); logged to the parent with its files."""
    if not plan.spec.confirm.top_k:
        return None
    from nnexp.sweep.confirm import open_confirm_study
    from nnexp.sweep.confirm_report import confirm_report, draw_report, write_report_csv

    report = confirm_report(open_confirm_study(plan, study))
    if report is not None:
        from nnexp.sweep.confirm import config_overrides

        for row in report["configs"]:
            row["overrides"] = config_overrides(plan, row)
    if report is not None and runs is not None and folder is not None:
        files = [write_report_csv(report, folder / "confirm.csv")]
        if report["winner"] is not None:
            files.append(draw_report(report, folder / "confirm.png"))
        runs.log_confirm(report, files)
    return report


def _best_values(study: Any) -> list[float] | None:
    if len(study.directions) != 1:
        return None
    try:
        return [study.best_value]
    except ValueError:  # no complete trial yet
        return None


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

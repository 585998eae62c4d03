"""``sweep.launcher=slurm``: submit the sweep's workers to Slurm, then follow the study.

``python -m nnexp +sweep=lr sweep.workers=16 sweep.launcher=slurm sweep.storage=postgresql://...
tracking=server tracking.uri=http://...`` checks the sweep like any launch (one line, exit 2,
before anything exists), refuses stores the nodes cannot share (:mod:`nnexp.launch.shared`),
then submits one job array of 16 tasks. Each task runs the worker command a person would type
on a node: the same overrides with ``sweep.workers=1 sweep.launcher=local``. The workers share
the study, the sweep lock and the MLflow parent run exactly as hand-started ones do (README
"Scale out"): the first creates the study and the parent, every one asks for trials until
``n_trials`` exist, and one whose job Slurm kills leaves its trial to the others' heartbeat
retry. Nothing is created here before the jobs start, so submitting takes about a second plus
Slurm's own time.

Then, by default (``launcher.follow``), this process follows (:mod:`nnexp.launch.follow`) until
every task has ended and exits 1 if any worker failed. Ctrl-C cancels the array (``scancel``)
unless ``launcher.cancel_on_interrupt=false``, which leaves the workers running.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from nnexp.errors import ConfigError
from nnexp.launch.config import LAUNCHERS
from nnexp.launch.follow import say
from nnexp.sweep.overrides import override_key

#: overrides the worker command replaces: a worker is one local process
LAUNCH_KEYS = ("sweep.workers", "sweep.launcher")


def launch_elsewhere(cfg: Any, plan: Any) -> dict[str, Any] | None:
    """With ``sweep.launcher=slurm``, submit the workers and follow them (the sweep's summary);
    None for ``local``, after refusing ``launcher.*`` overrides that would then do nothing."""
    spec = plan.spec
    if spec.launcher not in LAUNCHERS:
        raise ConfigError(
            f"sweep.launcher={spec.launcher!r} is invalid: valid choices: {', '.join(LAUNCHERS)}"
        )
    if spec.launcher == "local":
        unused = [line for line in plan.command_overrides if _is_launcher_option(line)]
        if unused:
            raise ConfigError(
                f"{unused[0]} has no effect with sweep.launcher=local (the workers are processes "
                "on this machine): add sweep.launcher=slurm, or drop it"
            )
        return None
    return launch_sweep(cfg, plan)


def launch_sweep(cfg: Any, plan: Any) -> dict[str, Any]:
    """Submit ``sweep.workers`` Slurm jobs for ``plan`` (a checked :class:`SweepPlan`)."""
    from nnexp.launch import sbatch
    from nnexp.launch.shared import check_shared

    spec, launcher = plan.spec, cfg.launcher
    check_launcher(launcher)
    tracking = plan.base_cfg.tracking
    from nnexp.project import tracking_uri

    # tracking.uri null: MLFLOW_TRACKING_URI, else the project's SQLite store (a local file)
    chosen = tracking_uri(tracking.uri).value if tracking.enabled else None
    check_shared(spec.storage, plan.storage, chosen, bool(launcher.shared_filesystem))
    sbatch.require_slurm()
    folder = Path(launcher.output_dir).expanduser().absolute()
    folder.mkdir(parents=True, exist_ok=True)
    name = launcher.job_name or f"nnexp-{plan.study_name}"
    command = worker_command(plan.command_overrides)
    script = sbatch.write_script(folder, f"{name}-{time.strftime('%Y%m%d-%H%M%S')}", command)
    args = sbatch.sbatch_args(launcher, spec.workers, name, folder)
    job = sbatch.submit(args, script, spec.workers, folder, command)
    last = job.task(job.count - 1)
    print(
        f"nnexp: submitted Slurm job array {job.job_id}: {job.count} worker(s) "
        f"{job.task(0)}{'..' + last if job.count > 1 else ''} for study '{plan.study_name}'; "
        f"output in {_shown(folder)}/{job.job_id}_*.out",
        flush=True,
    )
    print(f"  watch: squeue -j {job.job_id}    cancel: scancel {job.job_id}", flush=True)
    if not launcher.follow:
        return {"slurm_job_id": job.job_id}
    return _follow(job, plan, launcher)


def check_launcher(launcher: Any) -> None:
    if launcher.cpus_per_task < 1:
        raise ConfigError(
            f"launcher.cpus_per_task={launcher.cpus_per_task} is invalid: must be >= 1"
        )
    if not launcher.poll_interval > 0:
        raise ConfigError(
            f"launcher.poll_interval={launcher.poll_interval} is invalid: must be > 0 seconds"
        )
    for flag in launcher.extra_args:
        if not str(flag).startswith("-"):
            raise ConfigError(
                f"launcher.extra_args entry {flag!r} is invalid: each is one sbatch flag such as "
                "'--gres=gpu:1'"
            )
        if str(flag) == "--export" or str(flag).startswith("--export="):
            raise ConfigError(
                f"launcher.extra_args entry {flag!r} is refused: the workers get their command "
                "(and its passwords) through the environment sbatch passes by default "
                "(--export=ALL); drop it"
            )


def worker_command(overrides: list[str]) -> list[str]:
    """The command each task runs: this sweep's overrides as one local worker, with the job's
    config flags (``--config-dir``, ``--config-name``, ``hydra.searchpath``)."""
    from nnexp.launch.sbatch import python_command

    kept = [line for line in overrides if override_key(line) not in LAUNCH_KEYS]
    kept = [line for line in kept if not _is_launcher_option(line)]
    from nnexp.config.job_source import with_job_sources

    words = with_job_sources([*kept, "sweep.workers=1", "sweep.launcher=local"])
    return [*python_command(), *words]


def refuse_launcher_options(overrides: list[str]) -> None:
    """A single run (or a multirun's job) has no workers to launch: ``launcher.*`` would do
    nothing, so it is refused rather than silently ignored."""
    unused = [line for line in overrides if _is_launcher_option(line)]
    if unused:
        raise ConfigError(
            f"{unused[0]} has no effect on a single run: the launcher group configures a "
            "sweep's Slurm workers (+sweep=NAME sweep.launcher=slurm); drop it"
        )


def _is_launcher_option(line: str) -> bool:
    key = override_key(line)
    return key == "launcher" or key.startswith("launcher.")


def _follow(job: Any, plan: Any, launcher: Any) -> dict[str, Any]:
    from nnexp.launch.follow import follow
    from nnexp.launch.sbatch import cancel
    from nnexp.sweep.watch import StudyWatcher

    minimize = plan.spec.objective_directions[0] == "minimize"
    watcher = StudyWatcher(plan.storage, plan.study_name, minimize)
    try:
        result = follow(job, watcher, plan.max_trials, plan.study_name, launcher.poll_interval)
    except KeyboardInterrupt:
        if launcher.cancel_on_interrupt:
            done = cancel(job)
            say(
                f"cancelled Slurm job array {job.job_id} (scancel {job.job_id}): its workers end "
                "their trials' runs KILLED and re-queue the trials; resume with the same command"
                if done
                else f"scancel {job.job_id} failed: the workers may still run (squeue -j "
                f"{job.job_id})"
            )
        else:
            say(
                f"stopped following; Slurm job array {job.job_id} keeps running "
                f"(squeue -j {job.job_id}; cancel it with: scancel {job.job_id})"
            )
        raise
    finally:
        watcher.close()
    progress = result.progress
    of = f"/{plan.max_trials}" if plan.max_trials is not None else ""
    best = (
        f", best {progress.best_value:.6g} (trial {progress.best_number})"
        if progress is not None and progress.best_value is not None
        else ""
    )
    done = progress.done if progress is not None else 0
    ok = job.count - len(result.failed)
    print(
        f"nnexp: sweep {plan.study_name} on Slurm: {done}{of} trials done{best}; "
        f"{ok} of {job.count} worker jobs finished; the report is at the end of "
        f"{_shown(job.folder)}/{job.job_id}_*.out",
        flush=True,
    )
    if result.failed:
        details = "; ".join(
            f"{job.task(i)} {text} (see {_shown(job.output(i))})"
            for i, text in result.failed.items()
        )
        say(f"error: {len(result.failed)} of {job.count} Slurm worker jobs failed: {details}")
        raise SystemExit(1)
    return {"slurm_job_id": job.job_id, "n_done": done}


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)

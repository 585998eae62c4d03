"""Slurm's own commands, as the sweep launcher uses them: ``sbatch``, ``squeue``, ``scancel``.

Workers are one job array (``--array=0-(N-1)``): one submission however many workers, one id to
follow and to cancel. Each task runs a small bash script: the worker command, then its exit code
written to ``<output_dir>/<array id>_<task>.exit``. That file is how the follower tells a worker
that failed from one that finished, because ``sacct`` needs accounting storage, which many
clusters (and the test cluster) lack; ``squeue`` lists only jobs that have not ended. A task
that left the queue without an exit file was killed by Slurm (``scancel``, time limit, node
failure): its output file's last ``slurmstepd`` line says which.

The worker command may hold passwords (``sweep.storage=postgresql://user:PASSWORD@...``,
``tracking.uri=http://user:PASSWORD@...``), which the workers need but no file may keep: the
script holds the command only redacted, as a comment, and runs it from the variable
``NNEXP_WORKER_COMMAND`` that ``sbatch`` passes to every task with the rest of the submitting
environment (its default, ``--export=ALL``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nnexp.errors import ConfigError, NnexpError

COMMAND_TIMEOUT = 60  # seconds for one sbatch/squeue/scancel call (a busy controller is slow)
#: variables the launcher may carry that must not reach a worker (it is a full sweep command)
DROPPED_ENV = ("NNEXP_SWEEP_ROLE", "NNEXP_SWEEP_LAUNCHER", "NNEXP_MULTIRUN_PARENT_ID")
#: the variable that carries the worker command (with any password) to the tasks
COMMAND_ENV = "NNEXP_WORKER_COMMAND"
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: what ``slurmstepd`` writes into a killed job's output, and how it is reported
KILL_REASONS = (
    ("DUE TO TIME LIMIT", "killed at its time limit (launcher.time)"),
    ("DUE TO NODE FAIL", "killed by a node failure"),
    ("DUE TO PREEMPTION", "preempted"),
    ("CANCELLED", "cancelled (scancel)"),
)


@dataclass
class JobArray:
    """A submitted array of ``count`` worker tasks; files in ``folder``."""

    job_id: str
    count: int
    folder: Path

    def task(self, index: int) -> str:
        return f"{self.job_id}_{index}"

    def output(self, index: int) -> Path:
        return self.folder / f"{self.task(index)}.out"

    def exit_file(self, index: int) -> Path:
        return self.folder / f"{self.task(index)}.exit"


def require_slurm() -> None:
    for name in ("sbatch", "squeue", "scancel"):
        if shutil.which(name) is None:
            raise ConfigError(
                f"sweep.launcher=slurm needs Slurm's {name} on PATH, and it is not found: run the "
                "command on a Slurm login node (or sweep.launcher=local)"
            )


def write_script(folder: Path, name: str, command: Sequence[str]) -> Path:
    """The batch script every task runs: the worker command (from :data:`COMMAND_ENV`, see
    :func:`submit_environment`; here only redacted), then its exit code to a file."""
    from nnexp.redact import redact

    exports = "\n".join(f'export {var}="${{SLURM_CPUS_PER_TASK:-1}}"' for var in THREAD_ENV)
    exit_file = shlex.quote(str(folder)) + '/"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.exit"'
    shown = redact(shlex.join(command)).replace("\n", " ")
    script = folder / f"{name}.sh"
    script.write_text(
        "#!/bin/bash\n"
        "# One nnexp sweep worker (a task of the job array); written by sweep.launcher=slurm.\n"
        f"# It runs (passwords shown as ***): {shown}\n"
        f"# from ${COMMAND_ENV}, which sbatch passes with the submitting environment, so that\n"
        "# no password is written in this file.\n"
        f'if [ -z "${{{COMMAND_ENV}+set}}" ]; then\n'
        f'    echo "nnexp: error: {COMMAND_ENV} is not set in the job: sbatch must pass the '
        'submitting environment (--export=ALL, its default)" >&2\n'
        "    code=2\n"
        "else\n"
        f'    worker="${COMMAND_ENV}"\n'
        f"    unset {COMMAND_ENV} {' '.join(DROPPED_ENV)}\n"
        + "".join(f"    {line}\n" for line in exports.splitlines())
        + '    eval "$worker"\n'
        "    code=$?\n"
        "fi\n"
        f"echo $code > {exit_file}\n"
        "exit $code\n"
    )
    script.chmod(0o755)
    return script


def submit_environment(command: Sequence[str]) -> dict[str, str]:
    """This process's environment plus :data:`COMMAND_ENV`: the worker command, shell-quoted."""
    return {**os.environ, COMMAND_ENV: shlex.join(command)}


def sbatch_args(launcher: Any, count: int, job_name: str, folder: Path) -> list[str]:
    """``sbatch`` options from the ``launcher`` config (null options are left to the cluster)."""
    args = [
        "--parsable",
        f"--array=0-{count - 1}",
        f"--job-name={job_name}",
        f"--output={folder}/%A_%a.out",
        f"--chdir={Path.cwd()}",
        "--export=ALL",  # the worker command travels in the environment (SBATCH_EXPORT aside)
        f"--cpus-per-task={int(launcher.cpus_per_task)}",
        "--ntasks=1",
    ]
    for option in ("partition", "time", "mem", "account", "qos"):
        value = getattr(launcher, option)
        if value is not None and str(value) != "":
            args.append(f"--{option}={value}")
    args.extend(str(flag) for flag in launcher.extra_args)
    return args


def submit(
    args: Sequence[str], script: Path, count: int, folder: Path, command: Sequence[str]
) -> JobArray:
    """Run ``sbatch`` with the worker ``command`` in its environment; a refusal (unknown
    partition, bad time) is one line naming it."""
    result = _run(["sbatch", *args, str(script)], env=submit_environment(command))
    if result.returncode != 0:
        message = " ".join(result.stderr.split()) or f"exit code {result.returncode}"
        raise ConfigError(f"sbatch refused the worker jobs: {message} (sbatch {shlex.join(args)})")
    job_id = result.stdout.strip().split(";")[0]
    if not job_id.isdigit():
        raise NnexpError(f"sbatch answered {result.stdout.strip()!r}, not a job id")
    return JobArray(job_id, count, folder)


def queue_states(job: JobArray) -> dict[int, str] | None:
    """``{task index: state}`` of the array's tasks still queued or running; None if ``squeue``
    could not answer (a busy controller: the caller looks again later)."""
    result = _run(["squeue", "-h", "-r", "-j", job.job_id, "-o", "%K %T"])
    if result.returncode != 0:
        if "Invalid job id" in result.stderr:
            return {}  # every task ended long enough ago for the controller to forget it
        return None
    states = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            states[int(parts[0])] = parts[1]
    return states


def cancel(job: JobArray) -> bool:
    """``scancel`` the whole array (its workers get SIGTERM: they end their runs KILLED and
    re-queue their trials); whether Slurm accepted it."""
    return _run(["scancel", job.job_id]).returncode == 0


def task_outcome(job: JobArray, index: int) -> tuple[int | None, str]:
    """``(exit code, description)`` of an ended task; code None when Slurm killed it."""
    try:
        text = job.exit_file(index).read_text().strip()
    except OSError:
        text = ""
    if text.lstrip("-").isdigit():
        code = int(text)
        return code, "finished" if code == 0 else f"exited with {code}"
    try:
        with job.output(index).open("rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 4096))
            tail = handle.read().decode(errors="replace")
    except OSError:
        tail = ""
    for marker, reason in KILL_REASONS:
        if marker in tail:
            return None, reason
    return None, "ended without an exit code (killed?)"


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, 1, "", f"{command[0]} timed out")


def python_command() -> list[str]:
    """This interpreter running nnexp (the nodes must see the same installation)."""
    return [sys.executable, "-m", "nnexp"]

"""The typed schema of the ``launcher`` config group (``conf/launcher/*.yaml``).

The options apply when a sweep is started with ``sweep.launcher=slurm``; each is overridable
on the command line (``launcher.partition=gpu launcher.time=02:00:00``). A cluster profile of
your own is one more file in ``conf/launcher/`` picked with ``launcher=NAME``.

This module imports only the standard library, so the root schema can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LAUNCHERS = ("local", "slurm")


@dataclass
class LauncherConfig:
    """How Slurm runs a sweep's worker jobs.

    ``partition``, ``time`` (Slurm's format: ``MM``, ``HH:MM:SS`` or ``D-HH:MM:SS``; a job past
    it is killed and its trial retried by the heartbeat), ``cpus_per_task``, ``mem`` (``4G``),
    ``account`` and ``qos`` become ``sbatch`` options; ``extra_args`` are more ``sbatch`` flags,
    verbatim (``["--gres=gpu:1", "--constraint=skylake"]``). null leaves the cluster's default.
    ``output_dir``: the job script and each job's output (``<array id>_<task>.out``) and exit
    code files, on a filesystem the nodes share (relative to the working directory).
    ``follow``: after submitting, follow the study and the jobs until every job ends (false:
    return at once). ``cancel_on_interrupt``: Ctrl-C while following cancels the jobs
    (``scancel``; false leaves them running). ``poll_interval``: seconds between two looks at
    the study and the queue. ``shared_filesystem``: the local study file or SQLite tracking
    store is on a filesystem every node mounts (otherwise they are refused with Slurm).
    """

    name: str = "slurm"
    partition: str | None = None
    time: str | None = None
    cpus_per_task: int = 1
    mem: str | None = None
    account: str | None = None
    qos: str | None = None
    extra_args: list[str] = field(default_factory=list)
    job_name: str | None = None
    output_dir: str = "mlruns/slurm"
    follow: bool = True
    cancel_on_interrupt: bool = True
    poll_interval: float = 5.0
    shared_filesystem: bool = False

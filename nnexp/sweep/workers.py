"""``sweep.workers=N``: N processes on one study (this one plus N-1 copies of the command).

Each extra worker is ``python -m nnexp <the same config flags and overrides> sweep.workers=1``
with ``NNEXP_SWEEP_ROLE=worker``: it skips the orphan reaping and the final report (the launching
process does both) and shows no progress bar. Processes rather than Optuna's ``n_jobs`` threads:
threads share the GIL and ignore the sampler seed. Each process uses one BLAS thread, because
on small layers two BLAS threads bought little and slowed sharply when another process was busy.
Starting the same command N times by hand also works: the study, the lock and the parent run
are shared the same way. A worker stops with its launcher (:func:`follow_launcher`): a launcher
killed with SIGKILL does not leave workers running on unseen, into a study that is resumed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from nnexp.errors import NnexpError
from nnexp.sweep.overrides import override_key

ROLE_ENV = "NNEXP_SWEEP_ROLE"
LAUNCHER_ENV = "NNEXP_SWEEP_LAUNCHER"
PR_SET_PDEATHSIG = 1
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class WorkersFailed(NnexpError):
    """Extra workers exited with an error although the sweep itself completed (exit 1).

    The report was written and the parent run ended as usual: the trials that ran are sound and
    the others' workers took over the failed worker's share. But the sweep did not run as asked
    (fewer processes, so slower), and whatever made a worker fail (a config it could not
    compose, a crash, a node without the store) fails the next sweep too; an exit 0 hid it.
    """

    exit_code = 1

    def __init__(self, codes: list[int]):
        super().__init__(
            f"sweep worker(s) exited with {codes} (their errors are above); the other "
            "process(es) ran their trials, so the report above is complete, but the sweep ran "
            "with fewer workers than sweep.workers asked for"
        )


def is_worker() -> bool:
    return os.environ.get(ROLE_ENV) == "worker"


def spawn_workers(overrides: Sequence[str], count: int) -> list[subprocess.Popen]:
    """Start ``count`` worker processes with the sweep's overrides."""
    args = [line for line in overrides if override_key(line) != "sweep.workers"]
    env = dict(os.environ)
    env[ROLE_ENV] = "worker"
    env[LAUNCHER_ENV] = str(os.getpid())
    for name in THREAD_ENV:
        env[name] = "1"
    from nnexp.config.job_source import with_job_sources

    # the job's --config-dir/--config-name/hydra.searchpath: the overrides alone composed
    # nnexp's own config, and the user's options were unknown to the worker
    words = with_job_sources([*args, "sweep.workers=1"])
    command = [sys.executable, "-m", "nnexp", *words]
    return [subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL) for _ in range(count)]


def follow_launcher() -> None:
    """In a worker: get SIGTERM when the launcher dies (Linux ``PR_SET_PDEATHSIG``); ignore SIGINT.

    The worker then stops like on any SIGTERM (its trial's run ends KILLED, the trial is
    re-queued). Without it, a launcher killed with SIGKILL left its workers running the sweep to
    its end unseen, and the parent run RUNNING if the user resumed the sweep meanwhile.
    """
    launcher = os.environ.get(LAUNCHER_ENV, "")
    if not launcher.isdigit():
        return  # started by hand, not by a launcher
    # Ctrl-C reaches the whole process group, and the launcher relays it as SIGTERM: a SIGINT
    # here too made that SIGTERM a second signal, which stops at once (a run left RUNNING)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != int(launcher):  # it died before we asked
        from nnexp.signals import Terminated

        raise Terminated(f"the sweep's launcher (pid {launcher}) is gone")


def wait_workers(processes: list[subprocess.Popen], poll: float = 0.2) -> list[int]:
    """Wait for the workers; a stop request (SIGTERM, Ctrl-C) raises here, not after them."""
    from nnexp.signals import raise_if_stop_requested

    while any(process.poll() is None for process in processes):
        raise_if_stop_requested()
        time.sleep(poll)
    raise_if_stop_requested()
    return [int(process.returncode) for process in processes]


def signal_stopped(code: int) -> bool:
    """Whether a worker's exit code says it was stopped by a signal (its trial is re-queued)."""
    return code in (-signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGINT)


def stop_workers(processes: list[subprocess.Popen], timeout: float = 10.0) -> None:
    """SIGTERM the workers (they end their runs KILLED and re-queue their trials), then wait."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()


def limit_blas_threads() -> None:
    """One BLAS thread in this process (when it shares the machine with other workers)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return
    threadpool_limits(1)

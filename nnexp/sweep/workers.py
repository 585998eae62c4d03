"""``sweep.workers=N``: N processes on one study (this one plus N-1 copies of the command).

Each extra worker is ``python -m nnexp <the same overrides> sweep.workers=1`` with
``NNEXP_SWEEP_ROLE=worker``: it skips the orphan reaping and the final report (the launching
process does both) and shows no progress bar. Processes rather than Optuna's ``n_jobs`` threads:
threads share the GIL and ignore the sampler seed. Each process uses one BLAS thread, because
on small layers two BLAS threads bought little and slowed sharply when another process was busy.
Starting the same command N times by hand also works: the study, the lock and the parent run
are shared the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

from nnexp.sweep.overrides import override_key

ROLE_ENV = "NNEXP_SWEEP_ROLE"
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def is_worker() -> bool:
    return os.environ.get(ROLE_ENV) == "worker"


def spawn_workers(overrides: Sequence[str], count: int) -> list[subprocess.Popen]:
    """Start ``count`` worker processes with the sweep's overrides."""
    args = [line for line in overrides if override_key(line) != "sweep.workers"]
    env = dict(os.environ)
    env[ROLE_ENV] = "worker"
    for name in THREAD_ENV:
        env[name] = "1"
    command = [sys.executable, "-m", "nnexp", *args, "sweep.workers=1"]
    return [subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL) for _ in range(count)]


def wait_workers(processes: list[subprocess.Popen]) -> list[int]:
    return [process.wait() for process in processes]


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

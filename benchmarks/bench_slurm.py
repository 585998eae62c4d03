"""Sweeps on Slurm: submitting, following, and two workers against one (issue 16).

    python benchmarks/bench_slurm.py            # 30 trials (several minutes)
    python benchmarks/bench_slurm.py --quick    # 12 trials

Starts what the tests start (needs root, ``slurm-wlm`` and ``munge``, PostgreSQL's binaries): a
single-node Slurm with one CPU per core of this machine (``tests/slurm_cluster.py``, no
oversubscription, so two one-CPU jobs get the two cores of a 2-core machine) and a throwaway
PostgreSQL for the studies (``tests/services.py``). Tracking is off: MLflow's cost per trial is
measured by ``bench_sweep.py``; here the question is what Slurm and the launcher add.

Prints, with PASS/FAIL against the floors:

1. submitting: ``python -m nnexp +sweep=lr sweep.workers=2 sweep.launcher=slurm
   launcher.follow=false`` (wall time) minus Slurm's own time for one ``sbatch`` of a job array
   (``sbatch --array=0-1 --wrap true``, median of 3). Floor: < 2 s.
2. following: the CPU time of following the two-worker sweep (the launcher's own follow loop,
   run in this process, and its ``squeue`` children) over the time it followed. Floor: < 1% of
   one core.
3. a 30-trial sweep of the ``bench_sweep`` workload (2-64-64-1 tanh MLP, 2,000 two-moons
   samples, batch 32, 100 epochs) with 2 Slurm workers against 1, each timed from the command's
   start (submitting with ``launcher.follow=false``) until every job ended (followed here).
   Floor: >= 1.6x faster.

The machine may be shared with other work: the figures are what this run saw.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from nnexp.launch.sbatch import JobArray  # noqa: E402

SUBMIT_FLOOR_S, FOLLOW_FLOOR, SPEEDUP_FLOOR = 2.0, 0.01, 1.6


def workload(n_trials: int, epochs: int) -> list[str]:
    """``bench_sweep``'s trial, without tracking or pruning, its workers submitted to Slurm."""
    from bench_sweep import workload as sweep_workload

    size = {"n_trials": n_trials, "n_samples": 2000, "epochs": epochs}
    return [
        *sweep_workload(size),
        "sweep.pruner.name=none",
        "sweep.log_model=none",
        "tracking=off",
        "sweep.launcher=slurm",
        "launcher.poll_interval=5",
    ]


def run_measured(command: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float, str]:
    """``(wall seconds, CPU seconds of the command and its waited-for children, stdout)``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode:
        raise SystemExit(f"nnexp failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, cpu, done.stdout


def follow_measured(job, storage: str, workers: int) -> tuple[float, float, str]:
    """Follow ``job`` as the command does (poll every 5 s): ``(wall s, CPU s, last line)``."""
    import contextlib
    import io
    import resource

    from nnexp.launch.follow import follow
    from nnexp.sweep.watch import StudyWatcher

    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # squeue
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    watcher = StudyWatcher(storage, f"w{workers}", minimize=True)
    lines = io.StringIO()
    start_cpu, start = cpu(), time.perf_counter()
    with contextlib.redirect_stdout(lines):
        follow(job, watcher, None, f"w{workers}", 5.0)
    wall, used = time.perf_counter() - start, cpu() - start_cpu
    watcher.close()
    return wall, used, lines.getvalue().strip().splitlines()[-1]


def wait_empty(cluster, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while cluster.queue():
        if time.monotonic() > deadline:
            raise SystemExit("jobs still queued after the timeout")
        time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 trials instead of 30")
    args = parser.parse_args()
    n_trials = 12 if args.quick else 30

    from services import _start_postgres, _stop_postgres, postgres_bin
    from slurm_cluster import missing_reason, slurm_cluster

    reason = missing_reason()
    if reason or postgres_bin() is None:
        raise SystemExit(f"cannot run: {reason or 'no PostgreSQL binaries'}")
    pg = _start_postgres(postgres_bin())
    try:
        with slurm_cluster() as cluster, tempfile.TemporaryDirectory(prefix="bench-slurm-") as tmp:
            env = {**cluster.env, "PYTHONPATH": str(ROOT)}
            for name in ("NNEXP_SWEEP_ROLE", "NNEXP_TRACEBACK", "NNEXP_MULTIRUN_PARENT_ID"):
                env.pop(name, None)
            storage = f"sweep.storage={pg.uri('optuna')}"
            nnexp = [sys.executable, "-m", "nnexp"]
            print(
                f"single-node Slurm with {cluster.cpus} CPUs; {os.cpu_count()} cores here; "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )

            # 1. submitting, and Slurm's own time for one array submission
            sbatch = []
            for _ in range(3):
                start = time.perf_counter()
                cluster.run(
                    "sbatch", "--array=0-1", f"--output={tmp}/wrap-%A_%a.out", "--wrap", "true"
                )
                sbatch.append(time.perf_counter() - start)
            wait_empty(cluster)
            slurm_s = statistics.median(sbatch)
            submit = [
                *nnexp,
                *workload(n_trials, 100),
                storage,
                "sweep.study_name=submit",
                "sweep.workers=2",
                "launcher.follow=false",
            ]
            submit_wall, submit_cpu, _ = run_measured(submit, tmp, env)
            cluster.run("scancel", "--user=root")
            wait_empty(cluster)
            own = submit_wall - slurm_s
            print(
                f"1. submit 2 workers: {submit_wall:.2f} s wall, {submit_cpu:.2f} s CPU; sbatch "
                f"alone {slurm_s:.2f} s (median of 3); nnexp's own {own:.2f} s wall "
                f"(floor < {SUBMIT_FLOOR_S:.0f} s): {'PASS' if own < SUBMIT_FLOOR_S else 'FAIL'}; "
                f"its CPU time (the wall time on an idle core): "
                f"{'PASS' if submit_cpu < SUBMIT_FLOOR_S else 'FAIL'}",
                flush=True,
            )

            # 3. one worker, then two, each submitted with launcher.follow=false and followed
            # here (2. is the CPU time of following the two-worker sweep, measured in-process)
            os.environ["SLURM_CONF"] = str(cluster.conf)
            results = {}
            for workers in (1, 2):
                command = [
                    *nnexp,
                    *workload(n_trials, 100),
                    storage,
                    f"sweep.study_name=w{workers}",
                    f"sweep.workers={workers}",
                    "launcher.follow=false",
                ]
                wall, _, out = run_measured(command, tmp, env)
                job = JobArray(
                    re.search(r"job array (\d+)", out).group(1),
                    workers,
                    Path(tmp) / "mlruns" / "slurm",
                )
                follow_wall, follow_cpu, last = follow_measured(job, pg.uri("optuna"), workers)
                wait_empty(cluster)
                results[workers] = (wall + follow_wall, follow_cpu, follow_wall)
                print(f"   {workers} worker(s): {wall + follow_wall:.1f} s; {last}", flush=True)
            total2, follow_cpu, follow_wall = results[2]
            share = follow_cpu / follow_wall
            print(
                f"2. following: {follow_cpu:.3f} s CPU over {follow_wall:.0f} s = "
                f"{100 * share:.2f}% of one core, one-off connection included (floor < "
                f"{100 * FOLLOW_FLOOR:.0f}%): {'PASS' if share < FOLLOW_FLOOR else 'FAIL'}",
                flush=True,
            )
            ratio = results[1][0] / total2
            print(
                f"3. {n_trials} trials: 1 worker {results[1][0]:.1f} s, 2 workers {total2:.1f} s: "
                f"{ratio:.2f}x (floor >= {SPEEDUP_FLOOR}x): "
                f"{'PASS' if ratio >= SPEEDUP_FLOOR else 'FAIL'}",
                flush=True,
            )
    finally:
        _stop_postgres(pg)


if __name__ == "__main__":
    main()

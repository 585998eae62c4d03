"""What the confirm phase costs beyond the training it asks for (issue 15's floors).

    python benchmarks/bench_confirm.py            # 8 trials, top 3 + base x 5 seeds (~3 min)
    python benchmarks/bench_confirm.py --quick    # 4 trials, top 2 + base x 3 seeds

Workload: the ``bench_sweep`` trial (2-64-64-1 tanh MLP, 2,000 two-moons samples, batch 32, 200
epochs, 100 in --quick), one sweep in-process in a fresh folder with MLflow tracking on, then its
confirm phase. Timed in the same run:

1. phase: the confirm phase's wall time (deciding, queueing, every job) against the summed
   whole-run time of its jobs (``run_experiment``: data, model, training and its MLflow record).
   Floor: <= 1.05x (the phase adds at most 5% to the runs it asks for).
2. bookkeeping per run: a confirm job's time outside ``run_experiment`` (lock, ask, claim,
   heartbeat, tell, user attributes, tags) against a search trial's (the same around its run).
   Floor: a confirm job's is no more than a trial's + 10 ms (both are a few ms; noise).

Prints medians over the jobs and trials, and PASS/FAIL.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

PHASE_RATIO = 1.05
BOOKKEEPING_SLACK_S = 0.010


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    opts = parser.parse_args()
    n_trials, top_k, seeds, epochs = (4, 2, 3, 100) if opts.quick else (8, 3, 5, 200)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    with tempfile.TemporaryDirectory(prefix="nnexp-bench-confirm-") as tmp:
        os.chdir(tmp)
        timings = run(n_trials, top_k, seeds, epochs)
    report(timings, top_k, seeds)
    return 0


def run(n_trials: int, top_k: int, seeds: int, epochs: int) -> dict[str, list[float]]:
    import nnexp.run
    import nnexp.sweep.confirm as confirm
    import nnexp.sweep.objective as objective
    from nnexp.config.compose import compose_config
    from nnexp.sweep import run_sweep

    timings: dict[str, list[float]] = {"run": [], "trial": [], "job": [], "phase": []}
    current: list[float] = []

    def timed(name: str, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timings[name].append(time.perf_counter() - start)

        return wrapper

    run_experiment = nnexp.run.run_experiment

    def run_timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return run_experiment(*args, **kwargs)
        finally:
            current.append(time.perf_counter() - start)

    nnexp.run.run_experiment = run_timed
    objective.run_trial = timed("trial", objective.run_trial)
    confirm._run_job = timed("job", confirm._run_job)
    confirm.run_confirm_phase = timed("phase", confirm.run_confirm_phase)
    import nnexp.sweep.driver as driver

    driver.run_trial = objective.run_trial
    from bench_sweep import workload

    overrides = [
        *workload({"n_trials": n_trials, "n_samples": 2000, "epochs": epochs}),
        "sweep.pruner.name=none",
        "sweep.log_model=none",
        f"sweep.confirm.top_k={top_k}",
        f"sweep.confirm.seeds={seeds}",
    ]
    run_sweep(compose_config(overrides), overrides)
    runs = current
    timings["run_trial"] = runs[:n_trials]
    timings["run_job"] = runs[n_trials:]
    return timings


def report(t: dict[str, list[float]], top_k: int, seeds: int) -> None:
    jobs = len(t["run_job"])
    phase = t["phase"][0]
    summed = sum(t["run_job"])
    ratio = phase / summed
    job_overhead = [a - b for a, b in zip(t["job"], t["run_job"], strict=True)]
    trial_overhead = [a - b for a, b in zip(t["trial"], t["run_trial"], strict=True)]
    job_ms = statistics.median(job_overhead) * 1000
    trial_ms = statistics.median(trial_overhead) * 1000
    print(f"confirm phase: {jobs} runs ((top {top_k} + base) x {seeds} seeds)")
    print(
        f"1. phase wall {phase:.2f} s vs summed runs {summed:.2f} s = {ratio:.3f}x "
        f"(floor <= {PHASE_RATIO}x): {'PASS' if ratio <= PHASE_RATIO else 'FAIL'}"
    )
    ok = job_ms <= trial_ms + BOOKKEEPING_SLACK_S * 1000
    print(
        f"2. bookkeeping per run, median: confirm job {job_ms:.1f} ms vs search trial "
        f"{trial_ms:.1f} ms (floor: job <= trial + {BOOKKEEPING_SLACK_S * 1000:.0f} ms): "
        f"{'PASS' if ok else 'FAIL'}"
    )
    print(
        f"   median run: confirm {statistics.median(t['run_job']):.2f} s, "
        f"trial {statistics.median(t['run_trial']):.2f} s"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())

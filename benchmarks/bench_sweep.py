"""What a sweep costs beyond its training: tracking, nnexp's Optuna loop, workers, pruning.

    python benchmarks/bench_sweep.py            # the full workload (about 15-30 min)
    python benchmarks/bench_sweep.py --quick    # a small version (about 3-5 min)

Workload (issue 5): a 30-trial ``+sweep=lr``, each trial a 2-64-64-1 tanh MLP on 2,000
two-moons samples, batch 32, 200 epochs. Every sweep is a whole ``python -m nnexp`` process in
a fresh folder (so its MLflow database and journal are new), with one BLAS thread per process.

Prints, with PASS/FAIL against the floors:

1. tracking overhead: the sweep with MLflow (default local SQLite store, pyfunc model for the
   best trial, plots, trials CSV) vs ``tracking=off`` (pruner off in both). Floors: whole
   command <= 10% longer, and <= 100 ms more per trial (difference of the summed trial
   durations recorded by Optuna, same seed so the same learning rates in both).
   1b. the same per-trial cost timed directly, in-process (every ``RunRecorder`` call, the
   artifact files, the sweep's tags on the trial's run), on 6 trials of the workload: the
   difference of two sweeps' trial durations is within the machine's noise.
2. sweep machinery per trial: nnexp's own loop (sweep lock, counting, ask, sampling, composing
   the trial's config, user attributes, tell), measured in-process as the loop's time minus the
   time spent inside ``run_experiment``, on a 30-trial TPE study of 1-epoch trials.
   Floor: <= 30 ms. The cost of ``trial.report`` (a synced journal write each) is printed apart.
3. two workers (``sweep.workers=2``) vs one, tracking on. Floor: >= 1.7x faster.
4. median pruner (as in conf/sweep/lr.yaml) vs no pruner, tracking on, same seed and n_trials.
   Floor: best validation loss within 2% of the unpruned sweep's, in <= 60% of its wall time.

With ``--repeats N`` each measurement is repeated and the median reported; variants alternate
so that machine noise hits them alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FULL = {"n_trials": 30, "n_samples": 2000, "epochs": 200}
QUICK = {"n_trials": 12, "n_samples": 2000, "epochs": 100}
TRACKING_RATIO, TRACKING_PER_TRIAL_S = 1.10, 0.100
MACHINERY_S = 0.030
WORKERS_SPEEDUP = 1.7
PRUNE_VALUE_TOL, PRUNE_TIME_RATIO = 0.02, 0.60


def workload(size: dict[str, int]) -> list[str]:
    return [
        "+sweep=lr",
        "data=moons",
        f"data.n_samples={size['n_samples']}",
        "model.hidden_sizes=[64,64]",
        "model.activation=tanh",
        "trainer.batch_size=32",
        f"trainer.epochs={size['epochs']}",
        "trainer.progress=false",
        f"sweep.n_trials={size['n_trials']}",
    ]


def env() -> dict[str, str]:
    out = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        out[name] = "1"
    for name in ("NNEXP_SWEEP_ROLE", "NNEXP_TRACEBACK"):
        out.pop(name, None)
    return out


def warm_store(folder: str) -> float:
    """Create the MLflow database a sweep will use (a one-off cost per store); its seconds."""
    from nnexp.tracking import open_store

    start = time.perf_counter()
    root = Path(folder) / "mlruns"
    open_store(f"sqlite:///{root / 'mlflow.db'}", "nnexp", str(root / "artifacts"))
    return time.perf_counter() - start


def sweep(args: list[str]) -> dict[str, float]:
    """Run one sweep in a fresh folder with a ready MLflow store; wall time, summed trial time,
    best value."""
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        created = warm_store(tmp)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "nnexp", *args],
            cwd=tmp,
            env=env(),
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        if done.returncode:
            raise SystemExit(f"sweep failed ({done.returncode}): {done.stderr[-2000:]}")
        import optuna
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        # the default study name carries a digest of the command's overrides: lr-<8 hex>
        (journal,) = (Path(tmp) / "mlruns" / "optuna").glob("lr*.journal")
        study = optuna.load_study(
            study_name=journal.stem, storage=JournalStorage(JournalFileBackend(str(journal)))
        )
        trials = study.get_trials()
        durations = [
            (t.datetime_complete - t.datetime_start).total_seconds()
            for t in trials
            if t.datetime_complete and t.datetime_start
        ]
        try:
            best = study.best_value
        except ValueError:
            best = float("nan")
        pruned = sum(t.state.name == "PRUNED" for t in trials)
        return {
            "wall": seconds,
            "trials": sum(durations),
            "best": best,
            "n": len(trials),
            "pruned": pruned,
            "store": created,
        }


def median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def machinery(n_trials: int = 30) -> tuple[float, float]:
    """(loop overhead per trial, seconds per trial.report) measured in this process."""
    import optuna

    import nnexp.run
    import nnexp.sweep.driver as driver
    from nnexp.config.compose import compose_config

    spent = {"run": 0.0, "loop": 0.0}
    real_run, real_loop = nnexp.run.run_experiment, driver._loop

    def timed(function, key):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - start

        return wrapper

    timed_run, timed_loop = timed(real_run, "run"), timed(real_loop, "loop")

    overrides = [
        "+sweep=lr",
        "data.n_samples=100",
        "trainer.epochs=1",
        "trainer.progress=false",
        "tracking=off",
        f"sweep.n_trials={n_trials}",
        "sweep.pruner.name=none",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        nnexp.run.run_experiment, driver._loop = timed_run, timed_loop
        try:
            import contextlib
            import io

            with contextlib.redirect_stdout(io.StringIO()):
                driver.run_sweep(compose_config(overrides), overrides)
        finally:
            nnexp.run.run_experiment, driver._loop = real_run, real_loop
            os.chdir(cwd)
        storage = optuna.storages.journal.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(Path(tmp) / "report.journal"))
        )
        study = optuna.create_study(storage=storage)
        trial = study.ask()
        start = time.perf_counter()
        for step in range(50):
            trial.report(1.0 / (step + 1), step)
        report = (time.perf_counter() - start) / 50
    return (spent["loop"] - spent["run"]) / n_trials, report


def recording(n_trials: int = 6) -> float:
    """Seconds per trial spent recording to MLflow, timed directly (in this process): every
    ``RunRecorder`` call, writing the artifact files, and the sweep's tags on the trial's run.
    Unlike the difference of two sweeps' trial durations, this does not drown in the machine's
    noise."""
    import contextlib
    import functools
    import io

    import nnexp.run
    import nnexp.sweep.driver as driver
    from nnexp.config.compose import compose_config
    from nnexp.tracking.recorder import RunRecorder
    from nnexp.tracking.sweep_runs import SweepRuns

    spent, depth = [0.0], [0]
    targets = [
        (RunRecorder, name)
        for name in (
            "__enter__",
            "log_params",
            "log_inputs",
            "on_epoch_end",
            "log_metrics",
            "queue_tags",
            "flush",
            "log_artifacts",
            "end",
        )
    ]
    targets += [(nnexp.run, "_write_artifacts"), (SweepRuns, "tag_run")]
    originals = [(owner, name, getattr(owner, name)) for owner, name in targets]

    def timed(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            depth[0] += 1
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:  # the outermost call only: end() calls flush()
                    spent[0] += time.perf_counter() - start

        return wrapper

    overrides = [
        *workload({**FULL, "n_trials": n_trials}),
        "sweep.pruner.name=none",
        "sweep.log_model=none",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        for owner, name, function in originals:
            setattr(owner, name, timed(function))
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                driver.run_sweep(compose_config(overrides), overrides)
        finally:
            for owner, name, function in originals:
                setattr(owner, name, function)
            os.chdir(cwd)
    return spent[0] / n_trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller workload")
    parser.add_argument("--repeats", type=int, default=None, help="default: 3 quick, 1 full")
    options = parser.parse_args()
    size = QUICK if options.quick else FULL
    repeats = options.repeats or (3 if options.quick else 1)
    base = workload(size)
    unpruned = [*base, "sweep.pruner.name=none"]
    print(
        f"workload: {' '.join(base)}  (repeats: {repeats}, 1 BLAS thread per process)", flush=True
    )

    per_trial, report = machinery()
    print(
        f"\n2. sweep machinery: {per_trial * 1000:.1f} ms/trial (floor <= "
        f"{MACHINERY_S * 1000:.0f} ms) {verdict(per_trial <= MACHINERY_S)}; "
        f"trial.report: {report * 1000:.2f} ms per call",
        flush=True,
    )

    recorded = recording()
    print(
        f"1b. recording per trial, timed directly: {recorded * 1000:.0f} ms (floor <= "
        f"{TRACKING_PER_TRIAL_S * 1000:.0f} ms) {verdict(recorded <= TRACKING_PER_TRIAL_S)}",
        flush=True,
    )

    rows: dict[str, list[dict[str, float]]] = {"off": [], "on": [], "workers": [], "pruned": []}
    variants = {
        "off": [*unpruned, "tracking=off"],
        "on": unpruned,
        "workers": [*unpruned, "sweep.workers=2"],
        "pruned": base,
    }
    for repeat in range(repeats):
        for name, args in variants.items():
            rows[name].append(sweep(args))
            row = rows[name][-1]
            print(
                f"   [{repeat + 1}/{repeats}] {name:8s} wall {row['wall']:7.1f} s  trials "
                f"{row['trials']:7.1f} s  best {row['best']:.4f}  n={row['n']:.0f} "
                f"pruned={row['pruned']:.0f}",
                flush=True,
            )

    n = size["n_trials"]
    off, on = median(rows["off"], "wall"), median(rows["on"], "wall")
    per = (median(rows["on"], "trials") - median(rows["off"], "trials")) / n
    ratio = on / off
    store = median(rows["on"], "store")
    print(f"\n0. creating a new MLflow store (once per store, not counted below): {store:.1f} s")
    print(
        f"1. tracking: {on:.1f} s with MLflow vs {off:.1f} s off = {ratio:.3f}x "
        f"(floor <= {TRACKING_RATIO:.2f}x) {verdict(ratio <= TRACKING_RATIO)}; "
        f"{per * 1000:+.0f} ms per trial (floor <= {TRACKING_PER_TRIAL_S * 1000:.0f} ms) "
        f"{verdict(per <= TRACKING_PER_TRIAL_S)}"
    )
    two = median(rows["workers"], "wall")
    speedup = on / two
    print(
        f"3. workers: 1 worker {on:.1f} s, 2 workers {two:.1f} s = {speedup:.2f}x "
        f"(floor >= {WORKERS_SPEEDUP}x) {verdict(speedup >= WORKERS_SPEEDUP)}"
    )
    pruned_wall = median(rows["pruned"], "wall")
    best_un, best_pr = median(rows["on"], "best"), median(rows["pruned"], "best")
    gap = best_pr / best_un - 1.0
    time_ratio = pruned_wall / on
    ok = gap <= PRUNE_VALUE_TOL and time_ratio <= PRUNE_TIME_RATIO
    print(
        f"4. median pruner: best {best_pr:.4f} vs {best_un:.4f} unpruned ({gap:+.1%}, floor "
        f"<= +{PRUNE_VALUE_TOL:.0%}) in {pruned_wall:.1f} s vs {on:.1f} s = {time_ratio:.2f} "
        f"of the time (floor <= {PRUNE_TIME_RATIO:.2f}) {verdict(ok)}; "
        f"{median(rows['pruned'], 'pruned'):.0f} of {n} trials pruned"
    )
    if options.quick:
        print("(--quick: the floors are set for the full workload, where training dominates)")


if __name__ == "__main__":
    main()

"""What the per-layer statistics cost: ``trainer.inspect=true`` (the default) vs ``false``.

    python benchmarks/bench_inspect.py                 # everything (about 10-20 min, loaded host)
    python benchmarks/bench_inspect.py --quick         # fewer repeats, the small sweep
    python benchmarks/bench_inspect.py --skip-sweep    # the single run only

Prints medians and their ratios (on / off), variants alternating so that machine noise hits
both alike, with PASS/FAIL against the floor (issue 14: at most 10% slower):

1. the engine: ``fit`` of the default network on the default data (2-16-16-1 tanh, Adam,
   1,000 two-moons samples, batch 32, 100 epochs), with a ``LayerProbe`` vs without, in-process.
   Every epoch is logged (``tracking.log_every=1``), so every epoch is probed: the worst case.
2. the default run, in-process with warm imports (``run_experiment``, ``tracking=local``):
   training, the MLflow record (the layer metrics are 17 more points per epoch), the pictures
   (drawn in the helper process while this one writes to MLflow) and the pyfunc model.
3. the default run as a whole ``python -m nnexp`` process, as a user runs it.
4. the ``+sweep=lr`` benchmark workload of ``benchmarks/bench_sweep.py`` (30 trials of a
   2-64-64-1 tanh MLP, 2,000 samples, 200 epochs; ``--quick``: 12 trials of 100 epochs), each
   sweep a whole process in a fresh folder: wall time and the summed trial durations.

``trainer.inspect=false`` builds no probe: ``fit`` then runs the loop it ran before the
statistics existed (one ``is None`` test per epoch), so its cost is zero by construction;
item 1 measures the probe against that loop.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sweep import FULL, QUICK, env, sweep, warm_store, workload

FLOOR = 1.10
RUN = ["trainer.progress=false"]  # the default run: 1,000 moons, 2-16-16-1 tanh, 100 epochs
OFF = "trainer.inspect=false"


def engine(repeats: int) -> tuple[float, float]:
    from nnexp.build import build_model, build_optimizer, build_schedule, build_splits
    from nnexp.config.compose import compose_config
    from nnexp.nn.inspect import LayerProbe
    from nnexp.run import _fit  # the single-run path's call of fit

    cfg = compose_config([*RUN, "tracking=off"])
    dataset, splits = build_splits(cfg.data, 0)

    def once(probe: bool) -> float:
        model = build_model(cfg.model, dataset, 0)
        optimizer = build_optimizer(cfg.optimizer, model.params)
        schedule = build_schedule(cfg.optimizer, cfg.trainer.epochs)
        start = time.perf_counter()
        _fit(cfg, model, optimizer, schedule, splits, [], LayerProbe(model) if probe else None)
        return time.perf_counter() - start

    once(True), once(False)  # warm
    on, off = [], []
    for _ in range(repeats):
        on.append(once(True))
        off.append(once(False))
    return statistics.median(on), statistics.median(off)


def in_process(repeats: int, cwd: Path) -> tuple[float, float]:
    from nnexp.config.compose import compose_config
    from nnexp.run import run_experiment

    home = os.getcwd()
    os.chdir(cwd)
    try:
        run_experiment(compose_config(RUN))  # warm imports, the store and the plot helper
        run_experiment(compose_config([*RUN, OFF]))
        on, off = [], []
        for _ in range(repeats):
            for extra, sink in (([], on), ([OFF], off)):
                cfg = compose_config([*RUN, *extra])
                start = time.perf_counter()
                run_experiment(cfg)
                sink.append(time.perf_counter() - start)
    finally:
        os.chdir(home)
    return statistics.median(on), statistics.median(off)


def process(repeats: int) -> tuple[float, float]:
    on, off = [], []
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as tmp:
        warm_store(tmp)
        for _ in range(repeats):
            for extra, sink in (([], on), ([OFF], off)):
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "nnexp", *RUN, *extra],
                    cwd=tmp,
                    env=env(),
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                sink.append(time.perf_counter() - start)
    return statistics.median(on), statistics.median(off)


def sweeps(repeats: int, size: dict[str, int]) -> tuple[dict[str, float], dict[str, float]]:
    args = [*workload(size), "sweep.pruner.name=none"]
    on, off = [], []
    for _ in range(repeats):
        on.append(sweep(args))
        off.append(sweep([*args, OFF]))
    keys = ("wall", "trials")
    return (
        {k: statistics.median(r[k] for r in on) for k in keys},
        {k: statistics.median(r[k] for r in off) for k in keys},
    )


def line(what: str, on: float, off: float) -> None:
    ratio = on / off
    verdict = "PASS" if ratio <= FLOOR else "FAIL"
    print(
        f"{what:<52} on {on:8.3f} s  off {off:8.3f} s  ratio {ratio:5.3f}  "
        f"(floor <= {FLOOR:.2f}) {verdict}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--skip-sweep", action="store_true")
    opts = parser.parse_args()
    repeats = opts.repeats or (3 if opts.quick else 5)
    load = os.getloadavg()[0]
    print(f"bench_inspect: {repeats} repeats, load average {load:.1f} on {os.cpu_count()} cores")
    line("1. fit, default run, probe vs none", *engine(repeats * 3))
    with tempfile.TemporaryDirectory(prefix="bench-inspect-") as tmp:
        line("2. default run in-process, tracking=local", *in_process(repeats, Path(tmp)))
    line("3. default run as a process (python -m nnexp)", *process(repeats))
    if not opts.skip_sweep:
        size = QUICK if opts.quick else FULL
        on, off = sweeps(max(1, repeats // 2), size)
        name = f"{size['n_trials']} trials x {size['epochs']} epochs"
        line(f"4. +sweep=lr ({name}), wall", on["wall"], off["wall"])
        line("   +sweep=lr, summed trial durations", on["trials"], off["trials"])
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

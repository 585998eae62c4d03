"""How much the command line and MLflow tracking cost.

    python benchmarks/bench_cli.py [--repeats 5]

Prints medians of:
  * ``python -m nnexp --help`` wall time (floor: < 1.5 s; MLflow and Optuna are imported lazily);
  * a 100-epoch run on a small data set, in-process with warm imports, ``tracking=local`` vs
    ``tracking=off``: what recording a run costs (params, 100 epochs of metrics in batches,
    tags, artifacts, the learning-curve PNG, the pyfunc model). Floor: tracking adds <= 0.3 s;
    and the same with ``trainer.inspect=false`` (no layer statistics to write, no inside
    pictures to draw: what the floor measured before the layer probe existed);
  * the same run as a whole process, and what the difference is made of: MLflow's one-off
    start-up in a fresh interpreter (``import mlflow``, opening the SQLAlchemy store), paid once
    per process, whatever the number of runs in it (a multirun, a sweep). matplotlib is
    imported by the drawing helper process meanwhile. (MLflow's scan of every installed
    distribution before the first model, 0.4-0.8 s, is skipped: see ``nnexp.tracking.pyfunc``.)
Runs alternate between the variants so that machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN = ["data.n_samples=300", "trainer.epochs=100", "trainer.progress=false"]
HELP_FLOOR_S = 1.5
TRACKING_FLOOR_S = 0.3


def wall(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "nnexp", *args],
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


IN_PROCESS = {
    "on": ["tracking=local"],
    "off": ["tracking=off"],
    "on, no inspection": ["tracking=local", "trainer.inspect=false"],
    "off, no inspection": ["tracking=off", "trainer.inspect=false"],
}


def in_process(repeats: int, cwd: Path) -> dict[str, float]:
    """Median seconds of one run per IN_PROCESS variant, variants alternating."""
    import os

    from nnexp.config.compose import compose_config
    from nnexp.run import run_experiment

    os.chdir(cwd)
    times: dict[str, list[float]] = {name: [] for name in IN_PROCESS}
    run_experiment(compose_config(RUN))  # warm imports and the store
    for _ in range(repeats):
        for name, variant in IN_PROCESS.items():
            cfg = compose_config([*RUN, *variant])
            start = time.perf_counter()
            run_experiment(cfg)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


ONE_OFF = """
import time
t0 = time.perf_counter()
import mlflow
t1 = time.perf_counter()
from nnexp.tracking import open_store
open_store("sqlite:///mlruns/mlflow.db", "nnexp", "mlruns/artifacts")
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""
ONE_OFF_PARTS = ("import mlflow", "open the store")


def one_off(cwd: Path) -> list[float]:
    """Seconds of each part of MLflow's start-up in a fresh interpreter (see ONE_OFF)."""
    done = subprocess.run(
        [sys.executable, "-c", ONE_OFF], cwd=cwd, check=True, capture_output=True, text=True
    )
    return [float(x) for x in done.stdout.split()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nnexp-bench-") as tmp:
        cwd = Path(tmp)
        wall(["--help"], cwd)
        help_times = [wall(["--help"], cwd) for _ in range(args.repeats)]
        wall([*RUN], cwd)  # create the store once
        on, off = [], []
        for _ in range(args.repeats):
            on.append(wall([*RUN, "tracking=local"], cwd))
            off.append(wall([*RUN, "tracking=off"], cwd))
        parts = [one_off(cwd) for _ in range(args.repeats)]
        warm = in_process(args.repeats, cwd)

    help_s = statistics.median(help_times)
    on_s, off_s = statistics.median(on), statistics.median(off)
    one = [statistics.median(column) for column in zip(*parts, strict=True)]
    rows = [
        ("python -m nnexp --help", f"{help_s:.2f} s", f"< {HELP_FLOOR_S} s", help_s < HELP_FLOOR_S),
        ("100-epoch run, in-process, tracking=off", f"{warm['off']:.3f} s", "", None),
        ("100-epoch run, in-process, tracking=local", f"{warm['on']:.3f} s", "", None),
        (
            "  tracking overhead per run",
            f"{warm['on'] - warm['off']:+.3f} s",
            f"<= {TRACKING_FLOOR_S} s",
            warm["on"] - warm["off"] <= TRACKING_FLOOR_S,
        ),
        (
            "  the same, trainer.inspect=false",
            f"{warm['on, no inspection'] - warm['off, no inspection']:+.3f} s",
            f"<= {TRACKING_FLOOR_S} s",
            warm["on, no inspection"] - warm["off, no inspection"] <= TRACKING_FLOOR_S,
        ),
        ("100-epoch run, process, tracking=off", f"{off_s:.2f} s", "", None),
        ("100-epoch run, process, tracking=local", f"{on_s:.2f} s", "", None),
        ("  difference (process)", f"{on_s - off_s:+.2f} s", "", None),
        ("  of which MLflow's one-off start-up", f"{sum(one):.2f} s", "", None),
        *(
            (f"    {name}", f"{seconds:.2f} s", "", None)
            for name, seconds in zip(ONE_OFF_PARTS, one, strict=True)
        ),
    ]
    print(f"medians of {args.repeats} runs")
    for name, value, floor, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{name:<44} {value:>10} {floor:>10} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

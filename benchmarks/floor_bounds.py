"""How close bench_engine.py's floors can get without changing any result: lower bounds on
the engine's time set by NumPy calls whose results the engine cannot change, measured in one run.

Usage: python benchmarks/floor_bounds.py [--repeats N]

Every training result must stay bit-identical (same config and seed, same bits), so each
rounding step of the engine is fixed: an element-wise pass cannot be fused with another one
(that would round once instead of twice), a matrix product cannot be reassociated. What is
left to speed up is everything around those calls. This script times, single-threaded, the
calls that remain whatever is done around them, and prints the best ratio each floor could
reach if everything else were free:

  (b) one SGD step of the moons 2-64-64-1 tanh net at batch 64: the two float64 ``np.tanh``
      passes over (64, 64) and the three 64x64x64 matrix products (forward of layer 2, its
      dW and its dX), against the tutorial-style per-sample loop of bench_engine.py (the
      floor's reference) on the same samples. Bound = per-sample loop time / that time.
  (c') the (32, 128) passes of the BatchNorm / LayerNorm layer of the digits 64-128-10 net at
      batch 32, forward and backward (each one NumPy call with its own rounding; the vector
      operations and the Python between them left out), against bench_engine.py's epoch time
      per batch of the same network without normalisation. Bound = 1 + passes / that time.
  (d) the eight matrix products of one batch of 128 on the 784-256-256-10 float32 net plus
      the Adam step (ten element-wise passes over the 269,322 parameters), against the
      single-thread SGEMM rate. Bound = FLOPs / that time / SGEMM rate.

It also prints the SIMD target NumPy runs float64 ``tanh`` on, that kernel's time per (64, 64)
call against NumPy's baseline kernel (a child process with ``NPY_DISABLE_CPU_FEATURES``), and
whether the two give the same bits: (b) hangs on the cost of tanh, which differs by an order of
magnitude between CPUs, and a tanh network's last bits already differ between kernels.

Medians over ``--repeats`` rounds of interleaved timings (the machine may be shared).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import FLOORS, _blas_limit, per_sample_epoch, sgemm_rate

from nnexp.nn import MLP, make_optimizer


def per_call(fn, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def interleaved(fns: dict, number: int, repeats: int) -> dict:
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            times[k].append(per_call(fn, number))
    return {k: statistics.median(v) for k, v in times.items()}


def bound_b(repeats: int) -> str:
    from sklearn.datasets import make_moons

    rng = np.random.default_rng(0)
    X, y = make_moons(2500, noise=0.2, random_state=0)
    sizes = [2, 64, 64, 1]
    params = [p.copy() for p in MLP(sizes, activation="tanh", output="sigmoid", rng=0).params]
    z1 = rng.standard_normal((64, 64)) * 0.5
    z2 = rng.standard_normal((64, 64)) * 0.5
    W2 = rng.standard_normal((64, 64)) * 0.1
    g = rng.standard_normal((64, 64))
    out = np.empty((64, 64))
    dW = np.empty((64, 64))

    def tanh_gemm():
        np.tanh(z1, out=out)
        np.tanh(z2, out=out)
        np.matmul(z1, W2, out=out)
        np.matmul(z1.T, g, out=dW)
        np.matmul(g, W2, out=out)

    def exp_gemm():  # the same with np.exp in place of np.tanh: what any other tanh costs
        np.exp(z1, out=out)
        np.exp(z2, out=out)
        np.matmul(z1, W2, out=out)
        np.matmul(z1.T, g, out=dW)
        np.matmul(g, W2, out=out)

    def per_sample():
        per_sample_epoch(params, X[:250], y[:250].astype(np.float64))

    t = interleaved({"fixed": tanh_gemm, "exp": exp_gemm, "ps": per_sample}, 20, repeats)
    per_batch = t["ps"] / 250 * 64
    return (
        f"(b) per batch of 64: 2 tanh + 3 GEMMs = {t['fixed'] * 1e6:.0f} us; per-sample loop "
        f"{t['ps'] / 250 * 1e6:.1f} us/sample -> at most {per_batch / t['fixed']:.1f}x "
        f"(floor >= {FLOORS['speedup_b']}); with a tanh as cheap as one np.exp "
        f"({t['exp'] * 1e6:.0f} us) at most {per_batch / t['exp']:.1f}x"
    )


def _norm_passes(n: int, d: int) -> dict:
    """The (n, d) passes of each norm layer's forward and backward as nnexp writes them (each
    its own rounding step; the row and column sums are BLAS products), without the (d,) or
    (n,) vector operations and the Python between them: what the layer costs at the least."""
    rng = np.random.default_rng(1)
    x, g = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    xc, t, y, dx = (np.empty((n, d)) for _ in range(4))
    avg_n, ones_n, avg_d = np.full(n, 1 / n), np.ones(n), np.full(d, 1 / d)
    row = [rng.random(d) for _ in range(6)]  # (d,) statistics and parameters
    col = [rng.random((n, 1)) for _ in range(4)]  # (n, 1) per-row statistics

    def batch():  # BatchNorm: 6 forward, 7 backward
        np.dot(avg_n, x, out=row[0])
        np.subtract(x, row[0], out=xc)
        np.multiply(xc, xc, out=t)
        np.dot(avg_n, t, out=row[1])
        np.multiply(xc, row[2], out=y)
        np.add(y, row[3], out=y)
        np.dot(ones_n, g, out=row[4])
        np.multiply(g, xc, out=t)
        np.dot(ones_n, t, out=row[5])
        np.multiply(xc, row[2], out=dx)
        np.subtract(g, dx, out=dx)
        np.subtract(dx, row[3], out=dx)
        np.multiply(dx, row[2], out=dx)

    def layer():  # LayerNorm: 7 forward, 10 backward
        np.dot(x, avg_d)
        np.subtract(x, col[0], out=xc)
        np.multiply(xc, xc, out=t)
        np.dot(t, avg_d)
        np.multiply(xc, col[1], out=xc)
        np.multiply(xc, row[2], out=y)
        np.add(y, row[3], out=y)
        np.dot(ones_n, g, out=row[4])
        np.multiply(g, xc, out=t)
        np.dot(ones_n, t, out=row[5])
        np.dot(t, row[2])
        np.dot(g, row[2])
        np.multiply(xc, col[2], out=dx)
        np.multiply(g, row[2], out=y)
        np.subtract(y, dx, out=dx)
        np.subtract(dx, col[3], out=dx)
        np.multiply(dx, col[1], out=dx)

    return {"batch": batch, "layer": layer}


def bound_c(repeats: int) -> list[str]:
    """(c') against bench_engine.py's own measure: the epoch time per batch of 32 (shuffle,
    slicing, step) of the digits net without normalisation, single-threaded."""
    from bench_engine import nnexp_runner
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    epoch = nnexp_runner([64, 128, 10], "relu", "softmax", X, y, 32, np.float64)
    batches = -(-len(X) // 32)
    passes = _norm_passes(32, 128)

    def per_epoch(one_batch):
        def run():
            for _ in range(batches):
                one_batch()

        return run

    fns = {"epoch": epoch, **{k: per_epoch(f) for k, f in passes.items()}}
    t = {k: v / batches for k, v in interleaved(fns, 3, repeats).items()}  # per batch
    lines = []
    for norm in ("batch", "layer"):
        lines.append(
            f"(c') norm={norm}: its (n, d) passes alone {t[norm] * 1e6:.0f} us per batch, the "
            f"epoch without norm {t['epoch'] * 1e6:.0f} us per batch -> ratio at least "
            f"{1 + t[norm] / t['epoch']:.3f} (floor <= {FLOORS['norm_c']})"
        )
    return lines


def bound_d(repeats: int) -> str:
    rng = np.random.default_rng(0)
    f = np.float32
    x = rng.standard_normal((128, 784)).astype(f)
    h = rng.standard_normal((128, 256)).astype(f)
    g = rng.standard_normal((128, 256)).astype(f)
    g3 = rng.standard_normal((128, 10)).astype(f)
    model = MLP([784, 256, 256, 10], activation="relu", output="softmax", dtype=f, rng=0)
    W1, _, W2, _, W3, _ = model.params
    dW1, _, dW2, _, dW3, _ = model.grads
    model.flat_grads[...] = rng.standard_normal(model.flat_grads.size).astype(f) * 1e-3
    opt = make_optimizer("adam", model.params, lr=1e-3)
    o1, o3 = np.empty((128, 256), f), np.empty((128, 10), f)

    def gemms():
        np.matmul(x, W1, out=o1)
        np.matmul(h, W2, out=o1)
        np.matmul(h, W3, out=o3)
        np.matmul(h.T, g3, out=dW3)
        np.matmul(g3, W3.T, out=o1)
        np.matmul(h.T, g, out=dW2)
        np.matmul(g, W2.T, out=o1)
        np.matmul(x.T, g, out=dW1)

    def adam():
        opt.step(model.grads)

    t = interleaved({"gemm": gemms, "adam": adam}, 10, repeats)
    rate = sgemm_rate()
    flops = 2 * 128 * (3 * (784 * 256 + 256 * 256 + 256 * 10) - 784 * 256)
    bound = flops / (t["gemm"] + t["adam"]) / rate
    return (
        f"(d) per batch of 128: GEMMs {t['gemm'] * 1e6:.0f} us ({flops / t['gemm'] / 1e9:.1f} "
        f"GFLOP/s), Adam {t['adam'] * 1e6:.0f} us; SGEMM {rate / 1e9:.1f} GFLOP/s -> at most "
        f"{bound:.3f} (floor >= {FLOORS['sgemm_d32']})"
    )


def tanh_target() -> str:
    """The SIMD target NumPy dispatches float64 ``tanh`` to on this CPU (the cost of a tanh
    element differs by an order of magnitude between machines, and (b) hangs on it)."""
    try:
        from numpy.lib.introspect import opt_func_info

        return opt_func_info(func_name="tanh")["tanh"]["dd"]["current"]
    except (ImportError, KeyError):  # NumPy < 2.2
        return "unknown"


_TANH_PROBE = """
import hashlib, time
import numpy as np
z = np.random.default_rng(0).standard_normal((64, 64)) * 0.5
out = np.empty_like(z)
best = float("inf")
for _ in range(15):
    t0 = time.perf_counter()
    for _ in range(200):
        np.tanh(z, out=out)
    best = min(best, (time.perf_counter() - t0) / 200)
wide = np.random.default_rng(1).standard_normal(1_000_000) * 3
print(best, hashlib.sha256(np.tanh(wide).tobytes()).hexdigest())
"""


def tanh_by_target(target: str) -> str:
    """float64 ``tanh`` per (64, 64) call with NumPy's dispatched kernel and with its baseline
    kernel (a child process started with ``NPY_DISABLE_CPU_FEATURES=<target>``), and whether
    the two give the same bits on a million values: the bits of a tanh network's results
    depend on the CPU's dispatch target, so they are the same only on the same kind of CPU."""

    def probe(env: dict) -> tuple[float, str]:
        done = subprocess.run(
            [sys.executable, "-c", _TANH_PROBE], env=env, capture_output=True, text=True, check=True
        )
        seconds, digest = done.stdout.split()
        return float(seconds), digest

    if target in ("unknown", "") or target.startswith("baseline"):
        return "float64 tanh runs NumPy's baseline kernel here: no other target to compare"
    here, here_bits = probe(dict(os.environ))
    base, base_bits = probe({**os.environ, "NPY_DISABLE_CPU_FEATURES": target})
    same = "the same bits" if here_bits == base_bits else "different bits"
    return (
        f"float64 tanh per (64, 64) call: {target} kernel {here * 1e6:.1f} us, baseline kernel "
        f"{base * 1e6:.1f} us ({base / here:.2f}x); {same} on 1e6 values"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} CPUs")
    target = tanh_target()
    print(f"NumPy {np.__version__}: float64 tanh dispatched to {target}")
    print(tanh_by_target(target))
    with _blas_limit(1):
        print(bound_b(args.repeats))
        for line in bound_c(args.repeats):
            print(line)
        print(bound_d(args.repeats))
    print(f"load average at end: {os.getloadavg()[0]:.1f} (1 min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

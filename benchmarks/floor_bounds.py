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
  (c') the BatchNorm / LayerNorm layer of the digits 64-128-10 net at batch 32, forward and
      backward (each line one NumPy call with its own rounding), against a whole training
      step of the same network without normalisation. Bound = 1 + norm layer / step.
  (d) the eight matrix products of one batch of 128 on the 784-256-256-10 float32 net plus
      the Adam step (ten element-wise passes over the 269,322 parameters), against the
      single-thread SGEMM rate. Bound = FLOPs / that time / SGEMM rate.

Medians over ``--repeats`` rounds of interleaved timings (the machine may be shared).
"""

from __future__ import annotations

import argparse
import statistics
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


def bound_c(repeats: int) -> list[str]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.data[:32] / 16.0, digits.target[:32]
    plain = MLP([64, 128, 10], activation="relu", output="softmax", rng=0, init="he_uniform")
    opt = make_optimizer("adam", plain.params, lr=1e-3)

    def step():
        plain.loss_and_grads(X, y)
        opt.step(plain.grads)

    fns = {"step": step}
    lines = []
    for norm in ("batch", "layer"):
        model = MLP([64, 128, 10], activation="relu", output="softmax", rng=0, norm=norm)
        layer = model.norms[0]
        h = X @ model.params[0]
        x = np.empty_like(h)
        grad = np.random.default_rng(1).standard_normal(h.shape)
        gbuf = np.empty_like(grad)

        def norm_pass(layer=layer, h=h, x=x, grad=grad, gbuf=gbuf):
            np.copyto(x, h)
            np.copyto(gbuf, grad)
            layer.forward(x, True, None)
            layer.backward(gbuf)

        fns[norm] = norm_pass
    copies = np.empty_like(h)
    fns["copies"] = lambda: (np.copyto(copies, h), np.copyto(copies, h))
    t = interleaved(fns, 200, repeats)
    for norm in ("batch", "layer"):
        layer_t = t[norm] - t["copies"]
        lines.append(
            f"(c') norm={norm}: layer forward+backward {layer_t * 1e6:.0f} us, step without "
            f"norm {t['step'] * 1e6:.0f} us -> ratio at least {1 + layer_t / t['step']:.3f} "
            f"(floor <= {FLOORS['norm_c']})"
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args(argv)
    import os

    print(f"load average at start: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} CPUs")
    print(f"NumPy {np.__version__}: float64 tanh dispatched to {tanh_target()}")
    with _blas_limit(1):
        print(bound_b(args.repeats))
        for line in bound_c(args.repeats):
            print(line)
        print(bound_d(args.repeats))
    print(f"load average at end: {os.getloadavg()[0]:.1f} (1 min)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

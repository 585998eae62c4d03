"""Engine benchmark: nnexp (NumPy) vs the tutorial's per-sample loop vs PyTorch (CPU).

Usage: python benchmarks/bench_engine.py [--quick] [--no-torch]

Cases (seconds per epoch = median over the timed epochs/repeats; samples/s = n / that):
  (a) XOR 2-2-1 sigmoid, sigmoid+mse, per-sample SGD lr 0.1, 1000 epochs: the tutorial's
      literal scalar code (nnexp.nn.tutorial.TutorialNetwork) vs the engine running the same
      algorithm (batch size 1, no shuffle) and the engine with the full batch of 4.
  (b) moons (10,000 samples), 2-64-64-1 tanh, sigmoid+bce, batch 64, Adam 1e-3,
      float64 and float32, vs torch. The 20x floor compares samples/s of the engine
      (float64, batch 64, plain SGD) with a tutorial-style per-sample loop on the SAME
      2-64-64-1 network and optimiser: the tutorial's training loop (one sample at a time,
      feedforward keeping the sums, partial derivatives via deriv_f(sum), SGD update of every
      weight after every sample) written with one NumPy vector per layer instead of one
      Python variable per neuron (the literal scalar code would need 4,353 weight variables).
      The engine at batch size 1 is printed for information.
  (c) digits (sklearn, 1,797 samples), 64-128-10 relu, softmax+cross-entropy, batch 32,
      Adam 1e-3, float64, vs torch.
  (d) 60,000 random samples, 784-256-256-10 relu, softmax+cross-entropy, batch 128,
      Adam 1e-3, float32 and float64, vs torch. Float32 single-threaded is also compared
      with the machine's single-thread SGEMM rate (a 1024x1024x1024 float32 matmul timed in
      the same run): the network's FLOPs per epoch (forward, dW of every layer, dX of all but
      the first: 2 n (3 sum(d_in d_out) - 784 * 256)) / epoch time / SGEMM rate.
  (c') (c) with model.norm=batch and model.norm=layer (Linear -> Norm -> ReLU): epoch time
      over the same network without normalisation, epochs interleaved, single-threaded.

Both frameworks run the same loop: per epoch one shuffle (the same NumPy permutation and
gather, shared zero-copy with torch), then per batch forward, loss (as a Python float:
`loss.item()` for torch), backward, Adam step (torch's default implementation for CPU).
Epochs of nnexp and torch are interleaved so background load hits both alike.

Threads: every comparison runs two matched settings, epochs interleaved: (1) NumPy's
default BLAS threads (OpenBLAS: one per core) with `torch.set_num_threads` set to the same
number, and (2) both single-threaded (NumPy via threadpoolctl, benchmark only; the engine
never touches threads). The ratio divides nnexp's fastest setting by torch's fastest, so
neither side is judged at a setting that happens to be pathological on this machine
(multi-threaded BLAS/OpenMP on a small net or a busy 2-core VM can be several times slower
than one thread). NumPy's element-wise ops are always single-threaded.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

try:
    import nnexp.nn  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnexp.nn import MLP, TutorialNetwork, make_optimizer
from nnexp.nn.tutorial import XOR_X, XOR_Y

FLOORS = {
    "b": 0.5,
    "c": 0.5,
    # (d) float32 at the machine's threads: nnexp's time <= PyTorch's / 0.9
    "d32": 1 / 0.9,
    "speedup_b": 30.0,
    # (d) float32 single-threaded: network FLOP rate / single-thread SGEMM rate, same run
    "sgemm_d32": 0.65,
    # (c) with model.norm=batch|layer: epoch time / the same network without normalisation
    "norm_c": 1.15,
}


def blas_threads() -> tuple[int, str]:
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            if info.get("user_api") == "blas":
                return int(info["num_threads"]), str(info.get("internal_api"))
    except Exception:  # threadpoolctl missing or failing: assume one thread per core
        pass
    return os.cpu_count() or 1, "unknown"


# -- nnexp / torch epoch runners --------------------------------------------------------------
def nnexp_runner(
    sizes, activation, output, X, y, batch, dtype, seed=0, optimizer="adam", norm="none"
):
    rng = np.random.default_rng(seed)
    model = MLP(
        sizes,
        activation=activation,
        output=output,
        dtype=dtype,
        rng=rng,
        init="xavier_uniform" if activation == "tanh" else "he_uniform",
        norm=norm,
    )
    opt = make_optimizer(optimizer, model.params, lr=1e-3)
    X = np.ascontiguousarray(X, dtype=dtype)
    y = y.astype(dtype) if output == "sigmoid" else y
    n = len(X)

    def epoch(max_batches=None):
        perm = rng.permutation(n)
        Xs, ys = X[perm], y[perm]
        total = 0.0
        for s in range(0, n if max_batches is None else min(n, max_batches * batch), batch):
            total += model.loss_and_grads(Xs[s : s + batch], ys[s : s + batch])
            opt.step(model.grads)
        return total

    return epoch


def torch_runner(torch, sizes, activation, output, X, y, batch, dtype, threads, seed=0):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Tanh() if activation == "tanh" else torch.nn.ReLU())
    net = torch.nn.Sequential(*layers).to(tdtype)
    loss_fn = torch.nn.BCEWithLogitsLoss() if output == "sigmoid" else torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    X = np.ascontiguousarray(X, dtype=dtype)
    y = y.astype(dtype).reshape(-1, 1) if output == "sigmoid" else y.astype(np.int64)
    n = len(X)

    def epoch(max_batches=None):
        torch.set_num_threads(threads)
        perm = rng.permutation(n)
        Xs, ys = torch.from_numpy(X[perm]), torch.from_numpy(y[perm])
        total = 0.0
        for s in range(0, n if max_batches is None else min(n, max_batches * batch), batch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(Xs[s : s + batch]), ys[s : s + batch])
            loss.backward()
            opt.step()
            total += loss.item()
        return total

    return epoch


def time_interleaved(runners: dict, epochs: int, warmup_batches: int | None = 20) -> dict:
    """Untimed warm-up (``warmup_batches`` batches; None: a whole epoch) for each runner, then
    ``epochs`` timed epochs, alternating runners; returns the median epoch time per runner."""
    for run in runners.values():
        run(warmup_batches)
    times = {k: [] for k in runners}
    for _ in range(epochs):
        for k, run in runners.items():
            t0 = time.perf_counter()
            run()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


# -- per-sample baselines ---------------------------------------------------------------------
def deriv_tanh(x):
    # Derivative of tanh, from the pre-activation, like the tutorial's deriv_sigmoid
    fx = np.tanh(x)
    return 1 - fx * fx


def per_sample_epoch(params, data, all_y_trues, learn_rate=1e-3):
    """The tutorial's training loop (one sample at a time: feedforward keeping the sums,
    partial derivatives via deriv_f(sum), SGD update of every weight) written with one
    vector per layer instead of one variable per neuron, on the 2-64-64-1 tanh network with
    a sigmoid output trained on BCE (dL/dsum_o1 = y_pred - y_true)."""
    W1, b1, W2, b2, W3, b3 = params
    for x, y_true in zip(data, all_y_trues, strict=True):
        # --- feedforward
        sum_h1 = x @ W1 + b1
        h1 = np.tanh(sum_h1)
        sum_h2 = h1 @ W2 + b2
        h2 = np.tanh(sum_h2)
        sum_o1 = h2 @ W3 + b3
        y_pred = 1 / (1 + np.exp(-sum_o1))
        # --- partial derivatives
        d_L_d_sum_o1 = y_pred - y_true
        d_L_d_W3 = np.outer(h2, d_L_d_sum_o1)
        d_L_d_sum_h2 = (W3 @ d_L_d_sum_o1) * deriv_tanh(sum_h2)
        d_L_d_W2 = np.outer(h1, d_L_d_sum_h2)
        d_L_d_sum_h1 = (W2 @ d_L_d_sum_h2) * deriv_tanh(sum_h1)
        d_L_d_W1 = np.outer(x, d_L_d_sum_h1)
        # --- update weights and biases
        W3 -= learn_rate * d_L_d_W3
        b3 -= learn_rate * d_L_d_sum_o1
        W2 -= learn_rate * d_L_d_W2
        b2 -= learn_rate * d_L_d_sum_h2
        W1 -= learn_rate * d_L_d_W1
        b1 -= learn_rate * d_L_d_sum_h1


def median_time(fn, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


# -- cases ------------------------------------------------------------------------------------
def case_a(ctx, quick):
    rows = ctx["rows"]
    epochs = 100 if quick else 1000
    repeats = 2 if quick else 5
    w0 = TutorialNetwork(np.random.default_rng(0)).weights()

    def tutorial():
        TutorialNetwork(weights=w0).train(XOR_X, XOR_Y, learn_rate=0.1, epochs=epochs, log_every=0)

    def engine(batch):
        model = MLP([2, 2, 1], activation="sigmoid", output="sigmoid", loss="mse", rng=0)
        model.set_params(TutorialNetwork(weights=w0).to_mlp_params())
        opt = make_optimizer("sgd", model.params, lr=0.1)
        for _ in range(epochs):
            for s in range(0, 4, batch):
                model.loss_and_grads(XOR_X[s : s + batch], XOR_Y[s : s + batch])
                opt.step(model.grads)

    t_tut = median_time(tutorial, repeats) / epochs
    t_b1 = median_time(lambda: engine(1), repeats) / epochs
    t_b4 = median_time(lambda: engine(4), repeats) / epochs
    rows.append(
        ("(a) XOR 2-2-1", "tutorial literal (scalar), per sample", t_tut, 4 / t_tut, None, None, "")
    )
    rows.append(
        ("(a) XOR 2-2-1", "nnexp, batch 1 (same algorithm)", t_b1, 4 / t_b1, None, None, "")
    )
    rows.append(("(a) XOR 2-2-1", "nnexp, batch 4 (full batch)", t_b4, 4 / t_b4, None, None, ""))


def _blas_limit(threads):
    """Context manager limiting NumPy's BLAS threads (benchmark only; the engine never does)."""
    try:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(threads, user_api="blas")
    except ImportError:
        return contextlib.nullcontext()


def _limited(run, threads):
    def epoch(max_batches=None):
        with _blas_limit(threads):
            return run(max_batches)

    return epoch


def compare(
    ctx,
    case,
    variant,
    sizes,
    activation,
    output,
    X,
    y,
    batch,
    dtype,
    epochs,
    floor,
    at_machine_threads=False,
):
    """nnexp vs torch on one configuration at each thread setting (matched pairs), epochs
    interleaved; the ratio compares each side's FASTEST setting (``at_machine_threads``: the
    floor is checked on the machine's thread count instead). Appends a row and a check."""
    runners = {}
    for k in ctx["threads"]:
        run = nnexp_runner(sizes, activation, output, X, y, batch, dtype)
        runners[f"nnexp{k}"] = run if k == ctx["threads"][0] else _limited(run, k)
        if ctx["torch"] is not None:
            runners[f"torch{k}"] = torch_runner(
                ctx["torch"], sizes, activation, output, X, y, batch, dtype, k
            )
    t = time_interleaved(runners, epochs)
    ours = {k[5:]: v for k, v in t.items() if k.startswith("nnexp")}
    theirs = {k[5:]: v for k, v in t.items() if k.startswith("torch")}
    t_ours = min(ours.values())
    t_theirs = min(theirs.values()) if theirs else None
    ratio = t_ours / t_theirs if t_theirs else None
    note = "  ".join(
        f"[{k} thr: {ours[k]:.4g} / {theirs[k]:.4g}]"
        if k in theirs
        else f"[{k} thr: {ours[k]:.4g}]"
        for k in ours
    )
    ctx["rows"].append((case, variant, t_ours, len(X) / t_ours, t_theirs, ratio, note))
    if "1" in ours:
        ctx["single_thread"][f"{case} {variant}"] = ours["1"]
    machine = str(ctx["threads"][0])
    if at_machine_threads and machine in theirs:
        ratio = ours[machine] / theirs[machine]
        variant += f" at {machine} threads"
    if floor is not None and ratio is not None:
        ctx["checks"].append((f"{case} {variant}: nnexp/torch", ratio, floor, ratio <= floor))
    return ours[machine]


def case_b(ctx, quick):
    from sklearn.datasets import make_moons

    n = 10_000
    X, y = make_moons(n, noise=0.2, random_state=0)
    epochs = 2 if quick else 10
    sizes = [2, 64, 64, 1]
    case = "(b) moons 2-64-64-1"
    t64 = compare(
        ctx,
        case,
        "float64, batch 64, Adam",
        sizes,
        "tanh",
        "sigmoid",
        X,
        y,
        64,
        np.float64,
        epochs,
        FLOORS["b"],
    )
    compare(
        ctx,
        case,
        "float32, batch 64, Adam",
        sizes,
        "tanh",
        "sigmoid",
        X,
        y,
        64,
        np.float32,
        epochs,
        FLOORS["b"],
    )
    # 20x floor: engine vs the tutorial-style per-sample loop, same network, same optimiser
    # (plain SGD, lr 1e-3), float64; epochs interleaved. The per-sample loops run on a subset
    # and are scaled to the full epoch.
    n_ps = 1000 if quick else 2500
    params = [p.copy() for p in MLP(sizes, activation="tanh", output="sigmoid", rng=0).params]
    Xp, yp = X[:n_ps], y[:n_ps].astype(np.float64)
    # Like the torch comparisons, each side at its fastest of the two thread settings.
    runners = {}
    for k in ctx["threads"]:
        run = nnexp_runner(sizes, "tanh", "sigmoid", X, y, 64, np.float64, optimizer="sgd")
        runners[f"sgd64_{k}"] = run if k == ctx["threads"][0] else _limited(run, k)

        def ps(_max_batches=None, _k=k):
            with _blas_limit(_k):
                per_sample_epoch(params, Xp, yp)

        runners[f"per_sample_{k}"] = ps
    runners["engine_b1"] = nnexp_runner(
        sizes, "tanh", "sigmoid", Xp, yp, 1, np.float64, optimizer="sgd"
    )
    t = time_interleaved(runners, 2 if quick else 5)
    t_ps = min(v for k, v in t.items() if k.startswith("per_sample")) * n / n_ps
    t_sgd = min(v for k, v in t.items() if k.startswith("sgd64"))
    t_e1 = t["engine_b1"] * n / n_ps
    for variant, sec in (
        ("float64, batch 64, SGD", t_sgd),
        ("tutorial-style per-sample loop, SGD", t_ps),
        ("float64, batch 1, SGD", t_e1),
    ):
        ctx["rows"].append((case, variant, sec, n / sec, None, None, ""))
    speedup = t_ps / t_sgd
    ctx["checks"].append(
        (
            "(b) samples/s nnexp (batch 64, SGD, float64) / per-sample loop",
            speedup,
            FLOORS["speedup_b"],
            speedup >= FLOORS["speedup_b"],
        )
    )
    ctx["info"].append(
        f"(b) nnexp Adam float64 batch 64 vs the SGD per-sample loop: "
        f"{t_ps / t64:.1f}x samples/s; nnexp batch 1 vs the per-sample loop: "
        f"{t_ps / t_e1:.2f}x"
    )


def case_c(ctx, quick):
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    compare(
        ctx,
        "(c) digits 64-128-10",
        "float64, batch 32, Adam",
        [64, 128, 10],
        "relu",
        "softmax",
        X,
        y,
        32,
        np.float64,
        3 if quick else 20,
        FLOORS["c"],
    )


def case_c_norm(ctx, quick):
    """(c') digits with BatchNorm / LayerNorm vs without, single-threaded, interleaved."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    sizes = [64, 128, 10]
    runners = {
        norm: _limited(nnexp_runner(sizes, "relu", "softmax", X, y, 32, np.float64, norm=norm), 1)
        for norm in ("none", "batch", "layer")
    }
    t = time_interleaved(runners, 5 if quick else 30)
    case = "(c') digits 64-128-10"
    for norm, sec in t.items():
        ctx["rows"].append(
            (
                case,
                f"float64, batch 32, Adam, norm={norm}",
                sec,
                len(X) / sec,
                None,
                None,
                "[1 thr]",
            )
        )
    for norm in ("batch", "layer"):
        ratio = t[norm] / t["none"]
        ctx["checks"].append(
            (
                f"(c') norm={norm} epoch time / no norm",
                ratio,
                FLOORS["norm_c"],
                ratio <= FLOORS["norm_c"],
            )
        )


def sgemm_rate(repeats=5) -> float:
    """Single-thread float32 GEMM rate (FLOP/s) of this machine's NumPy BLAS, 1024^3."""
    a = np.random.default_rng(0).standard_normal((1024, 1024)).astype(np.float32)
    out = np.empty_like(a)
    with _blas_limit(1):
        np.matmul(a, a, out=out)
        best = min(median_time(lambda: np.matmul(a, a, out=out), 1) for _ in range(repeats))
    return 2 * 1024**3 / best


def case_d(ctx, quick):
    n = 12_800 if quick else 60_000
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 784))
    y = rng.integers(0, 10, n)
    sizes = [784, 256, 256, 10]
    t32 = compare(
        ctx,
        "(d) 784-256-256-10",
        "float32, batch 128, Adam",
        sizes,
        "relu",
        "softmax",
        X,
        y,
        128,
        np.float32,
        1 if quick else 5,
        FLOORS["d32"],
        at_machine_threads=True,
    )
    # single-threaded nnexp against the single-thread SGEMM rate, measured around it
    flops = 2 * n * (3 * sum(a * b for a, b in itertools.pairwise(sizes)) - 784 * 256)
    rates = [sgemm_rate()]
    single = ctx["single_thread"].get("(d) 784-256-256-10 float32, batch 128, Adam", t32)
    rates.append(sgemm_rate())
    rate = statistics.median(rates)
    efficiency = flops / single / rate
    ctx["checks"].append(
        (
            f"(d) float32 1 thread: {flops / single / 1e9:.1f} GFLOP/s / SGEMM "
            f"{rate / 1e9:.1f} GFLOP/s",
            efficiency,
            FLOORS["sgemm_d32"],
            efficiency >= FLOORS["sgemm_d32"],
        )
    )
    compare(
        ctx,
        "(d) 784-256-256-10",
        "float64, batch 128, Adam",
        sizes,
        "relu",
        "softmax",
        X,
        y,
        128,
        np.float64,
        1 if quick else 3,
        None,
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few epochs / smaller data (smoke test)")
    ap.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when redirected to a file

    threads, blas = blas_threads()
    torch = None
    if not args.no_torch:
        try:
            import torch as _torch

            _torch.set_num_threads(threads)
            torch = _torch
        except ImportError:
            print("torch not importable: skipping the PyTorch comparison")
    print(f"load average at start: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} CPUs")
    print(
        f"python {platform.python_version()}, numpy {np.__version__} ({blas} BLAS, {threads} "
        f"threads), torch {torch.__version__ + f' ({torch.get_num_threads()} threads)' if torch else 'n/a'}, "
        f"{os.cpu_count()} CPUs{', QUICK mode' if args.quick else ''}"
    )

    # Matched thread settings: NumPy's default BLAS threads with torch.set_num_threads(same),
    # and both single-threaded (multi-threaded BLAS/OpenMP can be far slower than one thread
    # for small nets or on a busy machine). Ratios compare each side's fastest setting.
    ctx = {
        "rows": [],
        "checks": [],
        "info": [],
        "torch": torch,
        "threads": sorted({threads, 1}, reverse=True),
        "single_thread": {},
    }
    t0 = time.perf_counter()
    case_a(ctx, args.quick)
    case_b(ctx, args.quick)
    case_c(ctx, args.quick)
    case_c_norm(ctx, args.quick)
    case_d(ctx, args.quick)

    print()
    header = (
        f"{'case':21} {'nnexp variant':36} {'s/epoch':>9} {'samples/s':>10} "
        f"{'torch s/ep':>10} {'ratio':>6}  s/epoch by threads [nnexp / torch]"
    )
    print(header)
    print("-" * len(header))
    for case, variant, sec, sps, tsec, ratio, note in ctx["rows"]:
        tcol = f"{tsec:10.4g}" if tsec is not None else f"{'':10}"
        rcol = f"{ratio:6.3f}" if ratio is not None else f"{'':6}"
        print(f"{case:21} {variant:36} {sec:9.4g} {sps:10,.0f} {tcol} {rcol}  {note}")
    print()
    ok = True
    for name, value, floor, passed in ctx["checks"]:
        op = ">=" if "per-sample" in name or "SGEMM" in name else "<="
        print(f"{'PASS' if passed else 'FAIL'}  {name} = {value:.3f}  (floor {op} {floor})")
        ok &= passed
    for line in ctx["info"]:
        print(line)
    if torch is None:
        print("(torch ratios not measured)")
    print(f"load average at end: {os.getloadavg()[0]:.1f} (1 min)")
    print(f"\ntotal {time.perf_counter() - t0:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Where to put gradient_check's pass/fail threshold: measured errors of correct and broken code.

Usage: python benchmarks/gradcheck_errors.py [--seeds N]

Correct code: every activation x every (output, loss) pair x norm none/batch/layer, on small
random float64 networks and batches (eps 1e-6). Broken code: the same networks with one
deliberate backprop bug each (dW scaled by 1.001, a bias gradient dropped, the activation
derivative off by 1%, the head's gradient with a flipped sign on one row). Prints the largest
error of the correct code and the smallest of the broken code; nnexp.nn.gradcheck.THRESHOLD
must sit between them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

try:
    import nnexp.nn  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnexp.nn import ACTIVATIONS, MLP, THRESHOLD, VALID_PAIRS, gradient_check
from nnexp.nn.layers import Dense

KINKED = {"relu", "leaky_relu"}


def _case(rng, activation, output, loss, norm):
    k = 3 if output == "softmax" else 2
    model = MLP(
        [3, 5, 4, k],
        activation=activation,
        output=output,
        loss=loss,
        norm=norm,
        rng=int(rng.integers(1 << 30)),
    )
    X = rng.normal(size=(6, 3))
    if output == "softmax":
        y = rng.integers(0, k, 6)
    elif output == "sigmoid":
        y = rng.integers(0, 2, (6, k)).astype(float)
    else:
        y = rng.normal(size=(6, k))
    return model, X, y


def _bugs():
    real_backward = Dense.backward

    def scaled_dw(self, grad):
        out = real_backward(self, grad)
        self.dW *= 1.001
        return out

    def no_bias(self, grad):
        out = real_backward(self, grad)
        self.db[...] = 0.0
        return out

    return {"dW * 1.001": scaled_dw, "db dropped": no_bias}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    worst, worst_case = 0.0, None
    for activation in ACTIVATIONS:
        if activation in KINKED:
            continue  # kinks: finite differences across the kink are not a backprop error
        for output, loss in VALID_PAIRS:
            for norm in ("none", "batch", "layer"):
                for _ in range(args.seeds):
                    model, X, y = _case(rng, activation, output, loss, norm)
                    err = gradient_check(model, X, y).max_error
                    if err > worst:
                        worst, worst_case = err, (activation, output, loss, norm)
    print(f"correct code: largest error {worst:.3g} ({', '.join(worst_case)})")
    smallest = np.inf
    for name, bug in _bugs().items():
        real = Dense.backward
        Dense.backward = bug
        try:
            errs = []
            for output, loss in VALID_PAIRS:
                model, X, y = _case(rng, "tanh", output, loss, "none")
                errs.append(gradient_check(model, X, y).max_error)
        finally:
            Dense.backward = real
        print(f"bug {name!r}: smallest error {min(errs):.3g}")
        smallest = min(smallest, min(errs))
    ok = worst < THRESHOLD < smallest
    print(f"THRESHOLD {THRESHOLD:g}: {'between them' if ok else 'NOT between them'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

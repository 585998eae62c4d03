"""Output heads: output activation + loss, fused where it matters for stability.

A head maps the last layer's logits ``z`` (n, k) to

* ``output(z)``: the activated output (probabilities / values), a new (n, k) array;
* ``loss(z, y)``: the mean loss as a Python float;
* ``loss_and_grad(z, y)``: ``(loss, dL/dz)``; with ``out=z`` the gradient overwrites ``z``.

Why fused: computing ``softmax`` then ``log`` overflows/underflows for logits of +-1e3 and
loses all precision for confident predictions; working on logits with log-sum-exp (softmax +
cross-entropy) and ``max(z, 0) - z y + log1p(exp(-|z|))`` (BCE with logits) gives finite,
exact losses and gradients for any finite logit, and the gradient collapses to the simple
``(p - y) / n``.

Valid (output, loss) pairs: ``VALID_PAIRS``. ``mse`` works on any output (generic
composition with the output's Jacobian), ``bce`` needs ``sigmoid`` and ``cross_entropy``
needs ``softmax``. ``DEFAULT_LOSS`` gives the natural loss per output.

Targets: ``softmax`` heads take integer labels (n,) in ``[0, k)``; ``sigmoid`` and
``identity`` take (n, k) floats, or (n,) when k == 1.

Options as torch's losses: ``label_smoothing`` (softmax + cross-entropy only:
``CrossEntropyLoss(label_smoothing=...)``) and ``class_weight`` (softmax + cross-entropy:
``CrossEntropyLoss(weight=w)``, the mean divided by the sum of the targets' weights; sigmoid +
bce with one unit: ``BCEWithLogitsLoss(weight=w[y])``, per-sample weights ``w[0]`` for label 0
and ``w[1]`` for label 1, the mean over the n samples as torch takes it).
"""

from __future__ import annotations

import numpy as np

from . import _validate as V
from .activations import sigmoid
from .losses import MSELoss

OUTPUTS = ("softmax", "sigmoid", "identity")
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "bce", "identity": "mse"}
VALID_PAIRS = (
    ("softmax", "cross_entropy"),
    ("sigmoid", "bce"),
    ("identity", "mse"),
    ("sigmoid", "mse"),
    ("softmax", "mse"),
)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row max so ``exp`` never overflows."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


class Head:
    """Base class; ``k`` is the number of outputs (width of the last layer)."""

    output_name = ""
    loss_name = ""
    classification = False

    def __init__(self, k: int) -> None:
        self.k = k
        self._n = -1
        self.label_smoothing = 0.0
        self.class_weight: np.ndarray | None = None

    # -- targets -------------------------------------------------------------------------
    def targets(self, y, n: int, dtype: np.dtype) -> np.ndarray:
        """Validate ``y`` for a batch of ``n`` and cast it (once, at the boundary)."""
        y = np.asarray(y)
        if y.dtype.kind not in "fiub":
            raise ValueError(f"targets must be numeric, got dtype {y.dtype}")
        given = y.shape
        if y.ndim == 1 and self.k == 1:
            y = y.reshape(-1, 1)
        if y.shape != (n, self.k):
            raise ValueError(
                f"targets for output {self.output_name!r} with {self.k} unit(s) "
                f"must have shape ({n}, {self.k})"
                f"{f' or ({n},)' if self.k == 1 else ''}, got {given}"
            )
        return y.astype(dtype, copy=False)

    def _labels(self, y, n: int) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (n,):
            raise ValueError(
                f"targets for output 'softmax' must be integer labels of shape "
                f"({n},), got shape {y.shape}"
            )
        if y.dtype.kind == "f":
            if not np.array_equal(y, np.floor(y)):
                raise ValueError(
                    "targets for output 'softmax' must be integer class labels, "
                    f"got non-integer floats (e.g. {y[y != np.floor(y)][0]!r})"
                )
        elif y.dtype.kind not in "iu":
            raise ValueError(
                f"targets for output 'softmax' must be integer labels, got dtype {y.dtype}"
            )
        y = y.astype(np.intp, copy=False)
        # one reduction catches both y < 0 (huge as unsigned) and y >= k
        if y.size and y.view(np.uintp).max() >= self.k:
            bad = y[(y < 0) | (y >= self.k)][0]
            raise ValueError(
                f"class label {bad} out of range [0, {self.k}) for a softmax "
                f"output with {self.k} units"
            )
        return y

    def _rows(self, n: int) -> np.ndarray:
        if n != self._n:
            self._n = n
            self._arange = np.arange(n)
        return self._arange

    # -- interface -----------------------------------------------------------------------
    def output(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def loss(self, z: np.ndarray, y: np.ndarray) -> float:
        return self.loss_and_grad(z, y, out=None, need_grad=False)[0]

    def loss_and_grad(self, z, y, out=None, need_grad=True):
        """Return ``(mean loss, dL/dz)``; ``out`` may be ``z`` itself (then z is overwritten)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.k})"


class SoftmaxCrossEntropy(Head):
    """Softmax + cross-entropy on integer labels via log-sum-exp.

    ``L = mean_i(logsumexp(z_i) - z_i[y_i])``, ``dL/dz = (softmax(z) - onehot(y)) / n``.
    """

    output_name, loss_name, classification = "softmax", "cross_entropy", True

    def targets(self, y, n, dtype):
        return self._labels(y, n)

    def output(self, z):
        return softmax(z)

    def loss_and_grad(self, z, y, out=None, need_grad=True):
        if self.label_smoothing or self.class_weight is not None:
            return self._weighted(z, y, out, need_grad)
        n, k = z.shape
        r = self._rows(n)
        s = np.subtract(z, z.max(axis=1, keepdims=True), out=out)  # s <= 0: exp can't overflow
        picked = s[r, y]
        e = np.exp(s, out=s)
        se = np.dot(e, np.ones(k, e.dtype))  # row sums via BLAS (>= 1 after the shift)
        lse = np.log(se)
        loss = (float(lse.sum()) - float(picked.sum())) / n
        if not need_grad:
            return loss, None
        se *= n  # fold the 1/n of the mean into the normaliser
        se = se.reshape(n, 1)
        g = np.divide(e, se, out=e)
        g[r, y] -= 1.0 / n
        return loss, g

    def _weighted(self, z, y, out, need_grad):
        """torch's ``cross_entropy(z, y, weight=w, label_smoothing=eps)`` (mean reduction):
        ``L = [(1 - eps) sum_i w[y_i] nll_i + eps / k sum_i sum_c w_c (lse_i - s_ic)] / S``
        with ``S = sum_i w[y_i]``, ``s`` the shifted logits (n, k), ``lse`` (n,);
        ``dL/dz_i = [(1 - eps) w[y_i] (p_i - e_{y_i}) + eps / k (W p_i - w)] / S``, W = sum w."""
        n, k = z.shape
        r = self._rows(n)
        eps = self.label_smoothing
        w = self.class_weight if self.class_weight is not None else np.ones(k, z.dtype)
        wy = w[y]  # (n,)
        S = float(wy.sum())
        W = float(w.sum())
        s = np.subtract(z, z.max(axis=1, keepdims=True), out=out)
        smooth = W * 0.0
        if eps:
            smooth = np.dot(s, w.astype(s.dtype, copy=False))  # sum_c w_c s_ic  (n,)
        picked = s[r, y]
        e = np.exp(s, out=s)
        se = np.dot(e, np.ones(k, e.dtype))
        lse = np.log(se)
        nll = float(np.dot(wy, lse - picked)) / S
        loss = (1.0 - eps) * nll
        if eps:
            loss += eps / k * (W * float(lse.sum()) - float(smooth.sum())) / S
        if not need_grad:
            return loss, None
        p = np.divide(e, se.reshape(n, 1), out=e)
        c = ((1.0 - eps) * wy + eps / k * W) / S
        p *= c.reshape(n, 1).astype(p.dtype, copy=False)
        p[r, y] -= ((1.0 - eps) / S) * wy
        if eps:
            p -= (eps / k / S) * w
        return loss, p


class SigmoidBCE(Head):
    """Sigmoid + binary cross-entropy with logits (PyTorch's ``BCEWithLogitsLoss``).

    ``L = mean(l)`` over all n*k elements with ``l = max(z, 0) - z y + log1p(exp(-|z|))``
    elementwise, ``dL/dz = (sigmoid(z) - y) / (n k)`` with
    ``sigmoid(z) = exp(min(z, 0) - log1p(exp(-|z|)))``. Exact for any finite logit: a
    confident correct prediction (z = 40, y = 1) gives ``log1p(exp(-40))`` = 4.25e-18, not 0
    (``softplus(z) - z y`` computed as two large terms would cancel to 0). With
    ``class_weight`` (k == 1): ``l_i *= w[y_i]`` and the gradient likewise, mean over n.
    """

    output_name, loss_name, classification = "sigmoid", "bce", True

    def output(self, z):
        return sigmoid(z)

    def loss_and_grad(self, z, y, out=None, need_grad=True):
        N = z.size
        a = np.copysign(z, -1.0)  # -|z| in one call (bit for bit -(|z|), NaN and -0 included)
        l1p = np.logaddexp(0.0, a, out=a)  # NumPy computes it as log1p(exp(-|z|)) (n, k)
        m = np.maximum(z, 0.0)
        t = np.multiply(z, y)
        m -= t  # max(z, 0) - z y, exact for 0/1 targets
        w = None
        if self.class_weight is not None:
            w0, w1 = (float(v) for v in self.class_weight)
            w = np.multiply(y, w1 - w0, out=t)
            w += w0  # w[y] for 0/1 labels (n, 1)
            loss = (float(np.vdot(m, w)) + float(np.vdot(l1p, w))) / N
        else:
            loss = (float(np.add.reduce(m, axis=None)) + float(np.add.reduce(l1p, axis=None))) / N
        if not need_grad:
            return loss, None
        p = np.minimum(z, 0.0, out=m)
        p -= l1p
        np.exp(p, out=p)  # sigmoid(z), no cancellation for either sign
        g = np.subtract(p, y, out=out if out is not None else p)
        if w is not None:
            g *= w
        g *= 1.0 / N
        return loss, g


class IdentityMSE(Head):
    """Identity output + mean squared error over n*k elements.

    ``L = mean((z - y)^2)``, ``dL/dz = 2 (z - y) / (n k)`` (for one sample and one output:
    the tutorial's ``-2 (y - y_pred)``).
    """

    output_name, loss_name = "identity", "mse"

    def output(self, z):
        return z.copy()

    def loss_and_grad(self, z, y, out=None, need_grad=True):
        N = z.size
        d = np.subtract(z, y, out=out)
        df = d.reshape(-1)
        loss = float(np.dot(df, df)) / N
        if not need_grad:
            return loss, None
        d *= 2.0 / N
        return loss, d


class _SoftmaxOutput:
    """Softmax as an op with its Jacobian-vector product: ``dz = a * (g - sum(g * a))``."""

    def forward(self, z):
        self._a = a = softmax(z)
        return a

    def backward(self, g):
        a = self._a
        return a * (g - (g * a).sum(axis=1, keepdims=True))


class _SigmoidOutput:
    def forward(self, z):
        self._a = a = sigmoid(z)
        return a

    def backward(self, g):
        a = self._a
        t = np.subtract(1.0, a)
        t *= a
        return g * t  # g * a (1 - a), the tutorial's d_L_d_ypred * deriv_sigmoid(sum_o1)


class MSEHead(Head):
    """Generic composition ``mse(f(z), y)`` for a non-identity output ``f`` (sigmoid or
    softmax): ``dL/dz = J_f(z)^T (2 (f(z) - y) / (n k))``.

    ``sigmoid`` + ``mse`` is the tutorial's 2-2-1 network; ``softmax`` + ``mse`` takes integer
    labels and regresses the one-hot vector.
    """

    loss_name = "mse"

    def __init__(self, k: int, output: str) -> None:
        super().__init__(k)
        self.output_name = output
        self.classification = True
        self._act = _SigmoidOutput() if output == "sigmoid" else _SoftmaxOutput()
        self._mse = MSELoss()

    def targets(self, y, n, dtype):
        if self.output_name != "softmax":
            return super().targets(y, n, dtype)
        labels = self._labels(y, n)
        onehot = np.zeros((n, self.k), dtype)
        onehot[np.arange(n), labels] = 1.0
        return onehot

    def output(self, z):
        return sigmoid(z) if self.output_name == "sigmoid" else softmax(z)

    def loss_and_grad(self, z, y, out=None, need_grad=True):
        a = self._act.forward(z)
        loss = self._mse.forward(a, y)
        if not need_grad:
            return loss, None
        return loss, self._act.backward(self._mse.backward())


_FUSED = {
    ("softmax", "cross_entropy"): SoftmaxCrossEntropy,
    ("sigmoid", "bce"): SigmoidBCE,
    ("identity", "mse"): IdentityMSE,
}


def make_head(
    output: str,
    loss: str | None,
    k: int,
    *,
    label_smoothing: float = 0.0,
    class_weight=None,
) -> Head:
    """Build the head for ``output`` (one of ``OUTPUTS``) and ``loss`` (None: the default).

    ``label_smoothing`` in [0, 1] (softmax + cross_entropy only) and ``class_weight``, k
    positive numbers (softmax + cross_entropy) or 2 (sigmoid + bce with one unit): see the
    module docstring."""
    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r}; valid: {', '.join(OUTPUTS)}")
    if loss is None:
        loss = DEFAULT_LOSS[output]
    if loss not in DEFAULT_LOSS.values():
        raise ValueError(
            f"unknown loss {loss!r}; valid: {', '.join(sorted(set(DEFAULT_LOSS.values())))}"
        )
    if (output, loss) not in VALID_PAIRS:
        pairs = ", ".join(f"{o}+{lo}" for o, lo in VALID_PAIRS)
        raise ValueError(f"loss {loss!r} does not fit output {output!r}; valid pairs: {pairs}")
    k = V.integer("number of outputs", k, low=1)
    if output == "softmax" and k < 2:
        raise ValueError(
            f"a softmax output needs >= 2 units, got {k} (use output='sigmoid' "
            "for binary classification)"
        )
    head = _FUSED[(output, loss)](k) if (output, loss) in _FUSED else MSEHead(k, output)
    smoothing = V.number("label_smoothing", label_smoothing, low=0.0, high=1.0)
    if smoothing and (output, loss) != ("softmax", "cross_entropy"):
        raise ValueError(
            f"label_smoothing applies to softmax + cross_entropy only, got {output} + {loss}"
        )
    head.label_smoothing = smoothing
    if class_weight is not None:
        head.class_weight = _class_weight(class_weight, output, loss, k)
    return head


def _class_weight(weights, output: str, loss: str, k: int) -> np.ndarray:
    if (output, loss) == ("softmax", "cross_entropy"):
        n = k
    elif (output, loss) == ("sigmoid", "bce") and k == 1:
        n = 2
    else:
        raise ValueError(
            "class weights apply to softmax + cross_entropy and to sigmoid + bce with one "
            f"output unit, got {output} + {loss} with {k} unit(s)"
        )
    valid = (
        f"class_weight must be None or a list of {n} positive numbers (one per class, "
        f"label i's weight at position i)"
    )
    if isinstance(weights, str | bytes):
        hint = (
            " ('balanced' needs the training labels: compute n / (k * count_c) per class, "
            "or set data.class_weight=balanced in a run config)"
            if weights == "balanced"
            else ""
        )
        raise ValueError(f"{valid}, got {weights!r}{hint}")
    if isinstance(weights, dict) or not isinstance(weights, list | tuple | np.ndarray):
        raise ValueError(f"{valid}, got {type(weights).__name__} {weights!r}")
    if any(isinstance(v, bool | np.bool_) for v in np.ravel(np.asarray(weights, dtype=object))):
        raise ValueError(f"{valid}, got {weights!r}")
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{valid}, got {weights!r}") from None
    if w.shape != (n,) or not np.all(np.isfinite(w)) or not np.all(w > 0):
        raise ValueError(
            f"class weights must be {n} positive numbers (one per class), got {weights!r}"
        )
    return w

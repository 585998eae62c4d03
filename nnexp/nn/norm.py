"""Normalisation layers with torch semantics: ``BatchNorm`` (``torch.nn.BatchNorm1d``) and
``LayerNorm`` (``torch.nn.LayerNorm`` over the feature axis, elementwise affine).

The MLP places them as Linear -> Norm -> activation on every hidden layer. Both hold an affine
``gamma`` (d,) (torch's ``weight``, initialised to 1) and ``beta`` (d,) (torch's ``bias``,
initialised to 0); the MLP passes views into its flat parameter/gradient buffers so the
optimisers update them with everything else.

BatchNorm, training: statistics of the batch (mean, *biased* variance over the n rows); the
running statistics move as torch's ``running = (1 - momentum) running + momentum batch``, with
the *unbiased* variance (n / (n - 1)). Evaluation uses the running statistics (mean 0, var 1 at
first). A training batch of one row is refused, as torch refuses it. ``track = False`` freezes
the running statistics (the gradient check uses it: its loss must be a function of the weights
only).

LayerNorm normalises each row over its d features (biased variance); train and eval are the
same function and it keeps no running statistics.

Speed: forward keeps only the centred input ``xc`` (n, d) and ``inv = 1 / sqrt(var + eps)``;
the backward formula is rearranged so every (n, d) pass is one NumPy call into buffers reused
across batches of equal size, and the row/column sums are BLAS matrix-vector products.
"""

from __future__ import annotations

import numpy as np

from . import _validate as V
from .layer import Layer

NORMS = ("none", "batch", "layer")
#: torch's defaults (BatchNorm1d and LayerNorm)
DEFAULT_EPS = 1e-5
DEFAULT_MOMENTUM = 0.1


class _Norm(Layer):
    """Shared set-up: ``gamma``/``beta`` (d,) and their gradients, possibly views."""

    def __init__(self, d, eps, dtype, gamma, beta, dgamma, dbeta) -> None:
        super().__init__()
        d = V.integer("features", d, low=1)
        self.eps = V.number("eps", eps, low=0.0, low_open=True)
        dt = V.dtype(dtype)
        self.gamma = np.ones(d, dt) if gamma is None else gamma
        self.beta = np.zeros(d, dt) if beta is None else beta
        self.dgamma = np.zeros(d, dt) if dgamma is None else dgamma
        self.dbeta = np.zeros(d, dt) if dbeta is None else dbeta
        for name, arr in (
            ("gamma", self.gamma),
            ("beta", self.beta),
            ("dgamma", self.dgamma),
            ("dbeta", self.dbeta),
        ):
            if arr.shape != (d,):
                raise ValueError(f"{type(self).__name__} {name} must have shape ({d},)")
        self.params = (self.gamma, self.beta)
        self.grads = (self.dgamma, self.dbeta)
        self.d = d
        self._n = -1

    _cache_keys = ("_xc", "_inv", "_scale")

    def _buffers(self, n: int) -> None:
        dt = self.gamma.dtype
        self._n = n
        self._xc_buf = np.empty((n, self.d), dt)
        self._y_buf = np.empty((n, self.d), dt)
        self._t_buf = np.empty((n, self.d), dt)
        self._avg_n = np.full(n, 1.0 / n, dt)  # mean over rows as one BLAS dot
        self._avg_d = np.full(self.d, 1.0 / self.d, dt)  # mean over features
        self._ones_n = np.ones(n, dt)
        self._batch_stats = np.empty((2, self.d), dt)  # batch mean, biased variance
        m = getattr(self, "momentum", 0.0)
        self._stat_weights = np.array([[m], [m * n / max(n - 1, 1)]], dt)


class BatchNorm(_Norm):
    """``torch.nn.BatchNorm1d(d, eps, momentum)`` on (n, d) inputs.

    Training: ``y = (x - mean) / sqrt(var + eps) * gamma + beta`` with the batch's mean and
    biased variance over the n rows (each (d,)). Backward (``g`` = dL/dy (n, d)):
    ``dbeta = sum_n g``, ``dgamma = sum_n g * xhat``,
    ``dx = gamma * inv * (g - dbeta / n - xc * inv^2 * sum_n(g * xc) / n)``.
    Buffers: ``running_mean`` (d,), ``running_var`` (d,).
    """

    def __init__(
        self,
        d: int,
        *,
        eps: float = DEFAULT_EPS,
        momentum: float = DEFAULT_MOMENTUM,
        dtype=np.float64,
        gamma: np.ndarray | None = None,
        beta: np.ndarray | None = None,
        dgamma: np.ndarray | None = None,
        dbeta: np.ndarray | None = None,
    ) -> None:
        super().__init__(d, eps, dtype, gamma, beta, dgamma, dbeta)
        self.momentum = V.number("momentum", momentum, low=0.0, high=1.0)
        # one (2, d) array: row 0 running_mean, row 1 running_var, updated by 3 NumPy calls
        self._stats = np.zeros((2, d), self.gamma.dtype)
        self._stats[1] = 1.0
        self.running_mean, self.running_var = self._stats[0], self._stats[1]
        self.buffers = (self.running_mean, self.running_var)
        self.track = True

    def forward(self, x, training=False, rng=None):
        n = x.shape[0]
        if not training:
            inv = np.add(self.running_var, self.eps)
            np.sqrt(inv, out=inv)
            np.divide(self.gamma, inv, out=inv)  # gamma / sqrt(var + eps)
            y = np.subtract(x, self.running_mean)
            y *= inv
            y += self.beta
            return y
        if n < 2:
            raise ValueError(
                f"BatchNorm needs more than 1 sample per batch in training, got {n} "
                "(torch refuses it too): use a batch size whose last batch has >= 2 rows"
            )
        if n != self._n:
            self._buffers(n)
        avg, batch = self._avg_n, self._batch_stats
        mean = np.dot(avg, x, out=batch[0])  # (d,)
        xc = np.subtract(x, mean, out=self._xc_buf)
        t = np.multiply(xc, xc, out=self._t_buf)
        var = np.dot(avg, t, out=batch[1])  # biased variance (d,)
        if self.track:  # running = (1 - m) running + m [mean; var * n / (n - 1)]
            self._stats *= 1.0 - self.momentum
            self._stats += np.multiply(batch, self._stat_weights)
        inv = np.add(var, self.eps)
        np.sqrt(inv, out=inv)
        np.divide(1.0, inv, out=inv)
        scale = np.multiply(self.gamma, inv)
        self._xc, self._inv, self._scale = xc, inv, scale
        y = np.multiply(xc, scale, out=self._y_buf if self.inplace else None)
        y += self.beta
        return y

    def backward(self, grad):
        xc, inv = self._xc, self._inv
        n = grad.shape[0]
        ones = self._ones_n
        np.dot(ones, grad, out=self.dbeta)
        t = np.multiply(grad, xc, out=self._t_buf if self.inplace else None)
        s = np.dot(ones, t)  # sum_n g * xc  (d,)
        np.multiply(s, inv, out=self.dgamma)
        c = self.dgamma * inv  # inv^2 * sum_n(g * xc)
        c *= 1.0 / n
        dx = np.multiply(xc, c, out=t)
        np.subtract(grad, dx, out=dx)
        dx -= self.dbeta * (1.0 / n)
        dx *= self._scale  # gamma * inv
        return dx

    def __repr__(self) -> str:
        return f"BatchNorm({self.d}, eps={self.eps}, momentum={self.momentum})"


class LayerNorm(_Norm):
    """``torch.nn.LayerNorm(d, eps)`` on (n, d) inputs: each row normalised over its features.

    ``y = (x - mean_row) / sqrt(var_row + eps) * gamma + beta`` (mean/var (n, 1), biased).
    Backward: ``dbeta = sum_n g``, ``dgamma = sum_n g * xhat`` and with ``h = g * gamma``,
    ``dx = inv * (h - mean_row(h) - xhat * mean_row(h * xhat))``.
    """

    def __init__(
        self,
        d: int,
        *,
        eps: float = DEFAULT_EPS,
        dtype=np.float64,
        gamma: np.ndarray | None = None,
        beta: np.ndarray | None = None,
        dgamma: np.ndarray | None = None,
        dbeta: np.ndarray | None = None,
    ) -> None:
        super().__init__(d, eps, dtype, gamma, beta, dgamma, dbeta)

    def forward(self, x, training=False, rng=None):
        n = x.shape[0]
        use_buf = training and self.inplace
        if use_buf and n != self._n:
            self._buffers(n)
        avg = self._avg_d if use_buf else np.full(self.d, 1.0 / self.d, x.dtype)
        mean = np.dot(x, avg)  # (n,)
        xc = np.subtract(x, mean.reshape(n, 1), out=self._xc_buf if use_buf else None)
        t = np.multiply(xc, xc, out=self._t_buf if use_buf else None)
        var = np.dot(t, avg)  # biased variance (n,)
        var += self.eps
        inv = np.sqrt(var, out=var)
        np.divide(1.0, inv, out=inv)
        inv = inv.reshape(n, 1)
        xhat = np.multiply(xc, inv, out=xc)
        if training:
            self._xc, self._inv = xhat, inv  # LayerNorm caches xhat itself
        y = np.multiply(xhat, self.gamma, out=self._y_buf if use_buf else None)
        y += self.beta
        return y

    def backward(self, grad):
        # with h = g * gamma: dx = inv * (h - mean_d(h) - xhat * mean_d(h * xhat)), where
        # mean_d(h) = g @ (gamma / d) and mean_d(h * xhat) = (g * xhat) @ (gamma / d)
        xhat, inv = self._xc, self._inv
        n = grad.shape[0]
        buffered = self.inplace and n == self._n
        ones_n = self._ones_n if buffered else np.ones(n, grad.dtype)
        np.dot(ones_n, grad, out=self.dbeta)
        t = np.multiply(grad, xhat, out=self._t_buf if buffered else None)
        np.dot(ones_n, t, out=self.dgamma)
        gamma_d = self.gamma * (1.0 / self.d)
        a = np.dot(t, gamma_d)  # (n,)
        b = np.dot(grad, gamma_d)  # (n,)
        dx = np.multiply(xhat, a.reshape(n, 1), out=t)
        h = np.multiply(grad, self.gamma, out=grad if self.inplace else None)
        np.subtract(h, dx, out=dx)
        dx -= b.reshape(n, 1)
        dx *= inv
        return dx

    def __repr__(self) -> str:
        return f"LayerNorm({self.d}, eps={self.eps})"


def make_norm(name: str, d: int, **kwargs) -> _Norm | None:
    """``None`` for ``"none"``, else the layer; unknown names raise ValueError."""
    if name not in NORMS:
        raise ValueError(f"unknown norm {name!r}; valid: {', '.join(NORMS)}")
    if name == "none":
        return None
    return (BatchNorm if name == "batch" else LayerNorm)(d, **kwargs)

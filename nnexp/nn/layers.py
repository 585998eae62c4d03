"""Parameterised and stochastic layers: ``Dense`` (affine) and ``Dropout`` (inverted)."""

from __future__ import annotations

import numpy as np

from . import _validate as V
from .initializers import get_initializer
from .layer import Layer

_SMALL_W = 32768  # weights up to this size use the transposed-copy path in Dense.backward


class Dense(Layer):
    """Affine map ``y = x @ W + b`` over a mini-batch.

    Shapes: ``x`` (n, d_in), ``W`` (d_in, d_out), ``b`` (d_out,), ``y`` (n, d_out).
    Backward: ``dW = x.T @ g`` (d_in, d_out), ``db = 1.T @ g`` (d_out,) (a BLAS matrix-vector
    product, several times faster than ``g.sum(0)`` on small batches),
    ``dx = g @ W.T`` (n, d_in). Gradients are *overwritten* (not accumulated) in ``dW``/``db``
    with ``out=`` so the arrays keep their identity (optimisers hold references to them).

    The first layer of a network sets ``needs_input_grad=False``: nobody needs dL/dX, and
    skipping it saves a third of that layer's backward FLOPs.

    ``W``, ``b``, ``dW``, ``db`` may be passed in (the MLP passes views into its flat
    parameter/gradient buffers); otherwise they are allocated and ``W`` is drawn with ``init``.
    """

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        init: str = "xavier_uniform",
        rng: np.random.Generator | None = None,
        dtype=np.float64,
        W: np.ndarray | None = None,
        b: np.ndarray | None = None,
        dW: np.ndarray | None = None,
        db: np.ndarray | None = None,
        needs_input_grad: bool = True,
    ) -> None:
        super().__init__()
        d_in = V.integer("d_in", d_in, low=1)
        d_out = V.integer("d_out", d_out, low=1)
        dt = V.dtype(dtype)
        if W is None:
            if rng is None:
                raise ValueError("Dense needs rng (a numpy.random.Generator) to draw W, got None")
            W = get_initializer(init)((d_in, d_out), rng).astype(dt)
        self.W = W
        self.b = np.zeros(d_out, dt) if b is None else b
        self.dW = np.zeros_like(self.W) if dW is None else dW
        self.db = np.zeros_like(self.b) if db is None else db
        for name, arr, shape in (
            ("W", self.W, (d_in, d_out)),
            ("b", self.b, (d_out,)),
            ("dW", self.dW, (d_in, d_out)),
            ("db", self.db, (d_out,)),
        ):
            if arr.shape != shape:
                raise ValueError(f"Dense {name} must have shape {shape}, got {arr.shape}")
        self.params = (self.W, self.b)
        self.grads = (self.dW, self.db)
        self.needs_input_grad = needs_input_grad
        small = needs_input_grad and self.W.size <= _SMALL_W
        self._WT = np.empty(self.W.shape[::-1], self.W.dtype) if small else None
        self._n = -1  # batch size the cached buffers are sized for

    _cache_keys = ("_x",)

    def _buffers(self, n: int) -> None:
        # Workspace reused across steps of equal batch size (avoids reallocating every step).
        dt = self.W.dtype
        self._n = n
        self._y = np.empty((n, self.W.shape[1]), dt)
        self._dx = np.empty((n, self.W.shape[0]), dt) if self.needs_input_grad else None
        self._ones = np.ones(n, dt)

    def forward(self, x, training=False, rng=None):
        if training:
            self._x = x
            if self.inplace:
                n = x.shape[0]
                if n != self._n:
                    self._buffers(n)
                y = np.matmul(x, self.W, out=self._y)
                y += self.b
                return y
        y = x @ self.W
        y += self.b
        return y

    def backward(self, grad):
        x = self._x
        np.matmul(x.T, grad, out=self.dW)
        if self.inplace and grad.shape[0] == self._n:
            np.dot(self._ones, grad, out=self.db)
        else:
            np.dot(np.ones(grad.shape[0], grad.dtype), grad, out=self.db)
        if not self.needs_input_grad:
            return None
        out = self._dx if self.inplace and grad.shape[0] == self._n else None
        if grad.shape[1] == 1:  # outer product: a broadcast multiply beats a k=1 GEMM
            return np.multiply(grad, self.W.reshape(1, -1), out=out)
        if self._WT is not None:
            # small W: copying W.T to a contiguous array and running a plain (NN) GEMM is
            # faster than OpenBLAS's transposed-B kernel at these sizes (measured ~2-4 us
            # on 64x64); for large W the copy costs more than it saves
            np.copyto(self._WT, self.W.T)
            return np.matmul(grad, self._WT, out=out)
        return np.matmul(grad, self.W.T, out=out)

    def __repr__(self) -> str:
        return f"Dense({self.W.shape[0]}, {self.W.shape[1]})"


class Dropout(Layer):
    """Inverted dropout: in training, ``y = x * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)``.

    Scaling by ``1 / (1 - p)`` at training time keeps ``E[y] = x``, so evaluation is the plain
    identity (no rescaling needed at test time). The mask is drawn from the Generator passed
    to ``forward`` (never from global state), so runs are reproducible. Shapes: (n, d) -> (n, d).
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = V.number("dropout p", p, low=0.0, high=1.0, high_open=True)
        self._scale = 1.0 / (1.0 - self.p)
        self._mask: np.ndarray | None = None

    _cache_keys = ("_mask",)

    def forward(self, x, training=False, rng=None):
        if not training or self.p == 0.0:
            self._mask = None
            return x
        if not isinstance(rng, np.random.Generator):
            raise ValueError(
                f"Dropout in training mode needs rng (a numpy.random.Generator), got {rng!r}"
            )
        mask = rng.random(x.shape, dtype=x.dtype)
        np.greater_equal(mask, self.p, out=mask)  # 1.0 keeps, 0.0 drops
        mask *= self._scale
        self._mask = mask
        return x * mask

    def backward(self, grad):
        if getattr(self, "_mask", None) is None:
            return grad
        if self.inplace:
            grad *= self._mask
            return grad
        return grad * self._mask

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"

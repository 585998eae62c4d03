"""Element-wise activation functions, one class per function, forward next to backward.

Every ``backward`` is the exact derivative of the function *as implemented* (so central
differences agree to ~1e-9), and every function is numerically stable over the whole
float range: no overflow warnings, finite outputs and gradients for inputs like +-1e4.

Shapes: input ``z`` and output ``a`` are ``(n, d)``; ``backward`` maps dL/da (n, d) to
dL/dz (n, d). Activations whose derivative can be written in terms of the output alone
(sigmoid, tanh, relu, identity) support ``inplace`` (the MLP overwrites the pre-activation
buffer), the others keep ``z``.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from . import _validate as V
from .layer import Layer
from .special import erfc

# exp(-z) overflows beyond these; sigmoid there is below the smallest normal number anyway.
_EXP_LIMIT = {np.dtype(np.float64): 708.0, np.dtype(np.float32): 88.0}


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Logistic function ``1 / (1 + exp(-z))`` (the tutorial's formula, bit for bit).

    Stable: ``exp(-z)`` is clipped where it would overflow (z < -708 in float64), where the
    exact result is below 1e-307, so no warning is raised and the result is correct to
    within that absolute amount. For z >= -708 the value is exactly the tutorial's.
    """
    if out is None:
        out = np.empty_like(z)
    np.negative(z, out=out)
    np.minimum(out, _EXP_LIMIT.get(out.dtype, 708.0), out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


class Activation(Layer):
    """Base class of element-wise activations ``a = f(z)``; ``name`` keys ``ACTIVATIONS``."""

    name = ""
    #: backward needs only the output, so forward may overwrite z (MLP sets ``inplace``)
    supports_inplace = False

    _cache_keys = ("_a", "_z", "_pos", "_exp", "_cdf", "_sig")

    def _out(self, z: np.ndarray) -> np.ndarray:
        return z if self.inplace else np.empty_like(z)

    def _gout(self, g: np.ndarray) -> np.ndarray:
        return g if self.inplace else np.empty_like(g)

    def _tmp(self, like: np.ndarray) -> np.ndarray:
        """Scratch array shaped like ``like``; reused across steps when owned by a model."""
        if not self.inplace:
            return np.empty_like(like)
        t = self.__dict__.get("_scratch")
        if t is None or t.shape != like.shape or t.dtype is not like.dtype:
            t = self._scratch = np.empty_like(like)
        return t

    def config(self) -> dict:
        """Constructor keyword arguments (stored in saved models)."""
        return {}


class Identity(Activation):
    """``f(z) = z``; gradient passes through unchanged."""

    name = "identity"
    supports_inplace = True

    def forward(self, z, training=False, rng=None):
        return z

    def backward(self, grad):
        return grad


class Sigmoid(Activation):
    """``f(z) = 1 / (1 + exp(-z))``, ``f' = a (1 - a)`` (only the output is needed)."""

    name = "sigmoid"
    supports_inplace = True

    def forward(self, z, training=False, rng=None):
        self._a = a = sigmoid(z, self._out(z))
        return a

    def backward(self, grad):
        a = self._a
        t = np.subtract(1.0, a, out=self._tmp(a))
        t *= a
        return np.multiply(grad, t, out=self._gout(grad))


class Tanh(Activation):
    """``f(z) = tanh(z)``, ``f' = 1 - a^2`` (only the output is needed)."""

    name = "tanh"
    supports_inplace = True

    def forward(self, z, training=False, rng=None):
        self._a = a = np.tanh(z, out=self._out(z))
        return a

    def backward(self, grad):
        a = self._a
        t = np.multiply(a, a, out=self._tmp(a))
        np.subtract(1.0, t, out=t)
        return np.multiply(grad, t, out=self._gout(grad))


class ReLU(Activation):
    """``f(z) = max(z, 0)``, ``f' = [a > 0]`` (derivative 0 at the kink z = 0)."""

    name = "relu"
    supports_inplace = True

    def forward(self, z, training=False, rng=None):
        self._a = a = np.maximum(z, 0.0, out=self._out(z))
        return a

    def backward(self, grad):
        return np.multiply(grad, self._a > 0.0, out=self._gout(grad))


class LeakyReLU(Activation):
    """``f(z) = z if z > 0 else negative_slope * z`` (torch default slope 0.01)."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = V.number(
            "negative_slope", negative_slope, low=0.0, high=1.0, high_open=True
        )

    def forward(self, z, training=False, rng=None):
        self._pos = pos = z > 0.0
        return np.where(pos, z, z * self.negative_slope)

    def backward(self, grad):
        return grad * np.where(self._pos, 1.0, self.negative_slope).astype(grad.dtype, copy=False)

    def config(self):
        return {"negative_slope": self.negative_slope}


class ELU(Activation):
    """``f(z) = z if z > 0 else alpha * (exp(z) - 1)``; ``f' = 1`` or ``alpha * exp(z)``.

    ``expm1`` keeps small negative inputs accurate; ``min(z, 0)`` keeps the unused branch
    from overflowing for large positive z.
    """

    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = V.number("alpha", alpha, low=0.0, low_open=True)

    def forward(self, z, training=False, rng=None):
        self._pos = pos = z > 0.0
        self._exp = e = np.exp(np.minimum(z, 0.0))  # alpha * exp(z) is the negative-side slope
        neg = np.expm1(np.minimum(z, 0.0))
        neg *= self.alpha
        e *= self.alpha
        return np.where(pos, z, neg)

    def backward(self, grad):
        return grad * np.where(self._pos, 1.0, self._exp).astype(grad.dtype, copy=False)

    def config(self):
        return {"alpha": self.alpha}


class GELU(Activation):
    """Exact GELU, ``f(z) = z * Phi(z)`` with the normal CDF via erf (torch's default,
    ``approximate='none'``); ``f' = Phi(z) + z * phi(z)``.

    ``Phi(z) = erfc(-z / sqrt 2) / 2`` is evaluated with the Cephes rational approximations in
    :mod:`nnexp.nn.special` (relative error ~1e-16), so the analytic derivative matches the
    implemented function to rounding.
    """

    name = "gelu"
    _INV_SQRT2 = 1.0 / math.sqrt(2.0)
    _INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)

    def forward(self, z, training=False, rng=None):
        self._z = z
        self._cdf = cdf = erfc(z * -self._INV_SQRT2)
        cdf *= 0.5
        return z * cdf

    def backward(self, grad):
        z = self._z
        pdf = np.exp(-0.5 * z * z)
        pdf *= self._INV_SQRT2PI
        pdf *= z
        pdf += self._cdf
        return grad * pdf


class Softplus(Activation):
    """``f(z) = log(1 + exp(z))`` via ``np.logaddexp(0, z)`` (stable for any z);
    ``f' = sigmoid(z) = exp(z - f(z))``. Exact everywhere (torch switches to the identity
    above z = 20; the difference there is below 2e-9)."""

    name = "softplus"

    def forward(self, z, training=False, rng=None):
        self._z = z
        self._a = a = np.logaddexp(0.0, z)
        return a

    def backward(self, grad):
        s = np.subtract(self._z, self._a)  # z - softplus(z) = log(sigmoid(z)) <= 0
        np.exp(s, out=s)
        return np.multiply(grad, s, out=s)


ACTIVATIONS: dict[str, type[Activation]] = {
    "identity": Identity,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "gelu": GELU,
    "softplus": Softplus,
}


def make_activation(name: str, **kwargs) -> Activation:
    """Instantiate ``ACTIVATIONS[name](**kwargs)``; unknown names/kwargs raise ValueError."""
    cls = V.lookup(ACTIVATIONS, name, "activation")
    valid = tuple(p for p in inspect.signature(cls.__init__).parameters if p != "self")
    V.no_extra_kwargs(f"activation {name!r}", kwargs, valid)
    return cls(**kwargs)

"""Optimisers with ``torch.optim`` update rules, hyperparameter names and defaults.

``opt = make_optimizer(name, params, lr, **kwargs)``; ``opt.step(grads)`` updates the
``params`` arrays IN PLACE (they stay the same objects, so the model sees the update);
``opt.lr`` is a plain settable attribute (schedules set it each epoch).

Weight decay: ``sgd``/``momentum``/``nesterov``/``adam``/``rmsprop`` use coupled L2
(``g <- g + weight_decay * p`` before the update, as torch does); ``adamw`` uses decoupled
decay (``p <- p * (1 - lr * weight_decay)``, then Adam without L2; torch's default
``weight_decay=0.01``). Decay applies to every array passed in, biases included (as in torch
when all parameters are in one group).

Speed: when the parameter arrays are consecutive views of one contiguous 1-D buffer (the
MLP's ``flat_params``), and likewise the gradients, the update runs once over the whole flat
buffer: ~10 NumPy calls per step whatever the number of layers. Any other list of arrays is
updated array by array with the same code (bit-identical results).
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Sequence

import numpy as np

from . import _validate as V

# Flat buffers are updated in chunks of this many elements, so that a chunk of every state array
# (parameters, gradients, moments, scratch: ~5 arrays) stays within a large last-level cache
# (4 MB per float64 array). Each chunk costs ~10 NumPy calls, and on the benchmark machine
# (1 MB L2 per core, 32 MB L3) a whole 270k-parameter Adam step measured faster in one chunk
# than in 32768-element ones (386 vs 549 us float32, 1051 vs 1473 us float64, isolated;
# ~3% of the 784-256-256-10 training step in place): the call overhead outweighs the L2
# locality. Results do not depend on the chunking (the updates are element-wise).
_CHUNK = 1 << 19


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def flat_base(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """The 1-D buffer the arrays tile exactly (consecutive, in order), else None."""
    if not arrays:
        return None
    base = arrays[0].base
    if not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous:
        return None
    pos, item = _address(base), base.itemsize
    for a in arrays:
        if (
            not isinstance(a, np.ndarray)
            or a.base is not base
            or a.dtype != base.dtype
            or not a.flags.c_contiguous
            or _address(a) != pos
        ):
            return None
        pos += a.size * item
    return base if pos == _address(base) + base.size * item else None


class Optimizer:
    """Base class. Subclasses implement ``_init_state(p)`` and ``_update(p, g, state)``.

    ``params``: list of float arrays (any shapes), updated in place. ``state``: one dict of
    arrays per parameter group (the flat buffer, or each array), with the same dtype as the
    parameters (float32 stays float32). ``t``: number of steps taken.
    """

    name = ""

    def __init__(self, params: Sequence[np.ndarray], lr: float) -> None:
        if isinstance(params, np.ndarray):
            params = [params]
        params = list(params)
        if not params:
            raise ValueError("params must be a non-empty list of arrays, got an empty list")
        for i, p in enumerate(params):
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise ValueError(
                    f"params[{i}] must be a float numpy array, got {type(p).__name__}"
                    f"{'' if not isinstance(p, np.ndarray) else ' of dtype ' + str(p.dtype)}"
                )
            if not p.flags.writeable:
                raise ValueError(f"params[{i}] is read-only; the optimiser updates arrays in place")
        self.params = params
        self.lr = V.number("lr", lr, low=0.0, low_open=True)
        base = flat_base(params)
        self._flat = base is not None
        self._flat_base = base
        if base is not None:
            # One flat buffer, processed in cache-sized chunks (views, built once).
            self._slices = [slice(s, s + _CHUNK) for s in range(0, base.size, _CHUNK)]
            self._groups = [base[sl] for sl in self._slices]
        else:
            self._groups = params
        self.state = [self._init_state(p) for p in self._groups]
        self.t = 0
        self._grads_key: list[np.ndarray] | None = None
        self._grads_groups: list[np.ndarray] | None = None

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = V.number("lr", value, low=0.0)

    # -- gradients -> groups ---------------------------------------------------------------
    def _grad_groups(self, grads: Sequence[np.ndarray]) -> list[np.ndarray]:
        key = self._grads_key
        if key is not None and len(grads) == len(key) and all(map(operator.is_, grads, key)):
            return self._grads_groups
        if len(grads) != len(self.params):
            raise ValueError(f"expected {len(self.params)} gradient arrays, got {len(grads)}")
        for i, (g, p) in enumerate(zip(grads, self.params, strict=True)):
            if not isinstance(g, np.ndarray) or g.shape != p.shape:
                raise ValueError(
                    f"grads[{i}] must be an array of shape {p.shape}, got "
                    f"{getattr(g, 'shape', type(g).__name__)}"
                )
        if not self._flat:
            return [np.asarray(g, p.dtype) for g, p in zip(grads, self.params, strict=True)]
        base = flat_base(grads)
        dtype = self._flat_base.dtype
        if base is None or base.dtype != dtype:
            # not a flat gradient buffer: gather into one (correct, just slower)
            base = np.concatenate([np.ravel(g) for g in grads]).astype(dtype, copy=False)
            return [base[sl] for sl in self._slices]
        self._grads_key = list(grads)
        self._grads_groups = [base[sl] for sl in self._slices]
        return self._grads_groups

    def step(self, grads: Sequence[np.ndarray]) -> None:
        """Apply one update using ``grads`` (same order/shapes as ``params``)."""
        groups = self._grad_groups(grads)
        self.t += 1
        for p, g, st in zip(self._groups, groups, self.state, strict=True):
            self._update(p, g, st)

    def _init_state(self, p: np.ndarray) -> dict:
        raise NotImplementedError

    def _update(self, p: np.ndarray, g: np.ndarray, st: dict) -> None:
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        """Hyperparameters as a dict (lr plus the subclass's own)."""
        return {"lr": self.lr}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({args})"


def _l2(p, g, st, wd):
    """Coupled L2: g + wd * p into scratch (never modifies the caller's gradient)."""
    if not wd:
        return g
    d = np.multiply(p, wd, out=st["tmp"])
    d += g
    return d


class SGD(Optimizer):
    """torch.optim.SGD: ``buf = momentum * buf + (1 - dampening) * g`` (``buf = g`` on the
    first step); nesterov: ``g = g + momentum * buf``, else ``g = buf``; ``p -= lr * g``."""

    name = "sgd"

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        self.momentum = V.number("momentum", momentum, low=0.0, high=1.0, high_open=True)
        self.dampening = V.number("dampening", dampening, low=0.0, high=1.0)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise ValueError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = bool(nesterov)
        self.weight_decay = V.number("weight_decay", weight_decay, low=0.0)
        if self.nesterov and (self.momentum <= 0.0 or self.dampening != 0.0):
            raise ValueError(
                "nesterov momentum requires momentum > 0 and dampening == 0, got "
                f"momentum={momentum!r}, dampening={dampening!r}"
            )
        super().__init__(params, lr)

    def _init_state(self, p):
        st = {"tmp": np.empty_like(p), "tmp2": np.empty_like(p)}
        if self.momentum:
            st["momentum_buffer"] = np.zeros_like(p)
        return st

    def _update(self, p, g, st):
        if self.weight_decay:
            g = _l2(p, g, st, self.weight_decay)
        mu = self.momentum
        if mu:
            buf = st["momentum_buffer"]
            if self.t == 1:  # torch: buf = clone(g) on the first step
                np.copyto(buf, g)
            else:
                buf *= mu
                if self.dampening:
                    t2 = np.multiply(g, 1.0 - self.dampening, out=st["tmp2"])
                    buf += t2
                else:
                    buf += g
            if self.nesterov:
                t2 = np.multiply(buf, mu, out=st["tmp2"])
                t2 += g
                g = t2
            else:
                g = buf
        step = np.multiply(g, self.lr, out=st["tmp"])
        p -= step

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "dampening": self.dampening,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }


class Momentum(SGD):
    """SGD with (heavy-ball) momentum, default ``momentum=0.9``."""

    name = "momentum"

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.9,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        if isinstance(momentum, (int, float)) and not isinstance(momentum, bool) and momentum <= 0:
            raise ValueError(
                f"momentum must be in (0, 1) for optimizer 'momentum', got {momentum!r}"
            )
        super().__init__(
            params,
            lr,
            momentum=momentum,
            dampening=dampening,
            nesterov=False,
            weight_decay=weight_decay,
        )


class Nesterov(SGD):
    """SGD with Nesterov momentum (torch ``nesterov=True``), default ``momentum=0.9``."""

    name = "nesterov"

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> None:
        super().__init__(
            params, lr, momentum=momentum, dampening=0.0, nesterov=True, weight_decay=weight_decay
        )


def _betas(betas) -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    return (
        V.number("betas[0]", betas[0], low=0.0, high=1.0, high_open=True),
        V.number("betas[1]", betas[1], low=0.0, high=1.0, high_open=True),
    )


class Adam(Optimizer):
    """torch.optim.Adam (coupled L2 weight decay):

    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``;
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``; ``amsgrad`` uses the
    running max of ``v``.

    Implementation: the state holds the rescaled moments ``M = m / (1 - b1)`` and
    ``V = v / (1 - b2)`` (so ``M = b1 M + g``, ``V = b2 V + g^2``) and the constants are folded
    into two scalars; the same update in 10 array passes instead of 13 (identical up to
    rounding). ``exp_avg()`` / ``exp_avg_sq()`` return torch's ``m`` and ``v``.
    """

    name = "adam"
    _decoupled = False

    def __init__(
        self,
        params,
        lr: float,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        self.betas = _betas(betas)
        self.eps = V.number("eps", eps, low=0.0, low_open=True)
        self.weight_decay = V.number("weight_decay", weight_decay, low=0.0)
        if not isinstance(amsgrad, (bool, np.bool_)):
            raise ValueError(f"amsgrad must be True or False, got {amsgrad!r}")
        self.amsgrad = bool(amsgrad)
        super().__init__(params, lr)

    def _init_state(self, p):
        st = {
            "M": np.zeros_like(p),
            "V": np.zeros_like(p),
            "tmp": np.empty_like(p),
            "tmp2": np.empty_like(p),
        }
        if self.amsgrad:
            st["V_max"] = np.zeros_like(p)
        return st

    def _scalars(self) -> tuple[float, float]:
        b1, b2 = self.betas
        t = self.t
        c = math.sqrt((1.0 - b2) / (1.0 - b2**t))  # sqrt(v_hat) = c * sqrt(V)
        # update = lr/(1-b1^t) * (1-b1) M / (c sqrt(V) + eps) = scale * M / (sqrt(V) + eps/c)
        return self.lr * (1.0 - b1) / (1.0 - b1**t) / c, self.eps / c

    def step(self, grads):
        groups = self._grad_groups(grads)
        self.t += 1
        self._scale, self._eps_c = self._scalars()
        for p, g, st in zip(self._groups, groups, self.state, strict=True):
            self._update(p, g, st)

    def _update(self, p, g, st):
        b1, b2 = self.betas
        if self._decoupled:
            if self.weight_decay:
                p *= 1.0 - self.lr * self.weight_decay
        else:
            g = _l2(p, g, st, self.weight_decay)
        M, Vs, t2 = st["M"], st["V"], st["tmp2"]
        M *= b1
        M += g
        np.multiply(g, g, out=t2)
        Vs *= b2
        Vs += t2
        if self.amsgrad:
            Vs = np.maximum(st["V_max"], Vs, out=st["V_max"])
        denom = np.sqrt(Vs, out=t2)
        denom += self._eps_c
        upd = np.divide(M, denom, out=t2)
        upd *= self._scale
        p -= upd

    def _moment(self, key: str, factor: float) -> list[np.ndarray]:
        flat = np.concatenate([st[key] for st in self.state]) if self._flat else None
        out, pos = [], 0
        for i, p in enumerate(self.params):
            if flat is None:
                out.append(self.state[i][key] * factor)
            else:
                out.append(flat[pos : pos + p.size].reshape(p.shape) * factor)
                pos += p.size
        return out

    def exp_avg(self) -> list[np.ndarray]:
        """torch's ``exp_avg`` (first moment m) per parameter."""
        return self._moment("M", 1.0 - self.betas[0])

    def exp_avg_sq(self) -> list[np.ndarray]:
        """torch's ``exp_avg_sq`` (second moment v) per parameter."""
        return self._moment("V", 1.0 - self.betas[1])

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """torch.optim.AdamW: decoupled decay ``p *= 1 - lr * weight_decay`` then Adam without
    L2 (default ``weight_decay=0.01``)."""

    name = "adamw"
    _decoupled = True

    def __init__(
        self,
        params,
        lr: float,
        betas=(0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            params, lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )


class RMSprop(Optimizer):
    """torch.optim.RMSprop: ``v = alpha v + (1 - alpha) g^2``; centered subtracts the squared
    running mean of g; ``avg = sqrt(v) + eps``; with momentum ``buf = momentum buf + g / avg``,
    ``p -= lr buf``, else ``p -= lr g / avg``."""

    name = "rmsprop"

    def __init__(
        self,
        params,
        lr: float,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        self.alpha = V.number("alpha", alpha, low=0.0, high=1.0, high_open=True)
        self.eps = V.number("eps", eps, low=0.0, low_open=True)
        self.weight_decay = V.number("weight_decay", weight_decay, low=0.0)
        self.momentum = V.number("momentum", momentum, low=0.0, high=1.0, high_open=True)
        if not isinstance(centered, (bool, np.bool_)):
            raise ValueError(f"centered must be True or False, got {centered!r}")
        self.centered = bool(centered)
        super().__init__(params, lr)

    def _init_state(self, p):
        st = {"square_avg": np.zeros_like(p), "tmp": np.empty_like(p), "tmp2": np.empty_like(p)}
        if self.momentum:
            st["momentum_buffer"] = np.zeros_like(p)
        if self.centered:
            st["grad_avg"] = np.zeros_like(p)
        return st

    def _update(self, p, g, st):
        g = _l2(p, g, st, self.weight_decay)
        a = self.alpha
        v, t2 = st["square_avg"], st["tmp2"]
        v *= a
        np.multiply(g, g, out=t2)
        t2 *= 1.0 - a
        v += t2
        if self.centered:
            ga = st["grad_avg"]
            np.subtract(g, ga, out=t2)  # ga.lerp_(g, 1 - alpha)
            t2 *= 1.0 - a
            ga += t2
            avg = np.multiply(ga, ga, out=t2)
            np.subtract(v, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(v, out=t2)
        avg += self.eps
        if self.momentum:
            buf = st["momentum_buffer"]
            buf *= self.momentum
            buf += np.divide(g, avg, out=avg)
            upd = np.multiply(buf, self.lr, out=t2)
        else:
            upd = np.divide(g, avg, out=avg)
            upd *= self.lr
        p -= upd

    def hyperparameters(self):
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "centered": self.centered,
        }


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
}


def make_optimizer(name: str, params: Sequence[np.ndarray], lr: float, **kwargs) -> Optimizer:
    """Build ``OPTIMIZERS[name](params, lr, **kwargs)``. Unknown names or keyword arguments
    raise ValueError listing the valid ones."""
    cls = V.lookup(OPTIMIZERS, name, "optimizer")
    valid = tuple(
        p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "params", "lr")
    )
    V.no_extra_kwargs(f"optimizer {name!r}", kwargs, valid)
    return cls(params, lr, **kwargs)

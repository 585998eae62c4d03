"""The base class every engine op derives from.

An op is a small object with ``forward`` and ``backward`` side by side (micrograd style, but on
whole mini-batches): ``forward`` caches exactly what ``backward`` needs, ``backward`` maps the
gradient of the loss w.r.t. the op's output to the gradient w.r.t. its input. Batches are
always the leading axis, so one call handles the whole mini-batch with no per-sample loop.
"""

from __future__ import annotations

import numpy as np


class Layer:
    """Base class: ``y = forward(x)``, ``dL/dx = backward(dL/dy)``.

    Shapes: ``x`` is ``(n, d_in)``, ``y`` is ``(n, d_out)``; ``backward`` takes ``(n, d_out)``
    and returns ``(n, d_in)``.

    ``inplace``: when True (set by the :class:`~nnexp.nn.mlp.MLP`, which owns the buffers),
    ``forward`` may overwrite its input and ``backward`` its incoming gradient. Standalone
    use keeps the default False, so calling an op never mutates the caller's arrays.
    """

    #: parameter arrays (views into the owning model's flat buffer) and their gradients
    params: tuple[np.ndarray, ...] = ()
    grads: tuple[np.ndarray, ...] = ()

    def __init__(self) -> None:
        self.inplace = False

    def forward(
        self, x: np.ndarray, training: bool = False, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Map ``x`` (n, d_in) to ``y`` (n, d_out), caching what ``backward`` needs."""
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> np.ndarray | None:
        """Given dL/dy (n, d_out), fill parameter gradients and return dL/dx (n, d_in)."""
        raise NotImplementedError

    #: instance attributes holding forward caches (dropped by ``clear``)
    _cache_keys: tuple[str, ...] = ()

    def clear(self) -> None:
        """Drop references to cached arrays (the MLP calls this after eval passes so that
        evaluating a large set does not keep its activations alive)."""
        for k in self._cache_keys:
            self.__dict__.pop(k, None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

"""The multi-layer perceptron: Dense [-> Norm] -> activation [-> Dropout] ... -> Dense -> head.

Design notes (why it is fast for small layers, where per-call overhead dominates):

* All parameters live in ONE contiguous flat array and all gradients in another;
  ``model.params`` / ``model.grads`` are views into them. The optimisers detect this and
  update the whole model with a handful of NumPy calls per step instead of a handful per
  parameter array. The views are stable: assigning ``model.params[i][...] = a`` works and
  the arrays are never replaced.
* In training, every layer writes into workspace buffers sized for the batch (reallocated
  only when the batch size changes), activations whose derivative needs only their output
  run in place, the head writes dL/dz over the logits, and the first layer skips dL/dX.
* Inputs are cast to the model dtype once, at the boundary (``np.asarray`` is free when the
  dtype already matches), so a float32 model stays float32 end to end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _validate as V
from .activations import make_activation
from .heads import make_head
from .initializers import get_initializer
from .layer import Layer
from .layers import Dense, Dropout
from .model_input import refuse_non_finite
from .norm import DEFAULT_EPS, DEFAULT_MOMENTUM, NORMS, BatchNorm, make_norm
from .target_fit import check_fit


class MLP:
    """Fully connected network ``sizes[0] -> sizes[1] -> ... -> sizes[-1]``.

    Parameters
    ----------
    sizes: layer widths including input and output, e.g. ``[2, 16, 1]``.
    activation: hidden activation, a key of ``ACTIVATIONS`` (output layer uses ``output``).
    output: ``"softmax"`` | ``"sigmoid"`` | ``"identity"``.
    loss: ``"cross_entropy"`` | ``"bce"`` | ``"mse"``; None picks the natural one for
        ``output`` (softmax->cross_entropy, sigmoid->bce, identity->mse).
    init: weight initialiser, a key of ``INITIALIZERS``; biases start at zero, except with
        ``"tutorial"``: every weight and bias drawn from N(0, 1) in the tutorial's order
        (see :func:`tutorial_init`).
    dropout: inverted-dropout probability after every hidden activation, in [0, 1).
    dtype: ``np.float64`` (default) or ``np.float32``.
    rng: numpy Generator (or int seed) for the initial weights and, when ``loss_and_grads``
        gets no rng, for dropout masks. None means fresh OS entropy (not reproducible).
    activation_kwargs / init_kwargs: extra arguments, e.g. ``{"negative_slope": 0.1}``,
        ``{"std": 1.0}``.
    norm: ``"none"`` | ``"batch"`` (BatchNorm1d) | ``"layer"`` (LayerNorm) after every hidden
        Dense, before its activation; ``norm_eps`` / ``norm_momentum`` as torch's ``eps`` /
        ``momentum`` (None: torch's 1e-5 / 0.1; momentum only for ``"batch"``).
    label_smoothing / class_weight: the loss's options (torch's ``label_smoothing`` and
        ``weight``), see :mod:`nnexp.nn.heads`.

    Attributes: ``params`` [W1 (in, out), b1 (out,), [gamma1 (out,), beta1 (out,)], ...],
    ``grads`` (same shapes), ``param_names`` ["W1", "b1", "gamma1", "beta1", ...],
    ``flat_params`` / ``flat_grads`` (1-D views' base), ``buffers`` / ``buffer_names``
    (BatchNorm's running_mean1, running_var1, ...: state that is not trained by gradients),
    ``head``, ``layers``.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "relu",
        output: str = "identity",
        loss: str | None = None,
        init: str = "xavier_uniform",
        dropout: float = 0.0,
        dtype=np.float64,
        rng: np.random.Generator | int | None = None,
        *,
        activation_kwargs: dict | None = None,
        init_kwargs: dict | None = None,
        norm: str = "none",
        norm_eps: float | None = None,
        norm_momentum: float | None = None,
        label_smoothing: float = 0.0,
        class_weight: Sequence[float] | None = None,
    ) -> None:
        if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
            raise ValueError(f"sizes must be a list of >= 2 layer widths, got {sizes!r}")
        self.sizes = [V.integer(f"sizes[{i}]", s, low=1) for i, s in enumerate(sizes)]
        self.activation = activation
        self.activation_kwargs = dict(activation_kwargs or {})
        make_activation(activation, **self.activation_kwargs)  # validate even with no hidden layer
        self.init = init
        self.init_kwargs = dict(init_kwargs or {})
        tutorial = init == "tutorial"
        if tutorial and self.init_kwargs:
            raise ValueError(f"init 'tutorial' takes no arguments, got {self.init_kwargs}")
        init_fn = None if tutorial else get_initializer(init, **self.init_kwargs)
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")
        if norm != "batch" and norm_momentum is not None:
            raise ValueError(f"norm_momentum applies to norm 'batch' only, got norm {norm!r}")
        if norm == "none" and norm_eps is not None:
            raise ValueError("norm_eps applies to norm 'batch' or 'layer', got norm 'none'")
        self.norm = norm
        self.norm_eps = DEFAULT_EPS if norm_eps is None else norm_eps
        self.norm_momentum = DEFAULT_MOMENTUM if norm_momentum is None else norm_momentum
        self.dropout = V.number("dropout", dropout, low=0.0, high=1.0, high_open=True)
        self.dtype = V.dtype(dtype)
        self.rng = np.random.default_rng(V.seed_or_generator("rng", rng))
        self.head = make_head(
            output,
            loss,
            self.sizes[-1],
            label_smoothing=label_smoothing,
            class_weight=class_weight,
        )
        self.output = self.head.output_name
        self.loss_name = self.head.loss_name

        n_layers = len(self.sizes) - 1
        shapes: list[tuple[int, ...]] = []
        names: list[str] = []
        for i, (d_in, d_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            shapes += [(d_in, d_out), (d_out,)]
            names += [f"W{i + 1}", f"b{i + 1}"]
            if norm != "none" and i < n_layers - 1:
                shapes += [(d_out,), (d_out,)]
                names += [f"gamma{i + 1}", f"beta{i + 1}"]
        total = sum(int(np.prod(s)) for s in shapes)
        self.flat_params = np.zeros(total, self.dtype)
        self.flat_grads = np.zeros(total, self.dtype)
        self.params: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        offset = 0
        for s in shapes:
            size = int(np.prod(s))
            self.params.append(self.flat_params[offset : offset + size].reshape(s))
            self.grads.append(self.flat_grads[offset : offset + size].reshape(s))
            offset += size
        self.param_names = names
        by_name = dict(zip(names, zip(self.params, self.grads, strict=True), strict=True))

        self.layers: list[Layer] = []
        self.dense: list[Dense] = []
        self.norms: list[Layer] = []
        self.buffers: list[np.ndarray] = []
        self.buffer_names: list[str] = []
        for i in range(n_layers):
            (W, dW), (b, db) = by_name[f"W{i + 1}"], by_name[f"b{i + 1}"]
            if not tutorial:
                W[...] = init_fn(W.shape, self.rng)
            dense = Dense(
                W.shape[0],
                W.shape[1],
                W=W,
                b=b,
                dW=dW,
                db=db,
                dtype=self.dtype,
                needs_input_grad=i > 0,
            )
            dense.inplace = True
            self.layers.append(dense)
            self.dense.append(dense)
            if i < n_layers - 1 and norm != "none":
                (gamma, dgamma), (beta, dbeta) = by_name[f"gamma{i + 1}"], by_name[f"beta{i + 1}"]
                gamma[...] = 1.0
                kwargs = {"momentum": self.norm_momentum} if norm == "batch" else {}
                layer = make_norm(
                    norm,
                    W.shape[1],
                    eps=self.norm_eps,
                    dtype=self.dtype,
                    gamma=gamma,
                    beta=beta,
                    dgamma=dgamma,
                    dbeta=dbeta,
                    **kwargs,
                )
                layer.inplace = True
                self.layers.append(layer)
                self.norms.append(layer)
                if isinstance(layer, BatchNorm):
                    self.buffers += [layer.running_mean, layer.running_var]
                    self.buffer_names += [f"running_mean{i + 1}", f"running_var{i + 1}"]
            if i < n_layers - 1:
                act = make_activation(activation, **self.activation_kwargs)
                act.inplace = act.supports_inplace
                self.layers.append(act)
                if self.dropout > 0.0:
                    drop = Dropout(self.dropout)
                    drop.inplace = True
                    self.layers.append(drop)
        if tutorial:
            tutorial_init(self, self.rng)
        self._reversed = self.layers[::-1]
        self._nodrop = [layer for layer in self.layers if not isinstance(layer, Dropout)]
        self._nodrop_rev = self._nodrop[::-1]

    # -- boundary ------------------------------------------------------------------------
    def _inputs(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"X must have shape (n, {self.sizes[0]}), got {X.shape}")
        return X

    # -- training ------------------------------------------------------------------------
    def loss_and_grads(
        self, X, y, rng: np.random.Generator | None = None, *, dropout: bool = True
    ) -> float:
        """Training-mode forward + backward on a mini-batch; fills ``self.grads``.

        ``X`` (n, sizes[0]); ``y`` as described in :mod:`nnexp.nn.heads`. Dropout masks come
        from ``rng`` (default: the model's own Generator); ``dropout=False`` disables dropout
        (used by the gradient check). Returns the mean loss (without any weight decay term).

        Checked here: shapes, and (softmax) labels in range. Not checked, because this is the
        per-batch hot path (a check of the values costs ~10% of a small model's step): that
        the target values fit the head (0/1 for sigmoid + BCE, finite) and that X is finite.
        ``fit`` checks both once, over every split, before the first step; a hand-written
        loop calls :meth:`check_fit` once on its data for the same checks.
        """
        X = self._inputs(X)
        if X.shape[0] == 0:
            raise ValueError("cannot compute a loss on an empty batch (X has 0 rows)")
        y = self.head.targets(y, X.shape[0], self.dtype)
        if rng is None:
            rng = self.rng
        layers, rev = (self.layers, self._reversed) if dropout else (self._nodrop, self._nodrop_rev)
        h = X
        for layer in layers:
            h = layer.forward(h, True, rng)
        loss, g = self.head.loss_and_grad(h, y, out=h)
        for layer in rev:
            g = layer.backward(g)
        return loss

    def check_fit(self, X, y, task: str | None = None, what: str = "data") -> None:
        """Refuse inputs ``X`` (n, sizes[0]) and targets ``y`` that do not fit this model's
        head (ValueError naming the mismatch and what would fit): non-finite values, labels
        outside [0, k) (softmax), targets other than 0/1 (sigmoid, classification) or outside
        [0, 1] (sigmoid, regression), class labels for an identity head, a wrong width.
        ``task``: ``"classification"`` / ``"regression"`` when the data says which (None:
        unknown). See :mod:`nnexp.nn.target_fit`; ``fit`` calls this for every split."""
        self._inputs(X)
        check_fit(self.head, X, y, what, task)

    # -- inference -----------------------------------------------------------------------
    def _logits(self, X, training: bool = False, rng=None) -> np.ndarray:
        h = self._inputs(X)
        for layer in self.layers:
            h = layer.forward(h, training, rng)
        if not training:
            for layer in self.layers:
                layer.clear()
        return h

    def training_loss(self, X, y) -> float:
        """The loss ``loss_and_grads`` differentiates, without gradients or side effects: batch
        statistics in normalisation layers (running statistics left untouched), no dropout.
        Equal to :meth:`loss` for a network without BatchNorm. Used by the gradient check."""
        X = self._inputs(X)
        y = self.head.targets(y, X.shape[0], self.dtype)
        frozen = [layer for layer in self.norms if isinstance(layer, BatchNorm)]
        for layer in frozen:
            layer.track = False
        try:
            h = X
            for layer in self._nodrop:
                h = layer.forward(h, bool(frozen), None)
            return self.head.loss(h, y)
        finally:
            for layer in frozen:
                layer.track = True
            for layer in self.layers:
                layer.clear()

    def logits(self, X) -> np.ndarray:
        """Pre-activation output of the last layer, (n, sizes[-1]), eval mode."""
        return self._logits(X).copy()

    def forward(
        self, X, training: bool = False, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Activated output (n, sizes[-1]): probabilities (softmax/sigmoid) or values
        (also as ``predict_proba``); a NaN/inf in ``X`` is refused as in :meth:`predict`.

        ``training=True`` applies dropout with masks from ``rng`` (default: the model's).
        The result is a new array (never a workspace buffer).
        """
        if training and rng is None:
            rng = self.rng
        return self.head.output(self._logits(self._finite_inputs(X), training, rng))

    predict_proba = forward

    def _finite_inputs(self, X) -> np.ndarray:
        """``X`` cast and shape-checked, refused if any value is NaN/inf (one ``isfinite``
        pass: cheap beside the forward pass it guards)."""
        X = self._inputs(X)
        refuse_non_finite(X)
        return X

    __call__ = forward

    def loss(self, X, y) -> float:
        """Mean loss in eval mode (no dropout, no gradients)."""
        z = self._logits(X)
        if z.shape[0] == 0:
            raise ValueError("cannot compute a loss on an empty batch (X has 0 rows)")
        return self.head.loss(z, self.head.targets(y, z.shape[0], self.dtype))

    def predict(self, X) -> np.ndarray:
        """Class labels for classification heads (softmax: argmax (n,); sigmoid: 0/1 ints,
        (n,) for one unit else (n, k)); values for identity ((n,) for one unit else (n, k)).
        A NaN/inf in ``X`` is a ValueError naming its row and column (the argmax of NaN
        logits would be class 0, a confident answer to a question never asked)."""
        z = self._logits(self._finite_inputs(X))
        if self.output == "softmax":
            return z.argmax(axis=1)
        if self.output == "sigmoid":
            labels = (z >= 0.0).astype(np.int64)  # sigmoid(z) >= 0.5  <=>  z >= 0
            return labels[:, 0] if labels.shape[1] == 1 else labels
        return z[:, 0].copy() if z.shape[1] == 1 else z.copy()

    # -- parameters ----------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        return int(self.flat_params.size)

    def set_params(self, arrays: Sequence[np.ndarray]) -> None:
        """Copy ``arrays`` (same order and shapes as ``params``) into the model, in place."""
        if len(arrays) != len(self.params):
            raise ValueError(
                f"expected {len(self.params)} arrays ({', '.join(self.param_names)}), "
                f"got {len(arrays)}"
            )
        for name, p, a in zip(self.param_names, self.params, arrays, strict=True):
            a = np.asarray(a)
            if a.shape != p.shape:
                raise ValueError(f"{name} must have shape {p.shape}, got {a.shape}")
            p[...] = a

    def get_params(self) -> list[np.ndarray]:
        """Copies of the parameters."""
        return [p.copy() for p in self.params]

    def set_buffers(self, arrays: Sequence[np.ndarray]) -> None:
        """Copy ``arrays`` (same order and shapes as ``buffers``) into the model, in place."""
        if len(arrays) != len(self.buffers):
            raise ValueError(f"expected {len(self.buffers)} buffers, got {len(arrays)}")
        for name, p, a in zip(self.buffer_names, self.buffers, arrays, strict=True):
            a = np.asarray(a)
            if a.shape != p.shape:
                raise ValueError(f"{name} must have shape {p.shape}, got {a.shape}")
            p[...] = a

    def zero_grads(self) -> None:
        self.flat_grads[...] = 0.0

    @classmethod
    def from_config(cls, config: dict, dtype: Any = None, rng: Any = 0) -> MLP:
        """A new network with the architecture ``config`` (what :meth:`config` returns, as
        ``save_model`` stores it; keys added later may be missing), freshly initialised."""
        return cls(
            config["sizes"],
            activation=config["activation"],
            output=config["output"],
            loss=config["loss"],
            init=config["init"],
            dropout=config["dropout"],
            dtype=config["dtype"] if dtype is None else dtype,
            rng=rng,
            activation_kwargs=config.get("activation_kwargs") or {},
            init_kwargs=config.get("init_kwargs") or {},
            norm=config.get("norm", "none"),
            norm_eps=config.get("norm_eps"),
            norm_momentum=config.get("norm_momentum"),
            label_smoothing=config.get("label_smoothing", 0.0),
            class_weight=config.get("class_weight"),
        )

    def config(self) -> dict:
        """Architecture as plain JSON-able data (what ``save_model`` stores)."""
        return {
            "sizes": list(self.sizes),
            "activation": self.activation,
            "activation_kwargs": dict(self.activation_kwargs),
            "output": self.output,
            "loss": self.loss_name,
            "init": self.init,
            "init_kwargs": dict(self.init_kwargs),
            "dropout": self.dropout,
            "dtype": self.dtype.name,
            "norm": self.norm,
            "norm_eps": self.norm_eps if self.norm != "none" else None,
            "norm_momentum": self.norm_momentum if self.norm == "batch" else None,
            "label_smoothing": self.head.label_smoothing,
            "class_weight": None
            if self.head.class_weight is None
            else [float(w) for w in self.head.class_weight],
        }

    # -- copying and pickling --------------------------------------------------------------
    def __getstate__(self) -> dict:
        """What a copy or a pickle holds: the architecture, the flat parameter and gradient
        arrays, the buffers, the Generator and any attribute set after construction. Not the
        layers' views: ``copy.deepcopy`` or pickle would make them independent arrays, so
        ``params`` / ``grads`` / the layers would no longer be views of ``flat_params`` /
        ``flat_grads`` (an optimiser step would update one and not the other).
        :meth:`__setstate__` rebuilds the views."""
        return {
            "config": self.config(),
            "flat_params": self.flat_params,
            "flat_grads": self.flat_grads,
            "buffers": list(self.buffers),
            "rng": self.rng,
            "extra": {k: v for k, v in self.__dict__.items() if k not in BUILT_ATTRIBUTES},
        }

    def __setstate__(self, state: dict) -> None:
        """Rebuild the network from its architecture (views included), then put back the
        parameters, gradients, buffers and Generator state bit for bit."""
        fresh = type(self).from_config(state["config"], rng=0)
        self.__dict__.update(fresh.__dict__)
        self.flat_params[...] = state["flat_params"]
        self.flat_grads[...] = state["flat_grads"]
        self.set_buffers(state["buffers"])
        self.rng = state["rng"]
        self.__dict__.update(state["extra"])

    def __repr__(self) -> str:
        c = self.config()
        return (
            f"MLP({c['sizes']}, activation={c['activation']!r}, output={c['output']!r}, "
            f"loss={c['loss']!r}, dropout={c['dropout']}, norm={c['norm']!r}, dtype={c['dtype']})"
        )


#: Attributes ``MLP.__init__`` creates (rebuilt, not copied, by ``__setstate__``); a test keeps
#: this list equal to a new model's ``__dict__``.
BUILT_ATTRIBUTES = frozenset(
    {
        "sizes",
        "activation",
        "activation_kwargs",
        "init",
        "init_kwargs",
        "norm",
        "norm_eps",
        "norm_momentum",
        "dropout",
        "dtype",
        "rng",
        "head",
        "output",
        "loss_name",
        "flat_params",
        "flat_grads",
        "params",
        "grads",
        "param_names",
        "layers",
        "dense",
        "norms",
        "buffers",
        "buffer_names",
        "_reversed",
        "_nodrop",
        "_nodrop_rev",
    }
)


def tutorial_init(model: MLP, rng: np.random.Generator) -> None:
    """The tutorial's initialisation (``np.random.normal()`` for every weight and bias), in its
    order: the weights layer by layer and, within a layer, neuron by neuron (w1, w2 into h1,
    w3, w4 into h2, w5, w6 into o1 for the 2-2-1 network), then the biases layer by layer
    (b1, b2, b3). So ``MLP([2, 2, 1], init="tutorial", rng=g)`` starts from the weights of
    ``TutorialNetwork(g)`` for an equally seeded ``g``. Normalisation parameters keep
    gamma = 1, beta = 0.
    """
    for dense in model.dense:
        W = dense.W  # (d_in, d_out): neuron j's weights are column j
        W[...] = rng.normal(size=W.shape[::-1]).T
    for dense in model.dense:
        dense.b[...] = rng.normal(size=dense.b.shape)

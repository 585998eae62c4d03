"""A saved network's prediction in NumPy alone: what a logged MLflow model runs.

This file travels with every logged model (copied, with ``special.py`` and ``model_input.py``,
into the model's ``code/nnexp_portable/`` folder), so the model loads and predicts wherever
MLflow and NumPy are installed, without nnexp. It therefore imports nothing but NumPy, the
standard library and its travelling companions ``.special`` and ``.model_input`` (which input
the model takes; a test checks the imports), and it must agree with
:class:`nnexp.nn.MLP` (tests compare them on every activation, head and dtype).

It reads the engine's ``model.npz`` (see :mod:`nnexp.nn.serialization`; ``allow_pickle=False``,
so a file cannot run code) and the scaler ``.npz`` the tracking layer writes beside it (``mean``
and ``std`` of the training split, ``feature_names``, and for a classifier ``class_names``: the
data set's labels in the order of the integer codes the network predicts, so that ``predict``
returns the original labels; a scaler written before has none and the codes are returned).

The network is a list of layers, each a kind from :data:`LAYER_KINDS` (a function
``(h (n, d_in), arrays, options) -> (n, d_out)``, how many parameter arrays it takes, in the
order of ``model.npz``'s ``param_i``, and how many buffers, in the order of its ``buffer_i``;
``arrays`` is its parameters followed by its buffers) built from the file's architecture by
:func:`layer_plan`. Adding a layer kind to the engine means one function here, its entry in
``LAYER_KINDS`` and its place in ``layer_plan``; a file whose architecture holds a key this
module does not know is refused rather than predicted wrongly.

Prediction is the engine's eval mode: dropout is the identity, BatchNorm uses its running
statistics, LayerNorm normalises each row (it has no other mode). Each formula repeats the
engine's NumPy calls in the engine's order, so the logits agree to the last bit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from .model_input import feature_matrix

FORMAT = "nnexp.mlp"
VERSION = 1
META_KEY = "__nnexp_meta__"

#: Architecture keys of ``model.npz`` that shape the prediction (each is used below).
INFERENCE_CONFIG = frozenset(
    {"sizes", "activation", "activation_kwargs", "output", "dtype", "norm", "norm_eps"}
)
#: Keys that only matter in training: the loss and its options (``label_smoothing``,
#: ``class_weight``), the initialisation, dropout (the identity at prediction) and BatchNorm's
#: ``norm_momentum`` (how the running statistics moved; prediction reads them as saved).
TRAINING_ONLY_CONFIG = frozenset(
    {"loss", "label_smoothing", "class_weight", "init", "init_kwargs", "dropout", "norm_momentum"}
)
#: Architecture keys of ``model.npz`` understood here.
KNOWN_CONFIG = INFERENCE_CONFIG | TRAINING_ONLY_CONFIG
#: ``norm`` values: none, ``torch.nn.BatchNorm1d`` or ``torch.nn.LayerNorm`` after every hidden
#: Dense (files written before normalisation existed have no ``norm``: none).
NORMS = ("none", "batch", "layer")

# -- activations (the engine's formulas, so predictions agree to the last bit) -----------------

_EXP_LIMIT = {np.dtype(np.float64): 708.0, np.dtype(np.float32): 88.0}
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.negative(z)
    np.minimum(out, _EXP_LIMIT.get(out.dtype, 708.0), out=out)
    np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def _leaky_relu(z: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    return np.where(z > 0.0, z, z * negative_slope)


def _elu(z: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    negative = np.expm1(np.minimum(z, 0.0))
    negative *= alpha
    return np.where(z > 0.0, z, negative)


def _gelu(z: np.ndarray) -> np.ndarray:
    from .special import erfc  # NumPy has no erf; the engine's, travelling with this file

    cdf = erfc(z * -_INV_SQRT2)
    cdf *= 0.5
    return z * cdf


#: name -> ``f(z, **activation_kwargs)``, element-wise on (n, d).
ACTIVATIONS: dict[str, Callable[..., np.ndarray]] = {
    "identity": lambda z: z,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    "gelu": _gelu,
    "softplus": lambda z: np.logaddexp(0.0, z),
}

# -- layer kinds ----------------------------------------------------------------------------


def dense(h: np.ndarray, params: list[np.ndarray], options: dict) -> np.ndarray:
    """``h @ W + b``: (n, d_in) -> (n, d_out), W (d_in, d_out), b (d_out,)."""
    W, b = params
    y = h @ W
    y += b
    return y


def activation(h: np.ndarray, params: list[np.ndarray], options: dict) -> np.ndarray:
    """An element-wise activation, ``options = {"name": ..., "kwargs": {...}}``."""
    return ACTIVATIONS[options["name"]](h, **options["kwargs"])


def batch_norm(h: np.ndarray, arrays: list[np.ndarray], options: dict) -> np.ndarray:
    """BatchNorm1d in eval mode, ``options = {"eps": ...}``: (n, d) -> (n, d),
    ``(h - running_mean) * (gamma / sqrt(running_var + eps)) + beta``; gamma, beta,
    running_mean, running_var each (d,)."""
    gamma, beta, running_mean, running_var = arrays
    scale = np.add(running_var, options["eps"])
    np.sqrt(scale, out=scale)
    np.divide(gamma, scale, out=scale)
    y = np.subtract(h, running_mean)
    y *= scale
    y += beta
    return y


def layer_norm(h: np.ndarray, arrays: list[np.ndarray], options: dict) -> np.ndarray:
    """LayerNorm over the features, ``options = {"eps": ...}``: (n, d) -> (n, d); each row
    ``(h - mean) / sqrt(var + eps) * gamma + beta`` with its own mean and biased variance;
    gamma, beta (d,). The row means are matrix-vector products, as in the engine."""
    gamma, beta = arrays
    n, d = h.shape
    average = np.full(d, 1.0 / d, h.dtype)
    mean = np.dot(h, average)  # (n,)
    centred = np.subtract(h, mean.reshape(n, 1))
    var = np.dot(np.multiply(centred, centred), average)  # (n,)
    var += options["eps"]
    inv = np.sqrt(var, out=var)
    np.divide(1.0, inv, out=inv)
    normalised = np.multiply(centred, inv.reshape(n, 1), out=centred)
    y = np.multiply(normalised, gamma)
    y += beta
    return y


class LayerKind(NamedTuple):
    forward: Callable[[np.ndarray, list[np.ndarray], dict], np.ndarray]
    n_params: int
    n_buffers: int = 0


LAYER_KINDS: dict[str, LayerKind] = {
    "dense": LayerKind(dense, 2),
    "activation": LayerKind(activation, 0),
    "batch_norm": LayerKind(batch_norm, 2, 2),  # gamma, beta; running_mean, running_var
    "layer_norm": LayerKind(layer_norm, 2),  # gamma, beta
}


def layer_plan(config: dict) -> list[tuple[str, dict]]:
    """The layers of the engine's MLP, as ``(kind, options)``, in forward order:
    Dense [-> BatchNorm | LayerNorm] -> activation [-> Dropout, the identity here] ... -> Dense
    (the head acts on its output, see :meth:`PortableNetwork.predict`)."""
    unknown = sorted(set(config) - KNOWN_CONFIG)
    if unknown:
        raise ValueError(
            f"model.npz uses architecture keys {unknown} that this portable forward pass does "
            f"not know (known: {sorted(KNOWN_CONFIG)}); log the model with a newer nnexp"
        )
    name = config["activation"]
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; known: {sorted(ACTIVATIONS)}")
    hidden = {"name": name, "kwargs": dict(config.get("activation_kwargs") or {})}
    norm = config.get("norm") or "none"
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; known: {', '.join(NORMS)}")
    eps = config.get("norm_eps")
    if norm != "none" and (
        isinstance(eps, bool) or not isinstance(eps, int | float) or not 0.0 < eps < math.inf
    ):
        raise ValueError(f"norm {norm!r} needs a positive finite norm_eps, got {eps!r}")
    n_dense = len(config["sizes"]) - 1
    plan: list[tuple[str, dict]] = []
    for i in range(n_dense):
        plan.append(("dense", {}))
        if i < n_dense - 1:
            if norm != "none":
                plan.append((f"{norm}_norm", {"eps": float(eps)}))
            plan.append(("activation", hidden))
    return plan


# -- the network ----------------------------------------------------------------------------


class PortableNetwork:
    """A saved network with its input scaling: ``predict(raw features) -> labels or values``.

    ``layers``: ``[(kind, params, options)]``; ``output``: the head (``softmax``, ``sigmoid``
    or ``identity``); ``mean``/``std`` (d,) standardise raw inputs (empty: none);
    ``feature_names`` (d,) name the input columns; ``labels`` (k,) the class label of each
    integer code (see :func:`class_labels`), or None: the codes themselves.
    """

    def __init__(
        self,
        layers: list[tuple[str, list[np.ndarray], dict]],
        output: str,
        dtype: np.dtype,
        mean: np.ndarray,
        std: np.ndarray,
        feature_names: list[str],
        labels: np.ndarray | None = None,
    ) -> None:
        self.layers, self.output, self.dtype = layers, output, dtype
        self.mean, self.std, self.feature_names = mean, std, feature_names
        self.labels = labels

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def features(self, model_input: Any) -> np.ndarray:
        """Raw input -> standardised float64 features (n, d).

        Takes what :func:`.model_input.feature_matrix` takes (exactly the d features: an
        array or list of rows in training order, or a DataFrame or dict of columns named by the
        features, any order; all finite) and raises its :class:`.model_input.InputError`
        otherwise.
        """
        X = feature_matrix(model_input, self.feature_names)
        if self.mean.size:
            X = (X - self.mean) / self.std
        return X

    def logits(self, X: np.ndarray) -> np.ndarray:
        """Standardised features (n, d) -> the last layer's output (n, k), before the head."""
        h = np.asarray(X, dtype=self.dtype)
        for kind, params, options in self.layers:
            h = LAYER_KINDS[kind].forward(h, params, options)
        return h

    def predict(self, model_input: Any) -> np.ndarray:
        """Class labels for softmax (argmax, (n,)) and sigmoid heads (0/1, (n,) for one unit
        else (n, k)); values for identity ((n,) for one unit else (n, k)). With ``labels`` a
        class prediction (n,) holds the original labels (``labels[code]``), not the codes."""
        z = self.logits(self.features(model_input))
        if self.output == "softmax":
            return self._named(z.argmax(axis=1))
        if self.output == "sigmoid":
            codes = (z >= 0.0).astype(np.int64)  # sigmoid(z) >= 0.5  <=>  z >= 0
            return self._named(codes[:, 0]) if codes.shape[1] == 1 else codes
        return z[:, 0].copy() if z.shape[1] == 1 else z

    def _named(self, codes: np.ndarray) -> np.ndarray:
        """Integer codes (n,) -> the class labels (n,), or the codes when none are known."""
        if self.labels is None:
            return codes
        return self.labels[codes]


def _fail(path: Any, problem: str) -> ValueError:
    return ValueError(f"cannot load model from {str(path)!r}: {problem}")


def read_network(path: Any) -> tuple[dict, list[tuple[str, list[np.ndarray], dict]]]:
    """``model.npz`` -> (architecture config, layers ``[(kind, params, options)]``)."""
    with np.load(path, allow_pickle=False) as data:
        if META_KEY not in data.files:
            raise _fail(path, f"not an nnexp model file (no {META_KEY!r} entry)")
        meta = json.loads(str(data[META_KEY]))
        arrays = {k: data[k] for k in data.files if k != META_KEY}
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise _fail(
            path,
            f"format {meta.get('format')!r} version {meta.get('version')!r} "
            f"(expected {FORMAT!r} version {VERSION})",
        )
    config = meta["config"]
    params = _numbered(path, arrays, "param")
    buffers = _numbered(path, arrays, "buffer")
    layers, used, used_buffers = [], 0, 0
    for kind, options in layer_plan(config):
        n, m = LAYER_KINDS[kind].n_params, LAYER_KINDS[kind].n_buffers
        own = params[used : used + n] + buffers[used_buffers : used_buffers + m]
        layers.append((kind, own, options))
        used, used_buffers = used + n, used_buffers + m
    if (used, used_buffers) != (len(params), len(buffers)):
        raise _fail(
            path,
            f"the architecture takes {used} parameter arrays and {used_buffers} buffers, "
            f"the file has {len(params)} and {len(buffers)}",
        )
    return config, layers


def _numbered(path: Any, arrays: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    """``arrays``' entries ``{prefix}_0, {prefix}_1, ...`` in order; a gap is an error."""
    count = sum(1 for key in arrays if key.startswith(f"{prefix}_"))
    expected = [f"{prefix}_{i}" for i in range(count)]
    missing = [key for key in expected if key not in arrays]
    if missing:
        raise _fail(path, f"missing arrays {missing} (found {sorted(arrays)})")
    return [arrays[key] for key in expected]


def class_labels(class_names: Any) -> np.ndarray | None:
    """The labels a classifier returns, from the class names (k,) in code order: int64 when
    every name is an integer (``"0"``, ``"1"``; or a CSV's ``"3"``, ``"7"``), so such data
    keep integer predictions; else the names as strings (``"cat"``, ``"dog"``). None (or no
    names): None, the codes are returned."""
    if class_names is None or len(class_names) == 0:
        return None
    names = [str(name) for name in class_names]
    try:
        values = [int(name) for name in names]
    except ValueError:
        return np.array(names, dtype=str)
    if [str(value) for value in values] != names:  # "007" or " 1": keep the text as given
        return np.array(names, dtype=str)
    return np.array(values, dtype=np.int64)


def load_network(weights: Any, scaler: Any = None) -> PortableNetwork:
    """Load ``model.npz`` and its scaler ``.npz`` (``mean``, ``std``, ``feature_names``,
    ``class_names`` when the model was logged with them)."""
    config, layers = read_network(weights)
    n_features = int(config["sizes"][0])
    mean = std = np.zeros(0)
    names = [f"x{i}" for i in range(n_features)]
    labels = None
    if scaler is not None:
        with np.load(scaler, allow_pickle=False) as data:
            mean, std = data["mean"], data["std"]
            if "feature_names" in data.files:
                names = [str(name) for name in data["feature_names"]]
            if "class_names" in data.files:
                labels = class_labels(data["class_names"])
    k = int(config["sizes"][-1])
    n_codes = {"softmax": k, "sigmoid": 2 if k == 1 else 0}.get(config["output"], 0)
    if labels is not None and len(labels) != n_codes:
        raise _fail(scaler, f"{len(labels)} class names for a {config['output']} head of {k}")
    return PortableNetwork(
        layers, config["output"], np.dtype(config["dtype"]), mean, std, names, labels
    )

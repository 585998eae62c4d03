"""Per-layer training statistics: what the inside of a network does while it trains.

A loss curve says *that* a run underfits; these numbers say *why*: which layer's gradients
vanish, which units are dead or saturated, which layer takes steps too large for its weights.
:class:`LayerProbe` is handed to :func:`nnexp.train.fit`, which calls it on the epochs whose
metrics are logged (``log_every`` thinning: the first, every ``log_every``-th and the last; all
epochs when early stopping may end the run at any one), and adds what it returns to the epoch
record, so the statistics reach MLflow, ``history.csv`` and ``reproduce`` like every other
metric. NumPy only; deterministic (same run, same bits).

Keys, for the k-th dense layer (1-based, ``W1``/``b1`` is layer 1; a norm or dropout layer in
between does not change the numbering)::

    layerk/grad_norm      sqrt(mean over the epoch's batches of ||dW||^2 + ||db||^2): the
                          quadratic mean of the per-batch gradient norm (weights and biases),
                          measured before the optimiser step (before any clipping)
    layerk/weight_norm    ||W|| (Frobenius) at the end of the epoch
    layerk/update_ratio   ||W_after - W_before|| / ||W_before|| of the epoch's last step: the
                          size of one optimiser step (lr * update) relative to the weights
    layerk/preact_mean    mean and standard deviation of the layer's pre-activations (the
    layerk/preact_std     input of its nonlinearity; the logits for the output layer) on the
                          validation split (the training split when there is none)
    layerk/dead_fraction  hidden ReLU-family layers: fraction of units whose pre-activation is
                          <= 0 on every validation sample (they pass no gradient at all)
    layerk/saturated_fraction  hidden sigmoid/tanh layers: fraction of units saturated
                          (sigmoid outside [0.02, 0.98], |tanh| > 0.98) on more than half of
                          the validation samples

Cost: per batch of a probed epoch, two NumPy calls on the flat gradient buffer (square,
accumulate) and one parameter copy before the last step; per probed epoch, a few calls per
layer and one extra eval forward pass over the validation split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .activations import Activation
from .layers import Dense

#: Activations whose negative side is flat (or nearly): a unit never positive learns nothing.
DEAD_UNIT_ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu")
#: |z| beyond which a unit counts as saturated: sigmoid(z) outside [0.02, 0.98] <=> |z| >
#: logit(0.98); |tanh(z)| > 0.98 <=> |z| > atanh(0.98). There the derivative is below
#: ~0.02 (sigmoid) or ~0.04 (tanh): gradients through the unit are all but gone.
SATURATION_Z = {"sigmoid": math.log(0.98 / 0.02), "tanh": math.atanh(0.98)}
#: A unit is saturated when it is saturated on more than this fraction of the samples.
SATURATED_SAMPLE_FRACTION = 0.5
#: Pre-activation values kept per layer in a histogram snapshot (the first rows of the split).
SNAPSHOT_VALUES = 4000

STAT_NAMES = (
    "grad_norm",
    "weight_norm",
    "update_ratio",
    "preact_mean",
    "preact_std",
    "dead_fraction",
    "saturated_fraction",
)


def stat_key(layer: int, name: str) -> str:
    """The record / MLflow metric name of statistic ``name`` of 1-based dense layer ``layer``."""
    return f"layer{layer}/{name}"


def parse_stat_key(key: str) -> tuple[int, str] | None:
    """``"layer2/grad_norm"`` -> ``(2, "grad_norm")``; None for any other key."""
    head, sep, name = key.partition("/")
    if not sep or not head.startswith("layer") or not head[5:].isdigit():
        return None
    return int(head[5:]), name


@dataclass
class Snapshot:
    """Weights ``W`` (d_in, d_out) and pre-activations (m, d_out) per dense layer at one epoch."""

    epoch: int
    weights: list[np.ndarray]
    preacts: list[np.ndarray]


@dataclass
class _LayerView:
    """One dense layer, the nonlinearity after it and its record keys."""

    dense: Any
    activation: str | None  # name of the nonlinearity after it (None: the output layer)
    keys: dict[str, str] = field(default_factory=dict)


class _Segments:
    """Sums over several arrays that are views into one flat buffer, in one ``reduceat`` call
    (a call per array costs more than the arithmetic on small layers)."""

    def __init__(self, cuts: np.ndarray, positions: np.ndarray) -> None:
        self.cuts, self.positions = cuts, positions

    @classmethod
    def of(cls, flat: Any, arrays: list[np.ndarray]) -> _Segments | None:
        """None unless every array is a contiguous view into the 1-D array ``flat``."""
        if not isinstance(flat, np.ndarray) or flat.ndim != 1 or not arrays:
            return None
        base, size = flat.__array_interface__["data"][0], flat.itemsize
        spans = []
        for array in arrays:
            if not (array.flags.c_contiguous and array.dtype == flat.dtype and array.size):
                return None
            start, rem = divmod(array.__array_interface__["data"][0] - base, size)
            if rem or start < 0 or start + array.size > flat.size:
                return None
            spans.append((start, start + array.size))
        cuts = sorted({a for a, _ in spans} | {b for _, b in spans if b < flat.size})
        index = {cut: i for i, cut in enumerate(cuts)}
        return cls(np.array(cuts, np.intp), np.array([index[a] for a, _ in spans], np.intp))

    def sums(self, values: np.ndarray) -> np.ndarray:
        """``[values[span].sum() for span in spans]`` of the arrays given to :meth:`of`."""
        return np.add.reduceat(values, self.cuts)[self.positions]


def middle_logged_epoch(epochs: int, log_every: int) -> int:
    """The logged epoch (first, every ``log_every``-th, last) nearest the middle of ``epochs``,
    the earlier one on a tie; computed, not listed (``trainer.epochs`` may be huge)."""
    twice_middle = 1 + epochs  # integers throughout: exact for any number of epochs
    below = (twice_middle // 2 // log_every) * log_every
    candidates = {1, epochs, *(m for m in (below, below + log_every) if 1 <= m <= epochs)}
    return min(sorted(candidates), key=lambda e: abs(2 * e - twice_middle))


class LayerProbe:
    """Collects the per-layer statistics of one fit (see the module docstring).

    ``model``: an :class:`~nnexp.nn.mlp.MLP` (anything with ``layers`` holding
    :class:`~nnexp.nn.layers.Dense` and :class:`~nnexp.nn.activations.Activation` ops; with
    ``flat_params``/``flat_grads`` buffers the sums take a call each, without them a call per
    array); ``log_every``: the tracking thinning, so only logged epochs are probed;
    ``snapshots``: keep weights and pre-activations of the first, middle and last logged epoch
    for the histograms.
    """

    def __init__(self, model: Any, *, log_every: int = 1, snapshots: bool = True) -> None:
        self.model = model
        self.log_every = max(1, int(log_every))
        self.keep_snapshots = snapshots
        self.snapshots: list[Snapshot] = []
        self.layers = _layer_views(model)
        if not self.layers:
            raise ValueError(f"{type(model).__name__} has no Dense layer to inspect")
        for k, view in enumerate(self.layers, start=1):
            view.keys = {name: stat_key(k, name) for name in STAT_NAMES}
        grads = [a for view in self.layers for a in (view.dense.dW, view.dense.db)]
        self._grads = grads
        self._grad_sums = _Segments.of(getattr(model, "flat_grads", None), grads)
        if self._grad_sums is not None:
            flat = model.flat_grads
            self._flat_grads, self._square, self._acc = (
                flat,
                np.empty_like(flat),
                np.zeros_like(flat),
            )
        else:
            self._acc = np.zeros(len(grads))
        self._weights = [view.dense.W for view in self.layers]
        self._weight_sums = _Segments.of(getattr(model, "flat_params", None), self._weights)
        if self._weight_sums is not None:
            flat = model.flat_params
            self._flat_params, self._before, self._work = (
                flat,
                np.empty_like(flat),
                np.empty_like(flat),
            )
        else:
            self._before = [np.empty_like(W) for W in self._weights]
        self._epochs = 0
        self._every_epoch = False
        self._last_start = 0
        self._batches = 0
        self._stepped = False
        self._snapshot_epochs: set[int] = set()
        self.X: np.ndarray | None = None

    # -- called by fit ------------------------------------------------------------------------
    def begin(self, X: np.ndarray, epochs: int, last_start: int, every_epoch: bool) -> None:
        """Start of fit: ``X`` (n, d_in) the split for the activation pass (validation, else
        train), ``last_start`` the first row of the last batch, ``every_epoch`` when the run
        may stop at any epoch (early stopping), so each epoch must carry its statistics."""
        self.X = X
        self._epochs = int(epochs)
        self._last_start = int(last_start)
        self._every_epoch = bool(every_epoch)
        middle = middle_logged_epoch(self._epochs, self.log_every)
        self._snapshot_epochs = {1, middle, self._epochs}

    def logged(self, epoch: int) -> bool:
        """Whether ``epoch``'s metrics are logged (first, every ``log_every``-th, last)."""
        return epoch == 1 or epoch % self.log_every == 0 or epoch == self._epochs

    def track(self, epoch: int) -> bool:
        """Start of an epoch: True if its batches are to be measured (resets the sums)."""
        if not (self._every_epoch or self.logged(epoch)):
            return False
        self._acc.fill(0.0)
        self._batches = 0
        self._stepped = False
        return True

    def batch(self, start: int) -> None:
        """After a batch's backward pass, before its optimiser step (``start``: first row)."""
        if self._grad_sums is not None:
            np.multiply(self._flat_grads, self._flat_grads, out=self._square)
            self._acc += self._square
        else:
            for i, grad in enumerate(self._grads):
                self._acc[i] += np.vdot(grad, grad)
        self._batches += 1
        if start == self._last_start:
            if self._weight_sums is not None:
                np.copyto(self._before, self._flat_params)
            else:
                for before, W in zip(self._before, self._weights, strict=True):
                    np.copyto(before, W)
            self._stepped = True

    def epoch_stats(self, epoch: int, final: bool = False) -> dict[str, float]:
        """End of a measured epoch: the statistics to add to its record. The activation pass
        runs on logged epochs and when ``final`` (the run stops after this epoch)."""
        sums = self._grad_sums
        squares = sums.sums(self._acc) if sums is not None else self._acc
        grad_norms = np.sqrt((squares[0::2] + squares[1::2]) / max(self._batches, 1)).tolist()
        weights, steps, befores = self._weight_squares()
        stats: dict[str, float] = {}
        for k, view in enumerate(self.layers):
            keys = view.keys
            stats[keys["grad_norm"]] = grad_norms[k]
            stats[keys["weight_norm"]] = weights[k]
            if steps is not None and befores[k] > 0:
                stats[keys["update_ratio"]] = steps[k] / befores[k]
        if (final or self.logged(epoch)) and self.X is not None and len(self.X):
            stats.update(self._activation_stats(epoch, final))
        return {key: value for key, value in stats.items() if math.isfinite(value)}

    def _weight_squares(self) -> tuple[list[float], list[float] | None, list[float]]:
        """||W|| now, ||W - W_before|| and ||W_before|| (the last step's) per layer."""
        if self._weight_sums is not None:
            flat, work = self._flat_params, self._work
            np.multiply(flat, flat, out=work)
            weights = np.sqrt(self._weight_sums.sums(work)).tolist()
            if not self._stepped:
                return weights, None, []
            np.subtract(flat, self._before, out=work)
            work *= work
            steps = np.sqrt(self._weight_sums.sums(work)).tolist()
            np.multiply(self._before, self._before, out=work)
            return weights, steps, np.sqrt(self._weight_sums.sums(work)).tolist()
        weights = [math.sqrt(np.vdot(W, W)) for W in self._weights]
        if not self._stepped:
            return weights, None, []
        pairs = zip(self._weights, self._before, strict=True)
        steps = [float(np.linalg.norm(W - B)) for W, B in pairs]
        return weights, steps, [math.sqrt(np.vdot(B, B)) for B in self._before]

    # -- the activation pass --------------------------------------------------------------------
    def _activation_stats(self, epoch: int, final: bool) -> dict[str, float]:
        """One eval forward pass over ``X``, reading each dense layer's pre-activation."""
        keep = self.keep_snapshots and (final or epoch in self._snapshot_epochs)
        preacts: list[np.ndarray] = []
        stats: dict[str, float] = {}
        model_layers = list(self.model.layers)
        k = 0  # dense layers seen so far
        pending = False  # the last dense layer's pre-activation is not read yet
        h = np.asarray(self.X, dtype=self._weights[0].dtype)
        try:
            for layer in model_layers:
                if isinstance(layer, Activation) and pending:
                    self._read(k, h, stats, preacts if keep else None)
                    pending = False
                h = layer.forward(h, False, None)
                if isinstance(layer, Dense):
                    k += 1
                    pending = True
            if pending:
                self._read(k, h, stats, preacts if keep else None)
        finally:
            for layer in model_layers:
                if not isinstance(layer, Dense):  # Dense keeps nothing in eval mode
                    layer.clear()
        if keep:
            weights = [W.copy() for W in self._weights]
            self.snapshots = [s for s in self.snapshots if s.epoch != epoch]
            self.snapshots.append(Snapshot(epoch, weights, preacts))
        return stats

    def histogram_snapshots(self) -> list[Snapshot]:
        """The snapshots of the first, middle and last logged epoch (fewer if the run ended
        early: the last one taken is then the last column)."""
        return sorted(self.snapshots, key=lambda snap: snap.epoch)[-3:]

    def _read(self, k: int, z: np.ndarray, stats: dict, preacts: list | None) -> None:
        """Statistics of layer ``k``'s pre-activation ``z`` (n, d_out)."""
        view = self.layers[k - 1]
        keys = view.keys
        n, width = z.shape
        # mean and std from the sum and the sum of squares: two BLAS-speed calls instead of
        # numpy's mean/std machinery (which cost more than the forward pass on small layers)
        flat = z.reshape(-1)
        mean = float(flat.sum()) / flat.size
        stats[keys["preact_mean"]] = mean
        stats[keys["preact_std"]] = math.sqrt(
            max(float(np.dot(flat, flat)) / flat.size - mean * mean, 0.0)
        )
        name = view.activation
        if name in DEAD_UNIT_ACTIVATIONS:
            alive = np.count_nonzero(z.max(axis=0) > 0.0)
            stats[keys["dead_fraction"]] = 1.0 - alive / width
        elif name in SATURATION_Z:
            counts = (np.abs(z) > SATURATION_Z[name]).sum(axis=0)
            saturated = np.count_nonzero(counts > SATURATED_SAMPLE_FRACTION * n)
            stats[keys["saturated_fraction"]] = saturated / width
        if preacts is not None:
            rows = max(1, SNAPSHOT_VALUES // max(z.shape[1], 1))
            preacts.append(np.array(z[:rows], copy=True))


def layer_activations(model: Any) -> list[str | None]:
    """The nonlinearity after each dense layer (None for the output layer)."""
    return [view.activation for view in _layer_views(model)]


def _layer_views(model: Any) -> list[_LayerView]:
    views: list[_LayerView] = []
    for layer in model.layers:
        if isinstance(layer, Dense):
            views.append(_LayerView(layer, None))
        elif isinstance(layer, Activation) and views and views[-1].activation is None:
            views[-1].activation = layer.name
    return views

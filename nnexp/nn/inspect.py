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
#: Snapshots (weights, pre-activations) kept for the histograms: at most this many, evenly
#: spaced over the probed epochs (every other one is dropped when the list is full).
MAX_SNAPSHOTS = 9
#: Pre-activation values kept per layer in a snapshot (the first rows of the split).
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
    """One dense layer: its parameters and, where they sit, their range in the flat buffer."""

    dense: Any
    activation: str | None  # name of the nonlinearity after it (None: the output layer)
    spans: list[tuple[int, int]] = field(default_factory=list)  # [start, stop) in flat grads


class LayerProbe:
    """Collects the per-layer statistics of one fit (see the module docstring).

    ``model``: an :class:`~nnexp.nn.mlp.MLP` (anything with ``layers`` holding
    :class:`~nnexp.nn.layers.Dense` and :class:`~nnexp.nn.activations.Activation` ops);
    ``log_every``: the tracking thinning, so only logged epochs are probed;
    ``snapshots``: keep weights and pre-activations for the histograms.
    """

    def __init__(self, model: Any, *, log_every: int = 1, snapshots: bool = True) -> None:
        self.model = model
        self.log_every = max(1, int(log_every))
        self.keep_snapshots = snapshots
        self.snapshots: list[Snapshot] = []
        self.latest: Snapshot | None = None
        self._stride = 1  # keep every _stride-th activation pass as a snapshot
        self._passes = 0
        self.layers = _layer_views(model)
        self._flat = _flat_grads(model, self.layers)
        if self._flat is not None:
            self._square = np.empty_like(self._flat)
            self._acc = np.zeros_like(self._flat)
        else:
            self._acc_layers = np.zeros(len(self.layers))
        self._before = [np.empty_like(view.dense.W) for view in self.layers]
        self._epochs = 0
        self._every_epoch = False
        self._last_start = 0
        self._batches = 0
        self._stepped = False
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

    def logged(self, epoch: int) -> bool:
        """Whether ``epoch``'s metrics are logged (first, every ``log_every``-th, last)."""
        return epoch == 1 or epoch % self.log_every == 0 or epoch == self._epochs

    def track(self, epoch: int) -> bool:
        """Start of an epoch: True if its batches are to be measured (resets the sums)."""
        if not (self._every_epoch or self.logged(epoch)):
            return False
        if self._flat is not None:
            self._acc.fill(0.0)
        else:
            self._acc_layers.fill(0.0)
        self._batches = 0
        self._stepped = False
        return True

    def batch(self, start: int) -> None:
        """After a batch's backward pass, before its optimiser step (``start``: first row)."""
        if self._flat is not None:
            np.multiply(self._flat, self._flat, out=self._square)
            self._acc += self._square
        else:
            for i, view in enumerate(self.layers):
                dense = view.dense
                self._acc_layers[i] += float(
                    np.vdot(dense.dW, dense.dW) + np.vdot(dense.db, dense.db)
                )
        self._batches += 1
        if start == self._last_start:
            for before, view in zip(self._before, self.layers, strict=True):
                np.copyto(before, view.dense.W)
            self._stepped = True

    def epoch_stats(self, epoch: int, final: bool = False) -> dict[str, float]:
        """End of a measured epoch: the statistics to add to its record. The activation pass
        runs on logged epochs and when ``final`` (the run stops after this epoch)."""
        stats: dict[str, float] = {}
        n = max(self._batches, 1)
        for k, view in enumerate(self.layers, start=1):
            W = view.dense.W
            if self._flat is not None:
                sq = sum(float(self._acc[a:b].sum()) for a, b in view.spans)
            else:
                sq = float(self._acc_layers[k - 1])
            stats[stat_key(k, "grad_norm")] = math.sqrt(sq / n)
            w_norm = float(np.linalg.norm(W))
            stats[stat_key(k, "weight_norm")] = w_norm
            if self._stepped:
                before = self._before[k - 1]
                b_norm = float(np.linalg.norm(before))
                step = float(np.linalg.norm(W - before))
                stats[stat_key(k, "update_ratio")] = step / b_norm if b_norm > 0 else math.inf
        if (final or self.logged(epoch)) and self.X is not None and len(self.X):
            stats.update(self._activation_stats(epoch))
        return {key: value for key, value in stats.items() if math.isfinite(value)}

    # -- the activation pass --------------------------------------------------------------------
    def _activation_stats(self, epoch: int) -> dict[str, float]:
        """One eval forward pass over ``X``, reading each dense layer's pre-activation."""
        keep = self.keep_snapshots
        preacts: list[np.ndarray] = []
        stats: dict[str, float] = {}
        model_layers = list(self.model.layers)
        k = 0  # dense layers seen so far
        pending = False  # the last dense layer's pre-activation is not read yet
        h = np.asarray(self.X, dtype=self.layers[0].dense.W.dtype)
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
                layer.clear()
        if keep:
            weights = [view.dense.W.copy() for view in self.layers]
            self.latest = Snapshot(epoch, weights, preacts)
            if self._passes % self._stride == 0:
                self.snapshots.append(self.latest)
                if len(self.snapshots) > MAX_SNAPSHOTS:  # keep the first, then every other one
                    self.snapshots = self.snapshots[::2]
                    self._stride *= 2
            self._passes += 1
        return stats

    def histogram_snapshots(self) -> list[Snapshot]:
        """The first, middle and last snapshots (fewer when fewer epochs were probed)."""
        if self.latest is None:
            return []
        first, last = self.snapshots[0], self.latest
        middle_epoch = (first.epoch + last.epoch) / 2
        middle = min(self.snapshots, key=lambda snap: abs(snap.epoch - middle_epoch))
        chosen = [first, middle, last]
        return [
            snap for i, snap in enumerate(chosen) if snap.epoch not in {s.epoch for s in chosen[:i]}
        ]

    def _read(self, k: int, z: np.ndarray, stats: dict, preacts: list | None) -> None:
        """Statistics of layer ``k``'s pre-activation ``z`` (n, d_out)."""
        view = self.layers[k - 1]
        stats[stat_key(k, "preact_mean")] = float(z.mean())
        stats[stat_key(k, "preact_std")] = float(z.std())
        name = view.activation
        if name in DEAD_UNIT_ACTIVATIONS:
            alive = (z > 0.0).any(axis=0)
            stats[stat_key(k, "dead_fraction")] = 1.0 - float(alive.mean())
        elif name in SATURATION_Z:
            saturated = (np.abs(z) > SATURATION_Z[name]).mean(axis=0) > SATURATED_SAMPLE_FRACTION
            stats[stat_key(k, "saturated_fraction")] = float(saturated.mean())
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


def _flat_grads(model: Any, views: list[_LayerView]) -> np.ndarray | None:
    """The model's flat gradient buffer if every dense gradient is a view into it (then one
    square-and-add per batch covers all layers); each layer's spans are filled in."""
    flat = getattr(model, "flat_grads", None)
    if not isinstance(flat, np.ndarray) or flat.ndim != 1:
        return None
    base = flat.__array_interface__["data"][0]
    size = flat.itemsize
    for view in views:
        view.spans = []
        for grad in (view.dense.dW, view.dense.db):
            if not (grad.flags.c_contiguous and grad.dtype == flat.dtype):
                return None
            start, rem = divmod(grad.__array_interface__["data"][0] - base, size)
            if rem or start < 0 or start + grad.size > flat.size:
                return None
            view.spans.append((start, start + grad.size))
    return flat

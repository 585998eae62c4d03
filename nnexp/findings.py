"""Why a run learns badly: named causes read from the per-layer statistics of its history.

:func:`nnexp.diagnosis.diagnose` says *that* a run underfits or diverged; :func:`find_causes`
says *why*, from the ``layerk/...`` values that :class:`nnexp.nn.inspect.LayerProbe` put into
the epoch records. Each :class:`Finding` has a name, the layer, one sentence with the numbers,
and the numbers themselves (they go to ``diagnosis.json``, the run's tags and the console).

Vanishing gradients are not named when a layer has dead units (they block the gradient
entirely: the dead units are the cause). Exploding gradients are not judged by growth since
the first epoch: a tiny initialisation grows its gradients a hundredfold while learning well.

Two windows are read: the *late window* (the probed epochs in the last ``LATE_FRACTION`` of the
run, medians over it, so one noisy epoch neither makes nor hides a finding) and the *last
activation pass* (dead and saturated units are a state of the network at the end).
A history without layer statistics (``trainer.inspect=false``) has no findings.
Plain Python.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEAD_FRACTION",
    "EXPLODING_DEPTH_RATIO",
    "EXPLODING_GRAD_TO_WEIGHT",
    "LATE_FRACTION",
    "SATURATED_FRACTION",
    "STEP_RATIO",
    "VANISHING_RATIO",
    "Finding",
    "find_causes",
]

#: The late window: probed epochs in the last half of the run. Early epochs are transients
#: (the first steps of Adam, the initialisation); a cause must persist to be named.
LATE_FRACTION = 0.5
#: vanishing gradients: layer 1's gradient norm is at most this fraction of the largest layer's
#: (late-window medians). A sigmoid's derivative is at most 1/4, so each sigmoid layer can shrink
#: the gradient about four-fold; two decades mean the first layer barely learns while the last
#: ones do. Healthy tanh/ReLU networks measured here stay within a factor of ten.
VANISHING_RATIO = 1e-2
#: exploding gradients, through depth: layer 1's gradient norm is at least this multiple of the
#: last layer's (late-window medians): the mirror image of vanishing.
EXPLODING_DEPTH_RATIO = 1e2
#: exploding gradients, against the weights: at some probed epoch a layer's gradient norm is at
#: least this multiple of its weight norm: any usable learning rate then rewrites the layer in
#: one step (healthy runs measured here stay below 1).
EXPLODING_GRAD_TO_WEIGHT = 10.0
#: dead units: at least this fraction of a ReLU-family layer's units is never active on the
#: validation split at the last activation pass. A few dead units are normal (Xavier-initialised
#: ReLU nets here had up to 30 %); half of a layer is lost capacity.
DEAD_FRACTION = 0.5
#: saturation: at least this fraction of a sigmoid/tanh layer's units is saturated on most of the
#: validation split at the last activation pass: their derivative is below ~0.04, so gradients
#: through them are all but gone.
SATURATED_FRACTION = 0.5
#: step too large: the late-window median of a layer's update/weight ratio (one optimiser step's
#: change of ``W`` over ``||W||``) is at least this. The rule of thumb is about 1e-3; at 0.1 ten
#: steps rewrite the layer and the optimiser rattles around instead of descending.
STEP_RATIO = 0.1


@dataclass(frozen=True)
class Finding:
    """One named cause: ``name`` (e.g. ``"dead units"``), the 1-based ``layer`` (None when it
    concerns the network), one sentence ``text`` with the numbers, and the ``numbers``."""

    name: str
    layer: int | None
    text: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "layer": self.layer, "text": self.text, **self.numbers}

    @property
    def tag_key(self) -> str:
        """``diagnosis.cause.dead_units.layer2``: one tag per finding."""
        slug = self.name.replace(" ", "_")
        return f"diagnosis.cause.{slug}" + (f".layer{self.layer}" if self.layer else "")

    def __str__(self) -> str:
        return self.text


def find_causes(history: Any, activations: list[str | None] | None = None) -> list[Finding]:
    """The findings of a training ``history`` (see the module docstring for the rules).

    ``activations``: the nonlinearity after each dense layer (``nnexp.nn.inspect.
    layer_activations(model)``), only to name it in the sentences.
    """
    series = _series(history.epochs)
    if not series:
        return []
    n_layers = max(series)
    names = list(activations or []) + [None] * n_layers
    last_epoch = int(history.epochs[-1]["epoch"]) if history.epochs else 0
    late_from = last_epoch * (1.0 - LATE_FRACTION)
    findings: list[Finding] = []

    def late_median(layer: int, stat: str) -> float | None:
        points = series.get(layer, {}).get(stat, [])
        late = [v for e, v in points if e > late_from] or [v for _, v in points[-1:]]
        return statistics.median(late) if late else None

    def last(layer: int, stat: str) -> tuple[int, float] | None:
        points = series.get(layer, {}).get(stat, [])
        return points[-1] if points else None

    def act(layer: int) -> str:
        name = names[layer - 1]
        return f" ({name})" if name else ""

    window = f"over the last {LATE_FRACTION:.0%} of epochs"

    # -- vanishing / exploding through depth
    grads = {k: late_median(k, "grad_norm") for k in range(1, n_layers + 1)}
    grads = {k: v for k, v in grads.items() if v is not None}
    if len(grads) >= 2 and 1 in grads:
        top = max(grads, key=lambda k: grads[k])
        dead = [k for k in range(1, n_layers + 1) if _is_dead(last(k, "dead_fraction"))]
        # a dead layer passes no gradient at all: that is the cause to name, not "vanishing"
        if not dead and grads[top] > 0 and grads[1] / grads[top] <= VANISHING_RATIO:
            ratio = grads[1] / grads[top]
            findings.append(
                Finding(
                    "vanishing gradients",
                    1,
                    f"vanishing gradients: layer 1's gradient norm is {ratio:.1e} of layer "
                    f"{top}'s {window} ({grads[1]:.2e} vs {grads[top]:.2e}; named at <= "
                    f"{VANISHING_RATIO:g})",
                    {
                        "ratio": ratio,
                        "layer1_grad_norm": grads[1],
                        "max_layer": top,
                        "max_grad_norm": grads[top],
                    },
                )
            )
        out = max(grads)
        if grads[out] > 0 and grads[1] / grads[out] >= EXPLODING_DEPTH_RATIO:
            ratio = grads[1] / grads[out]
            findings.append(
                Finding(
                    "exploding gradients",
                    1,
                    f"exploding gradients: layer 1's gradient norm is {ratio:.3g}x layer "
                    f"{out}'s {window} (named at >= {EXPLODING_DEPTH_RATIO:g}x)",
                    {"ratio": ratio, "layer1_grad_norm": grads[1], "last_grad_norm": grads[out]},
                )
            )

    # -- exploding against the weights (the worst layer and epoch only)
    if not any(f.name == "exploding gradients" for f in findings):
        explosion = _explosion(series, n_layers)
        if explosion is not None:
            findings.append(explosion)

    # -- dead and saturated units, step size: per layer
    for k in range(1, n_layers + 1):
        dead = last(k, "dead_fraction")
        if dead is not None and dead[1] >= DEAD_FRACTION:
            findings.append(
                Finding(
                    "dead units",
                    k,
                    f"dead units: {dead[1]:.0%} of layer {k}{act(k)} never active on the "
                    f"validation split at epoch {dead[0]} (named at >= {DEAD_FRACTION:.0%})",
                    {"fraction": dead[1], "epoch": dead[0]},
                )
            )
        saturated = last(k, "saturated_fraction")
        if saturated is not None and saturated[1] >= SATURATED_FRACTION:
            findings.append(
                Finding(
                    "saturation",
                    k,
                    f"saturation: {saturated[1]:.0%} of layer {k}{act(k)} saturated on most of "
                    f"the validation split at epoch {saturated[0]} (named at >= "
                    f"{SATURATED_FRACTION:.0%})",
                    {"fraction": saturated[1], "epoch": saturated[0]},
                )
            )
        ratio = late_median(k, "update_ratio")
        if ratio is not None and ratio >= STEP_RATIO:
            findings.append(
                Finding(
                    "step too large",
                    k,
                    f"step too large for layer {k}: update/weight {ratio:.2g} {window} (rule "
                    f"of thumb ~1e-3, named at >= {STEP_RATIO:g}): lower the learning rate",
                    {"update_ratio": ratio},
                )
            )
    return findings


def _is_dead(point: tuple[int, float] | None) -> bool:
    return point is not None and point[1] >= DEAD_FRACTION


def _explosion(series: dict, n_layers: int) -> Finding | None:
    worst: tuple[float, Finding] | None = None
    for k in range(1, n_layers + 1):
        grad = series.get(k, {}).get("grad_norm", [])
        weight = dict(series.get(k, {}).get("weight_norm", []))
        for epoch, value in grad:
            w = weight.get(epoch)
            if w and value / w >= EXPLODING_GRAD_TO_WEIGHT:
                score = value / w / EXPLODING_GRAD_TO_WEIGHT
                text = (
                    f"exploding gradients: layer {k}'s gradient norm {value:.3g} is "
                    f"{value / w:.3g}x its weight norm {w:.3g} at epoch {epoch} (named at >= "
                    f"{EXPLODING_GRAD_TO_WEIGHT:g}x)"
                )
                numbers = {"grad_to_weight": value / w, "grad_norm": value, "epoch": epoch}
                if worst is None or score > worst[0]:
                    worst = (score, Finding("exploding gradients", k, text, numbers))
    return worst[1] if worst is not None else None


def _series(records: list[dict]) -> dict[int, dict[str, list[tuple[int, float]]]]:
    """``{layer: {stat: [(epoch, value), ...]}}`` from the records' ``layerk/stat`` keys."""
    out: dict[int, dict[str, list[tuple[int, float]]]] = {}
    for record in records:
        epoch = int(record["epoch"])
        for key, value in record.items():
            head, sep, stat = key.partition("/")
            if not (sep and head.startswith("layer") and head[5:].isdigit()):
                continue
            if not isinstance(value, int | float) or not math.isfinite(value):
                continue
            layer = int(head[5:])
            out.setdefault(layer, {}).setdefault(stat, []).append((epoch, float(value)))
    return out

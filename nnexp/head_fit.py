"""Refuse an output head that cannot learn the data's task, before anything is recorded.

``model.output`` and ``model.loss`` are each valid alone (see :mod:`nnexp.config.validate`),
but not every pair fits every task: an ``identity`` head on class labels wanted ``(n, k)``
float targets and failed in the first batch, a ``sigmoid`` head with ``bce`` on a regression
target failed computing the baseline; both as a ``ValueError`` (exit 1), the first after its
MLflow run had been created (a FAILED run). Here each is one :class:`ConfigError` line naming
the bad value and the valid choices, raised by :func:`nnexp.build.resolve_head`, which every
run, sweep (its base config and the ends of its space) and multirun check goes through before
a run exists.

The valid heads, per task (``auto`` picks the first):

* classification, 2 classes: ``sigmoid`` (bce or mse), ``softmax`` (cross_entropy or mse);
* classification, more classes: ``softmax`` (cross_entropy or mse);
* regression: ``identity`` (mse), ``sigmoid`` with ``mse`` (targets in (0, 1)).
"""

from __future__ import annotations

from typing import Any

from nnexp.errors import ConfigError


def valid_outputs(dataset: Any) -> list[str]:
    """The ``model.output`` values that fit ``dataset``'s task (``auto`` first)."""
    if dataset.task != "classification":
        return ["auto", "identity", "sigmoid (with model.loss=mse)"]
    if dataset.n_classes == 2:
        return ["auto", "sigmoid", "softmax"]
    return ["auto", "softmax"]


def valid_losses(output: str, task: str) -> list[str]:
    """The ``model.loss`` values that fit the (resolved) ``output`` on ``task`` (``auto``
    first when it picks a fitting loss: not for sigmoid on regression, where it picks bce)."""
    from nnexp.nn.heads import VALID_PAIRS

    if (output, task) == ("sigmoid", "regression"):
        return ["mse"]
    return ["auto", *(loss for out, loss in VALID_PAIRS if out == output)]


def _describe(dataset: Any) -> str:
    if dataset.task == "classification":
        return f"the classification data set {dataset.name!r} ({dataset.n_classes} classes)"
    return f"the regression data set {dataset.name!r}"


def check_head_fits(model: Any, output: str, loss: str, dataset: Any) -> None:
    """Raise ConfigError unless the resolved ``(output, loss)`` head fits ``dataset``.

    ``model`` holds the values as given (``model.output``, ``model.loss``, maybe ``auto``);
    ``output`` and ``loss`` are what ``auto`` resolved to; ``dataset`` has ``task``, ``name``
    and, for classification, ``n_classes``."""
    given_output = model.output
    outputs = valid_outputs(dataset)
    fits_task = (
        output != "identity" and (output != "sigmoid" or dataset.n_classes == 2)
        if dataset.task == "classification"
        else output != "softmax" and (output, loss) != ("sigmoid", "bce")
    )
    if not fits_task:
        if output == "sigmoid" and dataset.task != "classification":
            picked = " (auto picks bce)" if model.loss == "auto" else ""
            raise ConfigError(
                f"model.output='sigmoid' with model.loss={model.loss!r}{picked} is invalid for "
                f"{_describe(dataset)}: bce is for classification; valid outputs: "
                f"{', '.join(outputs)}"
            )
        raise ConfigError(
            f"model.output={given_output!r} is invalid for {_describe(dataset)}: valid outputs: "
            f"{', '.join(outputs)}"
        )
    losses = valid_losses(output, dataset.task)
    if loss not in losses:
        picked = f" (auto picks {output} here)" if given_output == "auto" else ""
        raise ConfigError(
            f"model.loss={model.loss!r} is invalid with model.output={given_output!r}{picked} on "
            f"{_describe(dataset)}: valid losses: {', '.join(losses)}"
        )

"""Turn a validated config into the objects a run needs: splits, model, optimiser, schedule.

This is the one place that knows how config keys map onto the engine's and the data layer's
arguments; it imports neither Hydra nor MLflow, so it serves runs, sweeps and tests alike.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from nnexp.errors import ConfigError, NnexpError

DATA_KEYS = (
    "n_samples",
    "noise",
    "factor",
    "n_arms",
    "centers",
    "n_features",
    "cluster_std",
    "path",
    "target",
    "task",
)
SPLIT_KEYS = (
    "val_fraction",
    "test_fraction",
    "n_train",
    "label_noise",
    "input_noise",
    "standardize",
)


def data_seed(data: Any, seed: int) -> int:
    """The seed of the data: ``data.seed`` when set, else the run's ``seed``."""
    value = data.get("seed")
    return int(seed if value is None else value)


def build_dataset(data: Any, seed: int) -> Any:
    """Load the dataset named by ``data.name`` with the generator knobs its loader takes
    (``seed`` is the run's seed; ``data.seed`` overrides it)."""
    from nnexp.data import DATASETS, load_dataset

    seed = data_seed(data, seed)
    loader = DATASETS[data.name]
    accepted = inspect.signature(loader).parameters
    kwargs = {key: data[key] for key in DATA_KEYS if key in accepted}
    if "seed" in accepted:
        kwargs["seed"] = seed
    try:
        return load_dataset(data.name, **kwargs)
    except (ValueError, OSError) as exc:
        raise NnexpError(f"data={data.name}: {_first_line(exc)}") from None


def build_splits(data: Any, seed: int) -> tuple[Any, Any]:
    """``(dataset, splits)`` for the data config; bad data raises a one-line NnexpError.
    ``seed`` is the run's seed; ``data.seed`` overrides it."""
    from nnexp.data import make_splits

    seed = data_seed(data, seed)
    dataset = build_dataset(data, seed)
    try:
        splits = make_splits(dataset, seed=seed, **{key: data[key] for key in SPLIT_KEYS})
    except ValueError as exc:
        raise NnexpError(f"data={data.name}: {_first_line(exc)}") from None
    return dataset, splits


def resolve_head(model: Any, dataset: Any) -> tuple[str, str, int]:
    """``(output, loss, n_outputs)``: "auto" picks the head that fits the task."""
    output, loss = model.output, model.loss
    if dataset.task == "classification":
        binary = dataset.n_classes == 2
        if output == "auto":
            output = "sigmoid" if binary else "softmax"
        n_outputs = 1 if output == "sigmoid" and binary else dataset.n_classes
    else:
        if output == "auto":
            output = "identity"
        n_outputs = 1 if dataset.y.ndim == 1 else dataset.y.shape[1]
    if loss == "auto":
        loss = {"softmax": "cross_entropy", "sigmoid": "bce"}.get(output, "mse")
    if output == "softmax" and dataset.task != "classification":
        raise ConfigError(
            f"model.output='softmax' is invalid for the regression data set {dataset.name!r}: "
            "use identity (or auto)"
        )
    if output == "sigmoid" and dataset.task == "classification" and dataset.n_classes > 2:
        raise ConfigError(
            f"model.output='sigmoid' is invalid for {dataset.n_classes} classes: "
            "use softmax (or auto)"
        )
    return output, loss, n_outputs


def build_model(model: Any, dataset: Any, seed: int) -> Any:
    """The MLP for ``dataset``: inputs from its features, outputs from its task."""
    from nnexp.nn import MLP

    output, loss, n_outputs = resolve_head(model, dataset)
    sizes = [dataset.X.shape[1], *model.hidden_sizes, n_outputs]
    init_kwargs = {"init_kwargs": {"std": model.init_std}} if model.init == "normal" else {}
    try:
        return MLP(
            sizes,
            activation=model.activation,
            output=output,
            loss=loss,
            init=model.init,
            dropout=model.dropout,
            dtype=np.dtype(model.dtype),
            rng=np.random.default_rng([seed, 0]),
            **init_kwargs,
        )
    except ValueError as exc:
        raise ConfigError(f"model: {_first_line(exc)}") from None


def build_optimizer(opt: Any, params: list[np.ndarray]) -> Any:
    from nnexp.nn import make_optimizer

    kwargs: dict[str, Any] = {"weight_decay": opt.weight_decay}
    if opt.name in ("momentum", "nesterov"):
        kwargs["momentum"] = opt.momentum
    elif opt.name in ("adam", "adamw"):
        kwargs.update(betas=tuple(opt.betas), eps=opt.eps)
    elif opt.name == "rmsprop":
        kwargs.update(alpha=opt.alpha, eps=opt.eps, momentum=opt.momentum)
    try:
        return make_optimizer(opt.name, params, lr=opt.lr, **kwargs)
    except ValueError as exc:
        raise ConfigError(f"optimizer: {_first_line(exc)}") from None


def build_schedule(opt: Any, epochs: int) -> Any:
    from nnexp.nn import make_schedule

    sched = opt.schedule
    kwargs: dict[str, Any] = {"warmup_epochs": sched.warmup_epochs}
    if sched.name == "step":
        kwargs.update(step_size=sched.step_size, gamma=sched.gamma)
    elif sched.name == "exponential":
        kwargs.update(gamma=sched.gamma)
    elif sched.name == "cosine":
        kwargs.update(total_epochs=epochs, min_lr=sched.min_lr)
    try:
        return make_schedule(sched.name, base_lr=opt.lr, **kwargs)
    except ValueError as exc:
        raise ConfigError(f"optimizer.schedule: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

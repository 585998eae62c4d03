"""Turn a validated config into the objects a run needs: splits, model, optimiser, schedule.

This is the one place that knows how config keys map onto the engine's and the data layer's
arguments; it imports neither Hydra nor MLflow, so it serves runs, sweeps and tests alike.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from nnexp.errors import ConfigError, NnexpError, first_line

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
        raise NnexpError(f"data={data.name}: {first_line(exc)}") from None


def build_splits(data: Any, seed: int) -> tuple[Any, Any]:
    """``(dataset, splits)`` for the data config; bad data raises a one-line NnexpError.
    ``seed`` is the run's seed; ``data.seed`` overrides it."""
    from nnexp.data import make_splits

    seed = data_seed(data, seed)
    dataset = build_dataset(data, seed)
    try:
        splits = make_splits(dataset, seed=seed, **{key: data[key] for key in SPLIT_KEYS})
    except ValueError as exc:
        raise NnexpError(f"data={data.name}: {first_line(exc)}") from None
    return dataset, splits


def resolve_head(model: Any, dataset: Any) -> tuple[str, str, int]:
    """``(output, loss, n_outputs)``: "auto" picks the head that fits the task; a head that
    does not fit it is a ConfigError (:mod:`nnexp.head_fit`)."""
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
    from nnexp.head_fit import check_head_fits

    check_head_fits(model, output, loss, dataset)  # e.g. identity on class labels: refused
    return output, loss, n_outputs


def build_model(model: Any, dataset: Any, seed: int, *, class_weight: Any = None) -> Any:
    """The MLP for ``dataset``: inputs from its features, outputs from its task.
    ``class_weight``: the loss's class weights (see :func:`class_weights`) or None."""
    from nnexp.nn import MLP

    output, loss, n_outputs = resolve_head(model, dataset)
    sizes = [dataset.X.shape[1], *model.hidden_sizes, n_outputs]
    init_kwargs = {}
    if model.init == "normal":
        init_kwargs = {"init_kwargs": {"std": 1.0 if model.init_std is None else model.init_std}}
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
            norm=model.norm,
            norm_eps=model.norm_eps,
            norm_momentum=model.norm_momentum,
            label_smoothing=model.label_smoothing,
            class_weight=class_weight,
            **init_kwargs,
        )
    except ValueError as exc:
        raise ConfigError(f"model: {first_line(exc)}") from None


def class_weights(data: Any, splits: Any, dataset: Any) -> list[float] | None:
    """``data.class_weight`` as one weight per class: None, the list given, or "balanced":
    ``n / (k * count_c)`` over the training split's labels (sklearn's
    ``compute_class_weight("balanced")``)."""
    value = data.get("class_weight")
    if value is None:
        return None
    if dataset.task != "classification":
        raise ConfigError(
            f"data.class_weight={value!r} is invalid: data={data.name} is a regression data set"
        )
    k = int(dataset.n_classes)
    if value == "balanced":
        y = np.asarray(splits.train.y).astype(np.int64).reshape(-1)
        counts = np.bincount(y, minlength=k)
        if np.any(counts == 0):
            raise ConfigError(
                f"data.class_weight='balanced' is invalid: class {int(np.argmin(counts))} has no "
                "training sample"
            )
        return [float(len(y) / (k * c)) for c in counts]
    weights = [float(w) for w in value]
    if len(weights) != k:
        raise ConfigError(
            f"data.class_weight={weights} is invalid: data={data.name} has {k} classes "
            f"(give {k} weights or balanced)"
        )
    return weights


#: optimiser keys passed on when set (null = the optimiser's default)
OPTIMIZER_KEYS = (
    "momentum",
    "dampening",
    "nesterov",
    "betas",
    "eps",
    "alpha",
    "amsgrad",
    "centered",
)


def optimizer_kwargs(opt: Any) -> dict[str, Any]:
    """The engine's keyword arguments for ``opt``; a set key the optimiser does not take is a
    ConfigError naming the key and the optimiser."""
    from nnexp.nn import OPTIMIZERS

    cls = OPTIMIZERS[opt.name]
    takes = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "params")]
    kwargs: dict[str, Any] = {"weight_decay": opt.weight_decay}
    for key in OPTIMIZER_KEYS:
        value = opt.get(key)
        if value is None:
            continue
        if key not in takes:
            shown = list(value) if key == "betas" else value
            raise ConfigError(
                f"optimizer.{key}={shown!r} is invalid: it has no effect on optimizer={opt.name} "
                f"(it takes: {', '.join(takes)})"
            )
        kwargs[key] = tuple(value) if key == "betas" else value
    return kwargs


def build_optimizer(opt: Any, params: list[np.ndarray]) -> Any:
    from nnexp.nn import make_optimizer

    kwargs = optimizer_kwargs(opt)
    try:
        return make_optimizer(opt.name, params, lr=opt.lr, **kwargs)
    except ValueError as exc:
        raise ConfigError(f"optimizer: {first_line(exc)}") from None


#: schedule keys each schedule takes (beside name, interval, warmup_epochs), with the engine's
#: argument name
SCHEDULE_KEYS = {
    "constant": {},
    "step": {"step_size": "step_size", "gamma": "gamma"},
    "exponential": {"gamma": "gamma"},
    "cosine": {"min_lr": "min_lr"},
    "one_cycle": {
        "pct_start": "pct_start",
        "div_factor": "div_factor",
        "final_div_factor": "final_div_factor",
        "anneal_strategy": "anneal_strategy",
        "three_phase": "three_phase",
    },
    "reduce_on_plateau": {
        "monitor": "monitor",
        "mode": "mode",
        "factor": "factor",
        "patience": "patience",
        "threshold": "threshold",
        "threshold_mode": "threshold_mode",
        "cooldown": "cooldown",
        "min_lr": "min_lr",
    },
}
ALL_SCHEDULE_KEYS = sorted({k for keys in SCHEDULE_KEYS.values() for k in keys})


def schedule_interval(sched: Any) -> str:
    """``epoch`` or ``step``: as set, else ``step`` for one_cycle and ``epoch`` otherwise."""
    if sched.get("interval") is not None:
        return str(sched.interval)
    return "step" if sched.name == "one_cycle" else "epoch"


def schedule_kwargs(sched: Any) -> dict[str, Any]:
    """The set keys of ``sched`` that its schedule takes; any other set key is a ConfigError
    naming the key and the schedule."""
    takes = SCHEDULE_KEYS[sched.name]
    kwargs: dict[str, Any] = {}
    for key in ALL_SCHEDULE_KEYS:
        value = sched.get(key)
        if value is None:
            continue
        if key not in takes:
            valid = ", ".join(["interval", "warmup_epochs", *takes])
            raise ConfigError(
                f"optimizer.schedule.{key}={value!r} is invalid: it has no effect on "
                f"schedule {sched.name} (it takes: {valid})"
            )
        kwargs[takes[key]] = value
    if sched.name == "reduce_on_plateau":
        if schedule_interval(sched) != "epoch":
            raise ConfigError(
                "optimizer.schedule.interval='step' is invalid: reduce_on_plateau reads a "
                "per-epoch metric (use interval=epoch)"
            )
        if sched.warmup_epochs:
            raise ConfigError(
                f"optimizer.schedule.warmup_epochs={sched.warmup_epochs} is invalid: it has no "
                "effect on schedule reduce_on_plateau"
            )
    return kwargs


def build_schedule(opt: Any, epochs: int, steps_per_epoch: int = 1) -> Any:
    """The closed-form schedule ``t -> lr`` (``t`` counts epochs, or steps with
    ``interval=step``: then ``steps_per_epoch`` is needed); None for reduce_on_plateau (see
    :func:`build_training`)."""
    from nnexp.nn import make_schedule

    sched = opt.schedule
    kwargs = schedule_kwargs(sched)
    if sched.name == "reduce_on_plateau":
        return None
    unit = steps_per_epoch if schedule_interval(sched) == "step" else 1
    kwargs["warmup_epochs"] = sched.warmup_epochs * unit
    if sched.name == "cosine":
        kwargs["total_epochs"] = epochs * unit
    elif sched.name == "one_cycle":
        kwargs["total_steps"] = epochs * unit
    try:
        return make_schedule(sched.name, base_lr=opt.lr, **kwargs)
    except ValueError as exc:
        raise ConfigError(f"optimizer.schedule: {first_line(exc)}") from None


def build_training(cfg: Any, model: Any, splits: Any, task: str) -> tuple[Any, Any, list[Any]]:
    """``(optimizer, epoch schedule or None, callbacks)`` for :func:`nnexp.train.fit`.

    The optimiser is wrapped in :class:`nnexp.nn.GradientStep` when the L1 penalty, clipping
    or a per-step schedule is on; reduce_on_plateau comes back as a callback."""
    from nnexp.metrics import metric_names
    from nnexp.nn import GradientStep, ReduceLROnPlateau

    opt, trainer = cfg.optimizer, cfg.trainer
    n_train = len(splits.train.X)
    batch = trainer.batch_size or n_train
    steps_per_epoch = -(-n_train // batch)
    if model.norm == "batch" and (batch == 1 or n_train % batch == 1):
        raise ConfigError(
            f"trainer.batch_size={trainer.batch_size} is invalid with model.norm=batch: it "
            f"leaves a batch of 1 of the {n_train} training samples (BatchNorm needs >= 2 "
            "per batch, as torch)"
        )
    optimizer = build_optimizer(opt, model.params)
    schedule = build_schedule(opt, trainer.epochs, steps_per_epoch)
    callbacks: list[Any] = []
    if opt.schedule.name == "reduce_on_plateau":
        kwargs = schedule_kwargs(opt.schedule)
        monitor = kwargs.get("monitor", "val_loss")
        recorded = [f"{p}_{m}" for p in ("train", "val") for m in metric_names(task)]
        if splits.val is None:
            recorded = [k for k in recorded if k.startswith("train_")]
        if trainer.clip_grad_norm is not None or trainer.clip_grad_value is not None:
            recorded.append("grad_norm")
        if monitor not in recorded:
            raise ConfigError(
                f"optimizer.schedule.monitor={monitor!r} is invalid: valid choices: "
                f"{', '.join(recorded)}"
            )
        try:
            callbacks.append(ReduceLROnPlateau(optimizer, **kwargs))
        except ValueError as exc:
            raise ConfigError(f"optimizer.schedule: {first_line(exc)}") from None
    step_schedule = schedule if schedule_interval(opt.schedule) == "step" else None
    if (
        step_schedule is not None
        or opt.l1
        or trainer.clip_grad_norm is not None
        or trainer.clip_grad_value is not None
    ):
        optimizer = GradientStep(
            optimizer,
            l1=opt.l1,
            clip_grad_norm=trainer.clip_grad_norm,
            clip_grad_value=trainer.clip_grad_value,
            step_schedule=step_schedule,
        )
    return optimizer, (None if step_schedule is not None else schedule), callbacks

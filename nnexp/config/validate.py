"""Semantic checks on a composed config, run before any data is loaded or MLflow run exists.

The schema (:mod:`nnexp.config.schema`) already guarantees types; these checks guarantee ranges
and names. Each failure is a :class:`ConfigError` with one line that names the key, the bad
value and what is valid, e.g. ``optimizer.lr=-1.0 is invalid: must be > 0``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from nnexp.errors import ConfigError

DTYPES = ("float64", "float32")
TASKS = ("auto", "classification", "regression")
OUTPUTS_AUTO = "auto"
#: the config's numbers are finite, except these, where ``inf`` means "no limit"
UNBOUNDED_KEYS = ("trainer.divergence_bound",)


def validate_config(cfg: Any, overrides: Sequence[str] = (), *, effect: bool = True) -> None:
    """Raise :class:`ConfigError` for the first invalid value in ``cfg``.

    ``overrides`` are the lines the user gave (command line, a sweep trial's lines): a value
    they give that would have no effect is refused (:mod:`nnexp.config.effect`). ``effect=False``
    skips that check: ``reproduce`` replays a recorded config, where such a value had no effect
    when the run was made either (a run recorded before the check existed)."""
    for group in ("data", "model", "optimizer", "trainer", "tracking", "launcher"):
        if cfg.get(group) is not None:
            _check_finite(group, cfg[group])
    _validate_data(cfg.data)
    _validate_model(cfg.model)
    _validate_optimizer(cfg.optimizer)
    _validate_trainer(cfg.trainer)
    _positive_int("tracking.log_every", cfg.tracking.log_every)
    if cfg.tracking.enabled and not str(cfg.tracking.uri).strip():
        _fail(
            "tracking.uri",
            cfg.tracking.uri,
            "must be a tracking URI such as sqlite:///mlruns/mlflow.db",
        )
    _validate_warmup(cfg.optimizer.schedule, cfg.trainer.epochs)
    if effect:
        from nnexp.config.effect import check_values_take_effect

        check_values_take_effect(cfg, overrides)


def _validate_warmup(sched: Any, epochs: int) -> None:
    """cosine decays over the epochs after the warm-up: it needs at least one."""
    if sched.name == "cosine" and sched.warmup_epochs >= epochs:
        _fail(
            "optimizer.schedule.warmup_epochs",
            sched.warmup_epochs,
            f"must be < trainer.epochs={epochs} (cosine decays over the epochs after the warm-up)",
        )


def _validate_data(data: Any) -> None:
    from nnexp.data import DATASETS

    _choice("data.name", data.name, DATASETS)
    _choice("data.task", data.task, TASKS)
    _positive_int("data.n_samples", data.n_samples)
    _at_least("data.noise", data.noise, 0.0)
    _fraction("data.val_fraction", data.val_fraction, allow_zero=True)
    _fraction("data.test_fraction", data.test_fraction, allow_zero=True)
    if data.val_fraction + data.test_fraction >= 1.0:
        _fail(
            "data.val_fraction + data.test_fraction",
            data.val_fraction + data.test_fraction,
            "must be < 1 (something must be left to train on)",
        )
    if data.n_train is not None:
        _positive_int("data.n_train", data.n_train)
    if data.get("seed") is not None:
        _at_least("data.seed", data.seed, 0)
    _fraction("data.label_noise", data.label_noise, allow_zero=True)
    _at_least("data.input_noise", data.input_noise, 0.0)
    _validate_class_weight(data.get("class_weight"))
    if data.name == "csv":
        for key in ("path", "target"):
            if not data[key]:
                _fail(f"data.{key}", data[key], "is required for data=csv")


def _validate_class_weight(weights: Any) -> None:
    from omegaconf import ListConfig

    if weights is None or weights == "balanced":
        return
    is_list = isinstance(weights, list | tuple | ListConfig)
    if not is_list or not all(
        isinstance(w, int | float) and not isinstance(w, bool) and w > 0 for w in weights
    ):
        _fail(
            "data.class_weight",
            list(weights) if is_list else weights,
            "valid choices: null, balanced, or a list of positive weights, one per class",
        )


def _validate_model(model: Any) -> None:
    from nnexp.nn import ACTIVATIONS, INITIALIZERS, LOSSES, NORMS, OUTPUTS

    for index, size in enumerate(model.hidden_sizes):
        if size < 1:
            _fail(f"model.hidden_sizes[{index}]", size, "must be an integer >= 1")
    _choice("model.activation", model.activation, ACTIVATIONS)
    _choice("model.output", model.output, [OUTPUTS_AUTO, *OUTPUTS])
    _choice("model.loss", model.loss, [OUTPUTS_AUTO, *LOSSES])
    _choice("model.init", model.init, [*INITIALIZERS, "tutorial"])
    if not 0.0 <= model.dropout < 1.0:
        _fail("model.dropout", model.dropout, "must be in [0, 1)")
    _choice("model.dtype", model.dtype, DTYPES)
    if model.init_std is not None:
        if model.init != "normal":
            _fail("model.init_std", model.init_std, f"has no effect on model.init={model.init}")
        if model.init_std <= 0:
            _fail("model.init_std", model.init_std, "must be > 0")
    _choice("model.norm", model.norm, NORMS)
    if model.norm_eps is not None:
        if model.norm == "none":
            _fail("model.norm_eps", model.norm_eps, "has no effect on model.norm=none")
        if not model.norm_eps > 0:
            _fail("model.norm_eps", model.norm_eps, "must be > 0")
    if model.norm_momentum is not None:
        if model.norm != "batch":
            _fail(
                "model.norm_momentum",
                model.norm_momentum,
                f"has no effect on model.norm={model.norm} (BatchNorm only)",
            )
        if not 0.0 <= model.norm_momentum <= 1.0:
            _fail("model.norm_momentum", model.norm_momentum, "must be in [0, 1]")
    if not 0.0 <= model.label_smoothing <= 1.0:
        _fail("model.label_smoothing", model.label_smoothing, "must be in [0, 1)")
    if model.label_smoothing == 1.0:  # here too, not only with the data: before a multirun's parent
        _fail(
            "model.label_smoothing",
            model.label_smoothing,
            "it makes every target the same distribution, so there is nothing to learn; valid: [0, 1)",
        )


def _validate_optimizer(opt: Any) -> None:
    from nnexp.build import optimizer_kwargs, schedule_interval, schedule_kwargs
    from nnexp.nn import OPTIMIZERS, SCHEDULES

    _choice("optimizer.name", opt.name, OPTIMIZERS)
    if not opt.lr > 0:
        _fail("optimizer.lr", opt.lr, "must be > 0")
    _at_least("optimizer.weight_decay", opt.weight_decay, 0.0)
    _at_least("optimizer.l1", opt.l1, 0.0)
    if opt.momentum is not None and not 0.0 <= opt.momentum < 1.0:
        _fail("optimizer.momentum", opt.momentum, "must be in [0, 1)")
    if opt.dampening is not None and not 0.0 <= opt.dampening <= 1.0:
        _fail("optimizer.dampening", opt.dampening, "must be in [0, 1]")
    if opt.betas is not None and (
        len(opt.betas) != 2 or not all(0.0 <= b < 1.0 for b in opt.betas)
    ):
        _fail("optimizer.betas", list(opt.betas), "must be two numbers in [0, 1)")
    if opt.eps is not None and not opt.eps > 0:
        _fail("optimizer.eps", opt.eps, "must be > 0")
    if opt.alpha is not None and not 0.0 <= opt.alpha < 1.0:
        _fail("optimizer.alpha", opt.alpha, "must be in [0, 1)")
    optimizer_kwargs(opt)  # a key the optimiser does not take is refused
    sched = opt.schedule
    _choice("optimizer.schedule.name", sched.name, [*SCHEDULES, "reduce_on_plateau"])
    if sched.interval is not None:
        _choice("optimizer.schedule.interval", sched.interval, ("epoch", "step"))
    _at_least("optimizer.schedule.warmup_epochs", sched.warmup_epochs, 0)
    if sched.step_size is not None:
        _positive_int("optimizer.schedule.step_size", sched.step_size)
    if sched.gamma is not None and not 0.0 < sched.gamma <= 1.0:
        _fail("optimizer.schedule.gamma", sched.gamma, "must be in (0, 1]")
    if sched.min_lr is not None:
        _at_least("optimizer.schedule.min_lr", sched.min_lr, 0.0)
    if sched.factor is not None and not 0.0 < sched.factor < 1.0:
        _fail("optimizer.schedule.factor", sched.factor, "must be in (0, 1)")
    for key in ("patience", "cooldown"):
        if sched[key] is not None:
            _at_least(f"optimizer.schedule.{key}", sched[key], 0)
    if sched.threshold is not None:
        _at_least("optimizer.schedule.threshold", sched.threshold, 0.0)
    for key, valid in (
        ("mode", ("min", "max")),
        ("threshold_mode", ("rel", "abs")),
        ("anneal_strategy", ("cos", "linear")),
    ):
        if sched[key] is not None:
            _choice(f"optimizer.schedule.{key}", sched[key], valid)
    if sched.pct_start is not None and not 0.0 < sched.pct_start < 1.0:
        _fail("optimizer.schedule.pct_start", sched.pct_start, "must be in (0, 1)")
    for key in ("div_factor", "final_div_factor"):
        if sched[key] is not None and not sched[key] > 0:
            _fail(f"optimizer.schedule.{key}", sched[key], "must be > 0")
    schedule_kwargs(sched)  # a key the schedule does not use is refused
    if sched.name == "one_cycle" and sched.warmup_epochs:
        _fail(
            "optimizer.schedule.warmup_epochs",
            sched.warmup_epochs,
            "has no effect on schedule one_cycle (its warm-up is pct_start)",
        )
    schedule_interval(sched)


def _validate_trainer(trainer: Any) -> None:
    _positive_int("trainer.epochs", trainer.epochs)
    if trainer.batch_size is not None:
        _positive_int("trainer.batch_size", trainer.batch_size)
    if not trainer.divergence_bound > 0:
        _fail("trainer.divergence_bound", trainer.divergence_bound, "must be > 0")
    for key in ("clip_grad_norm", "clip_grad_value"):
        if trainer.get(key) is not None and not trainer[key] > 0:
            _fail(f"trainer.{key}", trainer[key], "must be > 0 (or null: off)")
    stop = trainer.early_stopping
    # checked even while disabled: a bad value is refused, not kept for later
    _positive_int("trainer.early_stopping.patience", stop.patience)
    _at_least("trainer.early_stopping.min_delta", stop.min_delta, 0.0)
    if stop.enabled:
        # a metric of no task is refused here (before a multirun's parent exists); one of the
        # other task is refused once the data are known (preflight.check_monitor)
        from nnexp.preflight import epoch_metrics

        known = [*epoch_metrics("classification"), *epoch_metrics("regression")]
        if stop.monitor not in known:
            _fail(
                "trainer.early_stopping.monitor",
                stop.monitor,
                f"valid choices: {', '.join(dict.fromkeys(known))} (those of the data's task; "
                "grad_norm is for optimizer.schedule.monitor)",
            )


def _check_finite(key: str, node: Any) -> None:
    """Refuse NaN and infinity anywhere under ``node``: they pass every ``>= 0`` / ``> 0``
    check below (``inf``) or none (``nan``) and would reach the engine's own asserts."""
    from omegaconf import DictConfig, ListConfig

    if isinstance(node, DictConfig):
        for name in node:
            _check_finite(f"{key}.{name}", node[name])
    elif isinstance(node, ListConfig | list | tuple):
        for index, item in enumerate(node):
            _check_finite(f"{key}[{index}]", item)
    elif (
        isinstance(node, float)
        and not math.isfinite(node)
        and not (node == math.inf and key in UNBOUNDED_KEYS)
    ):
        _fail(key, node, "must be a finite number")


def _fail(key: str, value: Any, rule: str) -> None:
    raise ConfigError(f"{key}={value!r} is invalid: {rule}")


def _choice(key: str, value: Any, valid: Iterable[str]) -> None:
    valid = list(valid)
    if value not in valid:
        _fail(key, value, f"valid choices: {', '.join(valid)}")


def _positive_int(key: str, value: int) -> None:
    if value < 1:
        _fail(key, value, "must be an integer >= 1")


def _at_least(key: str, value: float, low: float) -> None:
    if not value >= low:
        _fail(key, value, f"must be >= {low}")


def _fraction(key: str, value: float, *, allow_zero: bool) -> None:
    ok = (0.0 <= value < 1.0) if allow_zero else (0.0 < value < 1.0)
    if not ok:
        _fail(key, value, "must be in [0, 1)" if allow_zero else "must be in (0, 1)")

"""Semantic checks on a composed config, run before any data is loaded or MLflow run exists.

The schema (:mod:`nnexp.config.schema`) already guarantees types; these checks guarantee ranges
and names. Each failure is a :class:`ConfigError` with one line that names the key, the bad
value and what is valid, e.g. ``optimizer.lr=-1.0 is invalid: must be > 0``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nnexp.errors import ConfigError

DTYPES = ("float64", "float32")
TASKS = ("auto", "classification", "regression")
OUTPUTS_AUTO = "auto"


def validate_config(cfg: Any) -> None:
    """Raise :class:`ConfigError` for the first invalid value in ``cfg``."""
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
    if data.name == "csv":
        for key in ("path", "target"):
            if not data[key]:
                _fail(f"data.{key}", data[key], "is required for data=csv")


def _validate_model(model: Any) -> None:
    from nnexp.nn import ACTIVATIONS, INITIALIZERS, LOSSES, OUTPUTS

    for index, size in enumerate(model.hidden_sizes):
        if size < 1:
            _fail(f"model.hidden_sizes[{index}]", size, "must be an integer >= 1")
    _choice("model.activation", model.activation, ACTIVATIONS)
    _choice("model.output", model.output, [OUTPUTS_AUTO, *OUTPUTS])
    _choice("model.loss", model.loss, [OUTPUTS_AUTO, *LOSSES])
    _choice("model.init", model.init, INITIALIZERS)
    if not 0.0 <= model.dropout < 1.0:
        _fail("model.dropout", model.dropout, "must be in [0, 1)")
    _choice("model.dtype", model.dtype, DTYPES)
    if model.init_std <= 0:
        _fail("model.init_std", model.init_std, "must be > 0")


def _validate_optimizer(opt: Any) -> None:
    from nnexp.nn import OPTIMIZERS, SCHEDULES

    _choice("optimizer.name", opt.name, OPTIMIZERS)
    if not opt.lr > 0:
        _fail("optimizer.lr", opt.lr, "must be > 0")
    _at_least("optimizer.weight_decay", opt.weight_decay, 0.0)
    _at_least("optimizer.momentum", opt.momentum, 0.0)
    if len(opt.betas) != 2 or not all(0.0 <= b < 1.0 for b in opt.betas):
        _fail("optimizer.betas", list(opt.betas), "must be two numbers in [0, 1)")
    if not opt.eps > 0:
        _fail("optimizer.eps", opt.eps, "must be > 0")
    if not 0.0 <= opt.alpha < 1.0:
        _fail("optimizer.alpha", opt.alpha, "must be in [0, 1)")
    sched = opt.schedule
    _choice("optimizer.schedule.name", sched.name, SCHEDULES)
    _at_least("optimizer.schedule.warmup_epochs", sched.warmup_epochs, 0)
    _positive_int("optimizer.schedule.step_size", sched.step_size)
    if not 0.0 < sched.gamma <= 1.0:
        _fail("optimizer.schedule.gamma", sched.gamma, "must be in (0, 1]")
    _at_least("optimizer.schedule.min_lr", sched.min_lr, 0.0)


def _validate_trainer(trainer: Any) -> None:
    _positive_int("trainer.epochs", trainer.epochs)
    if trainer.batch_size is not None:
        _positive_int("trainer.batch_size", trainer.batch_size)
    if not trainer.divergence_bound > 0:
        _fail("trainer.divergence_bound", trainer.divergence_bound, "must be > 0")
    stop = trainer.early_stopping
    if stop.enabled:
        _positive_int("trainer.early_stopping.patience", stop.patience)
        _at_least("trainer.early_stopping.min_delta", stop.min_delta, 0.0)
        if not (stop.monitor.startswith("val_") or stop.monitor.startswith("train_")):
            _fail(
                "trainer.early_stopping.monitor",
                stop.monitor,
                "must be a per-epoch metric such as val_loss, val_accuracy, val_rmse",
            )


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

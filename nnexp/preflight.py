"""Checks that need the data, made after the splits exist and before any MLflow run is created.

:mod:`nnexp.config.validate` checks what the config alone decides. Some bad input only shows
once the data are loaded: a batch larger than the training split, an early-stopping monitor
that names no metric of the task (``val_lose``, or ``val_accuracy`` on a regression), or data
whose trivial baseline loss is zero or not finite (a constant regression target, targets so
large that squared errors overflow). Each used to fail after the run had been created (a FAILED
run, exit 1); here each is one :class:`~nnexp.errors.ConfigError` line before anything is
recorded. A sweep runs the same checks on its base config and on the ends of its space
(:func:`nnexp.sweep.validate.check_trial_inputs`), before its first trial.
"""

from __future__ import annotations

import math
from typing import Any

from nnexp.errors import ConfigError

EPOCH_PREFIXES = ("val_", "train_")


def check_run_inputs(cfg: Any, dataset: Any, splits: Any) -> float:
    """Refuse a run that cannot work on these data; return its trivial baseline loss.

    ``dataset`` is a :class:`nnexp.data.Dataset` (its ``task``), ``splits`` the train /
    validation / test splits (``splits.train.X`` is ``(n_train, d)``).
    """
    check_batch_size(cfg, dataset, splits)
    check_monitor(cfg, dataset)
    check_targets_fit_head(cfg, dataset, splits)
    from nnexp.schedule_steps import check_one_cycle_steps

    check_one_cycle_steps(cfg, len(splits.train.X))
    return checked_baseline(cfg, dataset, splits)


def check_targets_fit_head(cfg: Any, dataset: Any, splits: Any) -> None:
    """The targets' values must be reachable by the model's head (``fit`` would refuse them
    after the run exists): e.g. ``model.output=sigmoid model.loss=mse`` on standardised
    regression targets (a sigmoid cannot reach -1.2). The same check as ``fit``'s
    (:mod:`nnexp.nn.target_fit`). Which heads a task takes at all (identity on class labels)
    is :func:`nnexp.head_fit.check_head_fits`, run first by ``resolve_head``; an (output,
    loss) pair that is itself invalid is left to the model's construction, which names it."""
    from nnexp.build import resolve_head
    from nnexp.nn.heads import make_head
    from nnexp.nn.target_fit import check_targets

    output, loss_name, n_outputs = resolve_head(cfg.model, dataset)
    try:
        head = make_head(output, loss_name, n_outputs)
    except ValueError:
        return
    for name in ("train", "val", "test"):
        split = getattr(splits, name, None)
        if split is None:
            continue
        try:
            check_targets(head, split.y, f"the {name} split's targets", dataset.task)
        except ValueError as exc:
            raise ConfigError(
                f"model.output={output} is invalid for data={cfg.data.name}: {exc}"
            ) from None


def check_batch_size(cfg: Any, dataset: Any, splits: Any) -> None:
    n_train = len(splits.train.X)
    batch_size = cfg.trainer.batch_size
    if batch_size is not None and batch_size > n_train:
        raise ConfigError(
            f"trainer.batch_size={batch_size} is invalid: larger than the {n_train} training "
            f"samples of data={cfg.data.name} (use <= {n_train}, or null for full batch)"
        )


def epoch_metrics(task: str) -> list[str]:
    """The per-epoch record keys of ``task``, e.g. ``val_loss, val_accuracy, train_loss, ...``."""
    from nnexp.metrics import metric_names

    return [prefix + name for prefix in EPOCH_PREFIXES for name in metric_names(task)]


def check_monitor(cfg: Any, dataset: Any) -> None:
    """``trainer.early_stopping.monitor`` must be a per-epoch metric of the data's task that
    the fit loop's early stopping reads: the train and validation metrics (with
    ``data.val_fraction=0`` validation equals training). ``grad_norm``, which reduce_on_plateau
    may monitor, is not one. Checked only when early stopping is on; a monitor set while it is
    off is refused by :mod:`nnexp.config.effect`."""
    stop = cfg.trainer.early_stopping
    if not stop.enabled:
        return
    monitor = stop.monitor
    valid = epoch_metrics(dataset.task)
    if monitor not in valid:
        raise ConfigError(
            f"trainer.early_stopping.monitor={monitor!r} is invalid: data={cfg.data.name} is a "
            f"{dataset.task} task; valid choices: {', '.join(valid)}"
            + (
                " (early stopping reads the train and validation metrics; grad_norm is for "
                "optimizer.schedule.monitor)"
                if monitor == "grad_norm"
                else ""
            )
        )


def checked_baseline(cfg: Any, dataset: Any, splits: Any) -> float:
    """The loss of the best constant prediction under the run's criterion (label smoothing and
    class weights included); refused when zero, not finite, or not above the loss floor.

    A zero baseline (the validation targets all equal the training mean: a constant target)
    leaves nothing to learn and no scale to judge a fit by; a non-finite one means the targets'
    squares overflow float64; a baseline at the floor (``model.label_smoothing=1``: every
    target is uniform) leaves nothing to learn either.
    """
    import numpy as np

    from nnexp.build import resolve_head
    from nnexp.data.baseline import trivial_baseline

    _, loss_name, _ = resolve_head(cfg.model, dataset)
    options = criterion_options(cfg, dataset, splits)
    with np.errstate(all="ignore"):  # an overflow is reported below, not as NumPy warnings
        baseline = float(
            trivial_baseline(splits.train, splits.val, dataset.task, loss_name, **options)
        )
    if math.isfinite(baseline) and baseline > 0:
        # equal in exact arithmetic when nothing is learnable; 1e-9: rounding of the two sums
        if baseline - run_loss_floor(cfg, dataset, splits) > 1e-9 * baseline:
            return baseline
        raise ConfigError(
            f"model.label_smoothing={cfg.model.label_smoothing} is invalid: it makes every "
            "target the same distribution, so there is nothing to learn; valid: [0, 1)"
        )
    why = (
        "the targets' squared errors overflow float64 (rescale the target)"
        if not math.isfinite(baseline)
        else "every validation target equals the training "
        + ("mean (a constant target)" if dataset.task == "regression" else "class (one class)")
        + ": there is nothing to learn"
    )
    raise ConfigError(
        f"data={cfg.data.name}: the trivial baseline's {loss_name} on the validation split is "
        f"{baseline!r}: {why}"
    )


def criterion_options(cfg: Any, dataset: Any, splits: Any) -> dict[str, Any]:
    """The loss options the run's head takes (as ``nnexp.nn.heads.make_head``): label smoothing
    for softmax + cross_entropy, class weights for it and for sigmoid + bce with one unit."""
    from nnexp.build import class_weights, resolve_head

    output, loss_name, n_outputs = resolve_head(cfg.model, dataset)
    options: dict[str, Any] = {}
    if (output, loss_name) == ("softmax", "cross_entropy"):
        options["n_classes"] = n_outputs
        options["label_smoothing"] = float(cfg.model.label_smoothing)
    if (output, loss_name) == ("softmax", "cross_entropy") or (
        (output, loss_name) == ("sigmoid", "bce") and n_outputs == 1
    ):
        options["class_weight"] = class_weights(cfg.data, splits, dataset)
    return options


def run_loss_floor(cfg: Any, dataset: Any, splits: Any) -> float:
    """The least loss the run's criterion allows on the validation split (0 unless label
    smoothing: see :mod:`nnexp.data.loss_floor`)."""
    from nnexp.build import resolve_head
    from nnexp.data.loss_floor import loss_floor

    options = criterion_options(cfg, dataset, splits)
    if not options.get("label_smoothing"):
        return 0.0
    _, loss_name, _ = resolve_head(cfg.model, dataset)
    return loss_floor(splits.val, loss_name, **options)

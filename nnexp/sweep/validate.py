"""Check a sweep before any trial runs; every problem is one :class:`ConfigError` line.

What is checked: the study settings (trials, timeout, workers, metric names and directions), each
search-space entry (``low < high``, ``log`` needs ``low > 0``, ``step > 0``, non-empty distinct
choices), that each ``key`` exists in the composed config or names a config group whose choices
are files in ``conf/<group>/``, the sampler and pruner (names and arguments, by building them),
and finally a dry composition of both ends of every range and every choice through the trial
path (so ``model.dropout`` up to 1.0, which validation rejects, fails here and not at trial 17).
"""

from __future__ import annotations

import math
import re
from typing import Any

from nnexp.errors import ConfigError
from nnexp.sweep.config import DIRECTIONS, LOG_MODEL, PARAM_TYPES, SweepConfig
from nnexp.sweep.space import Dimension, candidate_values, grid_values, to_override

STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
#: The journal file ``<study>.journal`` and its lock files must fit a file name (255 bytes).
MAX_STUDY_NAME = 128
METRIC = re.compile(r"^(best_val|final_train|final_val|test)_(?P<name>loss|accuracy|rmse|r2)$")
OTHER_METRICS = ("epochs_run", "train_time", "best_epoch", "baseline_loss")


def config_groups() -> dict[str, list[str]]:
    """``{group: [options]}`` for every folder of ``conf/`` except ``sweep``, with the options
    the running job's own config folders add to them (``model/my_net.yaml`` under
    ``--config-dir``), so that a space may choose them."""
    from nnexp.config.job_source import user_config_folders
    from nnexp.config.store import CONF_DIR

    groups = {
        folder.name: {path.stem for path in folder.glob("*.yaml")}
        for folder in sorted(CONF_DIR.iterdir())
        if folder.is_dir() and folder.name != "sweep"
    }
    for root in user_config_folders():
        for name, options in groups.items():
            options.update(path.stem for path in (root / name).glob("*.yaml"))
    return {name: sorted(options) for name, options in groups.items()}


def check_settings(spec: SweepConfig) -> None:
    """Study-level settings (no config composition needed)."""
    if not STUDY_NAME.match(spec.study):
        _fail("sweep.study_name", spec.study, "use letters, digits, '.', '_' or '-'")
    if len(spec.study) > MAX_STUDY_NAME:
        raise ConfigError(
            f"sweep.study_name={spec.study[:20]}... ({len(spec.study)} characters) is invalid: "
            f"use at most {MAX_STUDY_NAME} characters"
        )
    if spec.n_trials is None and spec.timeout is None:
        _fail("sweep.n_trials", None, "set sweep.n_trials or sweep.timeout (or both)")
    if spec.n_trials is not None and spec.n_trials < 1:
        _fail("sweep.n_trials", spec.n_trials, "must be >= 1")
    if spec.timeout is not None and not spec.timeout > 0:
        _fail("sweep.timeout", spec.timeout, "must be > 0 seconds")
    if spec.workers < 1:
        _fail("sweep.workers", spec.workers, "must be >= 1")
    if spec.report_every < 1:
        _fail("sweep.report_every", spec.report_every, "must be >= 1 (epochs)")
    if spec.log_every < 1:
        _fail("sweep.log_every", spec.log_every, "must be >= 1 (epochs)")
    if spec.top_k < 1:
        _fail("sweep.top_k", spec.top_k, "must be >= 1")
    if spec.heartbeat_interval < 1:
        _fail("sweep.heartbeat_interval", spec.heartbeat_interval, "must be >= 1 (seconds)")
    if spec.grace_period is not None and spec.grace_period <= spec.heartbeat_interval:
        _fail("sweep.grace_period", spec.grace_period, "must be > sweep.heartbeat_interval")
    if spec.log_model not in LOG_MODEL:
        _fail("sweep.log_model", spec.log_model, f"valid choices: {', '.join(LOG_MODEL)}")
    if spec.metrics and len(spec.metrics) != len(spec.directions):
        _fail(
            "sweep.directions",
            list(spec.directions),
            f"give one direction per metric ({len(spec.metrics)} metrics)",
        )
    for index, direction in enumerate(spec.objective_directions):
        where = f"sweep.directions[{index}]" if spec.metrics else "sweep.direction"
        if direction not in DIRECTIONS:
            _fail(where, direction, f"valid choices: {', '.join(DIRECTIONS)}")
    for index, metric in enumerate(spec.objective_metrics):
        where = f"sweep.metrics[{index}]" if spec.metrics else "sweep.metric"
        if not (METRIC.match(metric) or metric in OTHER_METRICS):
            _fail(
                where,
                metric,
                "must be a run metric such as best_val_loss, final_val_accuracy, "
                "final_train_loss, test_loss, best_val_rmse, epochs_run",
            )
    if not spec.space:
        _fail("sweep.space", "{}", "is empty: give at least one parameter to search")


def check_storage(storage: str | None) -> None:
    """A SQLite ``sweep.storage`` must be creatable: its folder exists or can be made, writable.

    Checked before any study, trial or run is created (the last check of the plan), so that
    ``sqlite:////proc/nope/o.db`` is one line with exit 2, not a crash.
    """
    import os
    from pathlib import Path

    from nnexp.redact import redact

    if not storage or not storage.lower().startswith("sqlite:///"):
        return
    path = Path(storage.split(":///", 1)[1].split("?", 1)[0])
    if str(path) in ("", ":memory:", "."):
        return
    path = path if path.is_absolute() else Path.cwd() / path
    if path.is_dir():
        raise ConfigError(f"sweep.storage={redact(storage)!r} is invalid: {path} is a folder")
    folder = path.parent
    try:  # the last check of a plan: the folder is made now, as the storage would make it
        folder.mkdir(parents=True, exist_ok=True)
        writable = os.access(folder, os.W_OK | os.X_OK)
        reason = f"{folder} is not a writable folder"
    except OSError as exc:
        writable, reason = False, f"cannot create the folder {folder}: {exc.strerror}"
    if not writable:
        raise ConfigError(
            f"sweep.storage={redact(storage)!r} is invalid: cannot create {path} ({reason})"
        )


def check_dimensions(dims: list[Dimension], groups: dict[str, list[str]], base_cfg: Any) -> None:
    """Ranges, choices, keys and group options of every dimension."""
    from omegaconf import OmegaConf

    seen: dict[str, str] = {}
    missing = object()
    for dim in dims:
        where = f"sweep.space.{dim.name}"
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", dim.name):
            raise ConfigError(
                f"{where}: entry names must be identifiers (the config key goes in "
                f"'key:', e.g. lr: {{key: optimizer.lr, ...}})"
            )
        if dim.key in seen:
            raise ConfigError(
                f"{where}: key {dim.key} is already searched by sweep.space.{seen[dim.key]}"
            )
        seen[dim.key] = dim.name
        _check_ranges(dim, where)
        if dim.is_group:
            if dim.type != "categorical":
                raise ConfigError(
                    f"{where}: '{dim.key}' is a config group; search it with "
                    f"choices (valid options: {', '.join(groups[dim.key])})"
                )
            unknown = [c for c in dim.choices if c not in groups[dim.key]]
            if unknown:
                raise ConfigError(
                    f"{where}: unknown option '{unknown[0]}' for config group "
                    f"'{dim.key}'; valid options: {', '.join(groups[dim.key])}"
                )
        elif dim.key != "seed" and OmegaConf.select(base_cfg, dim.key, default=missing) is missing:
            parent = dim.key.rpartition(".")[0]
            node = OmegaConf.select(base_cfg, parent, default=None) if parent else base_cfg
            valid = ", ".join(str(k) for k in node) if hasattr(node, "keys") else ""
            hint = f"; valid keys in '{parent or 'the root config'}': {valid}" if valid else ""
            raise ConfigError(f"{where}: key '{dim.key}' is not in the config{hint}")


def check_dry_run(dims: list[Dimension], composer: Any, base_overrides: list[str]) -> None:
    """Compose each end of each range and each choice, one dimension at a time."""
    from nnexp.sweep.overrides import merge_overrides

    for dim in dims:
        for value in candidate_values(dim):
            line = to_override(dim, value)
            try:
                cfg = composer.compose(merge_overrides(base_overrides, [line]))
                if any(dim.key == k or dim.key.startswith(k + ".") for k in DATA_DEPENDENT):
                    check_trial_inputs(cfg)
            except ConfigError as exc:
                raise ConfigError(f"sweep.space.{dim.name}: {line} cannot run: {exc}") from None


#: Config roots whose values the data-dependent checks read (batch size vs the training split,
#: the early-stopping monitor vs the task, the data's baseline): a swept key under them gets
#: its ends checked with the data loaded. ``optimizer.schedule``: one_cycle's phases need steps
#: (batches per epoch, :mod:`nnexp.schedule_steps`).
DATA_DEPENDENT = ("data", "trainer", "model", "optimizer.schedule")


def check_trial_inputs(cfg: Any) -> Any:
    """What a trial with ``cfg`` would refuse once its data are loaded (a batch larger than
    the training split, ...), refused before the first trial: :mod:`nnexp.preflight`.
    Returns ``(dataset, splits)``."""
    from nnexp.build import build_splits
    from nnexp.preflight import check_run_inputs

    dataset, splits = build_splits(cfg.data, int(cfg.seed))
    check_run_inputs(cfg, dataset, splits)
    return dataset, splits


def check_metric_task(spec: SweepConfig, base_cfg: Any) -> None:
    """A metric no trial can report fails here, not in every trial: ``final_val_accuracy`` on
    a regression data set, ``test_loss`` without a test split (``data.test_fraction=0``), any
    metric when the base config cannot run on its data (a batch larger than the training split:
    :func:`check_trial_inputs`)."""
    from nnexp.metrics import metric_names

    dataset, splits = check_trial_inputs(base_cfg)
    wanted = [m for m in spec.objective_metrics if METRIC.match(m)]
    for metric in wanted:
        if metric.startswith("test_") and getattr(splits, "test", None) is None:
            raise ConfigError(
                f"sweep.metric={metric!r} is invalid: data.test_fraction="
                f"{base_cfg.data.test_fraction} leaves no test split, so no trial can report it; "
                f"use best_val_{metric[len('test_') :]} or set data.test_fraction > 0"
            )
    if not wanted:
        return
    task = dataset.task
    names = metric_names(task)
    for metric in wanted:
        name = METRIC.match(metric)["name"]
        if name not in names:
            valid = ", ".join(f"{metric.rsplit('_', 1)[0]}_{n}" for n in names)
            raise ConfigError(
                f"sweep.metric={metric!r} is invalid: data={base_cfg.data.name} is "
                f"a {task} task; valid: {valid}"
            )


def grid_space(dims: list[Dimension]) -> dict[str, list[Any]]:
    return {dim.name: grid_values(dim) for dim in dims}


def _check_ranges(dim: Dimension, where: str) -> None:
    if dim.type not in PARAM_TYPES:
        raise ConfigError(
            f"{where}.type={dim.type!r} is invalid: valid types: {', '.join(PARAM_TYPES)}"
        )
    if dim.format is not None and "{value}" not in dim.format:
        raise ConfigError(f"{where}.format={dim.format!r} is invalid: it must contain {{value}}")
    if dim.type == "categorical":
        if not dim.choices:
            raise ConfigError(f"{where}.choices is empty: give at least one choice")
        if len(set(map(repr, dim.choices))) != len(dim.choices):
            raise ConfigError(f"{where}.choices={list(dim.choices)} has duplicates")
        if dim.low is not None or dim.high is not None:
            raise ConfigError(f"{where}: low/high do not apply to choices (type categorical)")
        return
    if dim.choices:
        raise ConfigError(
            f"{where}: choices do not apply to type {dim.type}; use type: categorical"
        )
    if dim.low is None or dim.high is None:
        raise ConfigError(f"{where}: type {dim.type} needs both low and high")
    for label, value in (("low", dim.low), ("high", dim.high), ("step", dim.step)):
        if value is not None and not math.isfinite(float(value)):
            raise ConfigError(
                f"{where}.{label}={value} is invalid: bounds and steps must be finite numbers"
            )
    if not dim.low < dim.high:
        raise ConfigError(f"{where}: low={dim.low} >= high={dim.high}; need low < high")
    if dim.log and dim.low <= 0:
        raise ConfigError(f"{where}: log=true needs low > 0 (got low={dim.low})")
    if dim.step is not None:
        if not dim.step > 0:
            raise ConfigError(f"{where}.step={dim.step} is invalid: must be > 0")
        if dim.log:
            raise ConfigError(f"{where}: log=true and step cannot be combined (Optuna)")
    if dim.type == "int":
        for label, value in (("low", dim.low), ("high", dim.high), ("step", dim.step)):
            if value is not None and not float(value).is_integer():
                raise ConfigError(f"{where}.{label}={value} is invalid: type int needs integers")


def _fail(key: str, value: Any, rule: str) -> None:
    raise ConfigError(f"{key}={value!r} is invalid: {rule}")

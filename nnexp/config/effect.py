"""Refuse config values that would be silently ignored: every value takes effect or is refused.

Three kinds of value had no effect and were accepted:

* a data set's generator knob (``data.noise``, ``data.n_samples``, ``data.factor``, ...) given
  for a data set whose loader does not take it (``data=xor data.noise=0.7``);
* ``trainer.early_stopping.*`` while early stopping is disabled;
* the hidden-layer options (``model.norm``, ``model.dropout``, ``model.activation``) of a
  model without a hidden layer (``model=linear``, ``model.hidden_sizes=[]``).

The schema keeps its defaults (every run logs the same params), so a data or early-stopping
knob is refused when its value differs from the schema's default, whether an override (the
command line, a sweep's trial line: ``given`` holds their dotted keys) or a config file (an
experiment) set it. At its default it changes nothing, not even the recorded params, and it is
the way out of a value an experiment file sets for another data set (an override cannot delete
it). ``reproduce`` skips these checks: a recorded value had no effect then either. The
activation is the exception: the ``mlp`` option's ``tanh`` stays in a config with
``model.hidden_sizes=[]`` by default, so only an activation the user gave is refused there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from nnexp.build import DATA_KEYS as GENERATOR_KNOBS  # passed to a loader that takes them
from nnexp.errors import ConfigError

EARLY_STOPPING_KNOBS = ("monitor", "patience", "min_delta", "restore_best")


def given_keys(overrides: Iterable[str]) -> frozenset[str]:
    """The dotted keys that override lines set (``+data.noise=0.7`` -> ``data.noise``; a group
    selection such as ``data=xor`` gives its group name, which names no leaf key)."""
    from nnexp.sweep.overrides import override_key

    return frozenset(key for key in map(override_key, map(str, overrides)) if key)


def check_values_take_effect(cfg: Any, overrides: Sequence[str] = ()) -> None:
    """Raise :class:`ConfigError` for the first value of ``cfg`` that would have no effect."""
    given = given_keys(overrides)
    check_data_knobs(cfg.data, given)
    check_early_stopping(cfg.trainer.early_stopping, given)
    check_hidden_layer_options(cfg.model, given)


def check_data_knobs(data: Any, given: frozenset[str] = frozenset()) -> None:
    """A generator knob is refused for a data set whose loader does not take it."""
    from nnexp.config.schema import DataConfig
    from nnexp.data import dataset_defaults

    takes = set(dataset_defaults(data.name))
    default = DataConfig()
    for knob in GENERATOR_KNOBS:
        if knob in takes:
            continue
        key = f"data.{knob}"
        value = data.get(knob)
        if value != getattr(default, knob):
            uses = sorted(k for k in GENERATOR_KNOBS if k in takes)
            raise ConfigError(
                f"{key}={value!r} is invalid: data={data.name} does not take it (it takes: "
                f"{', '.join(uses) or 'no generator knob'}); "
                + way_out(key, getattr(default, knob), given)
            )


def check_early_stopping(stop: Any, given: frozenset[str] = frozenset()) -> None:
    """``trainer.early_stopping.*`` is refused while ``enabled=false``."""
    from nnexp.config.schema import EarlyStoppingConfig

    if stop.enabled:
        return
    default = EarlyStoppingConfig()
    for knob in EARLY_STOPPING_KNOBS:
        key = f"trainer.early_stopping.{knob}"
        value = stop[knob]
        if value != getattr(default, knob):
            raise ConfigError(
                f"{key}={value!r} is invalid: it has no effect while early stopping is disabled "
                "(set trainer.early_stopping.enabled=true or use trainer=early_stopping); "
                + way_out(key, getattr(default, knob), given)
            )


def way_out(key: str, default: Any, given: frozenset[str]) -> str:
    """How to drop a value without effect: the override, or (set by a config file such as an
    experiment, which an override cannot delete) its default, which changes nothing."""
    if key in given:
        return "remove the override"
    shown = str(default).lower() if isinstance(default, bool) else default
    return f"it comes from a config file (an experiment?): give {key}={shown}, its default"


def check_hidden_layer_options(model: Any, given: frozenset[str] = frozenset()) -> None:
    """``norm``, ``dropout`` and a given ``activation`` act on hidden layers only."""
    if len(model.hidden_sizes) > 0:
        return
    why = "it has no effect without a hidden layer (model.hidden_sizes=[])"
    if model.norm != "none":
        raise ConfigError(f"model.norm={model.norm!r} is invalid: {why}; valid choices: none")
    if model.dropout > 0:
        raise ConfigError(f"model.dropout={model.dropout!r} is invalid: {why}; valid: 0.0")
    if "model.activation" in given and model.activation != "identity":
        raise ConfigError(
            f"model.activation={model.activation!r} is invalid: {why}; valid choices: identity "
            "(or give model.hidden_sizes)"
        )

"""Refuse config values that would be silently ignored: every value takes effect or is refused.

Three kinds of value had no effect and were accepted:

* a data set's generator knob (``data.noise``, ``data.n_samples``, ``data.factor``, ...) given
  for a data set whose loader does not take it (``data=xor data.noise=0.7``);
* ``trainer.early_stopping.*`` while early stopping is disabled;
* the hidden-layer options (``model.norm``, ``model.dropout``, ``model.activation``) of a
  model without a hidden layer (``model=linear``, ``model.hidden_sizes=[]``).

The schema keeps its defaults (every run logs the same params, old runs reproduce), so a knob
is refused when the user *gave* it (an override on the command line, a sweep's trial line:
``given`` holds their dotted keys) or when its value differs from the schema's default (an
experiment file, a reproduced run's params). The activation is the exception: the ``mlp``
option's ``tanh`` stays in a config with ``model.hidden_sizes=[]`` by default, so only an
activation the user gave is refused there.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from nnexp.build import DATA_KEYS as GENERATOR_KNOBS  # passed to a loader that takes them
from nnexp.errors import ConfigError

EARLY_STOPPING_KNOBS = ("monitor", "patience", "min_delta", "restore_best")


def given_keys(overrides: Iterable[str]) -> frozenset[str]:
    """The dotted keys that override lines set: ``data.noise=0.7``, ``+data.noise=0.7``,
    ``++x=1`` and ``~x`` give ``data.noise`` and ``x``; group selections (``data=xor``) give
    their group name, which names no leaf key."""
    keys = set()
    for line in overrides:
        key = str(line).split("=", 1)[0].strip().lstrip("+~")
        if key:
            keys.add(key)
    return frozenset(keys)


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
        if key in given or value != getattr(default, knob):
            uses = sorted(k for k in GENERATOR_KNOBS if k in takes)
            raise ConfigError(
                f"{key}={value!r} is invalid: data={data.name} does not take it (it takes: "
                f"{', '.join(uses) or 'no generator knob'}); remove the override"
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
        if key in given or value != getattr(default, knob):
            raise ConfigError(
                f"{key}={value!r} is invalid: it has no effect while early stopping is disabled "
                "(set trainer.early_stopping.enabled=true or use trainer=early_stopping)"
            )


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

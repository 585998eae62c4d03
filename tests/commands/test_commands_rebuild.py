"""Rebuilding a config from params, and the metric-by-metric comparison, without a store."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from nnexp.commands.replay import compare_metrics
from nnexp.config.compose import compose_config
from nnexp.config.flatten import flatten_config
from nnexp.errors import NnexpError
from nnexp.records.rebuild import config_from_params, config_from_yaml, record_mismatch


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["data=digits", "model=mlp_deep", "optimizer=sgd", "trainer=early_stopping"],
        ["data=csv", "data.path=123", "data.target=y", "optimizer.eps=1e-07"],
        ["optimizer=adamw", "optimizer.schedule.name=cosine", "model.dropout=0.25", "seed=7"],
        ["trainer.batch_size=null", "model.hidden_sizes=[3,5,7]", "optimizer.betas=[0.8,0.9]"],
    ],
)
def test_params_rebuild_the_exact_config(overrides):
    cfg = compose_config(overrides, validate=False)
    params = {key: str(value) for key, value in flatten_config(cfg).items()}
    rebuilt = config_from_params(params)
    assert OmegaConf.to_container(rebuilt) == OmegaConf.to_container(cfg)
    assert record_mismatch(rebuilt, params) is None
    text = OmegaConf.to_yaml(cfg, resolve=True)
    assert OmegaConf.to_container(config_from_yaml(text, "r")) == OmegaConf.to_container(cfg)


def test_params_of_the_wrong_type_or_unknown_keys_are_errors():
    params = {key: str(value) for key, value in flatten_config(compose_config()).items()}
    with pytest.raises(NnexpError, match=r"param trainer.epochs='many' does not fit the config"):
        config_from_params({**params, "trainer.epochs": "many"})
    with pytest.raises(NnexpError, match=r"param model.widht='3' is not a key of the config"):
        config_from_params({**params, "model.widht": "3"})
    with pytest.raises(NnexpError, match=r"config.yaml of run abc does not fit the config schema"):
        config_from_yaml("trainer:\n  epochs: many\n", "abc")


def test_unset_values_are_not_params_and_come_back_as_null():
    cfg = compose_config(["trainer.batch_size=null"], validate=False)
    params = {key: str(value) for key, value in flatten_config(cfg).items()}
    assert not {"sweep", "data.seed", "trainer.batch_size", "data.path"} & set(params)
    assert "null" not in params.values() and "None" not in params.values()
    rebuilt = config_from_params(params)
    assert rebuilt.trainer.batch_size is None and rebuilt.data.seed is None
    assert rebuilt.sweep is None
    # runs recorded before: "null" strings rebuild the same config and match it
    old = {**params, "sweep": "null", "data.seed": "null", "trainer.batch_size": "null"}
    assert OmegaConf.to_container(config_from_params(old)) == OmegaConf.to_container(rebuilt)
    assert record_mismatch(rebuilt, old) is None
    # a key that cannot be null is an incomplete record, not a silent default
    del params["trainer.epochs"]
    with pytest.raises(NnexpError, match=r"param trainer.epochs is missing"):
        config_from_params(params)


def test_a_missing_or_extra_param_is_a_mismatch():
    cfg = compose_config()
    params = {key: str(value) for key, value in flatten_config(cfg).items()}
    del params["seed"]
    assert (
        record_mismatch(cfg, params) == "seed is in config.yaml ('0') but was not logged as a param"
    )
    params["seed"], params["model.extra"] = "0", "1"
    assert record_mismatch(cfg, params) == "param model.extra='1' is not in config.yaml"


EXPECTED = {
    "train_loss": {1: 0.5, 2: 0.4, 3: 0.3},
    "val_loss": {1: 0.6, 2: 0.5, 3: 0.45},
    "epoch_time": {1: 0.01, 2: 0.01, 3: 0.01},
    "best_val_loss": {0: 0.45},
}


def recorded_from(expected):
    return {key: sorted(points.items()) for key, points in expected.items()}


def test_identical_histories():
    recorded = recorded_from(EXPECTED)
    recorded["epoch_time"] = [(1, 9.0), (2, 9.0), (3, 9.0)]  # time is never compared
    comparison = compare_metrics(recorded, EXPECTED)
    assert comparison.identical
    assert comparison.epoch_metrics == ["train_loss", "val_loss"]
    assert comparison.n_epochs == 3
    assert comparison.final_metrics == ["best_val_loss"]


def test_first_difference_is_the_earliest_epoch_then_the_finals():
    recorded = recorded_from(EXPECTED)
    recorded["val_loss"] = [(1, 0.6), (2, 0.5000000000000001), (3, 0.0)]
    recorded["best_val_loss"] = [(0, 1.0)]
    first = compare_metrics(recorded, EXPECTED).first
    assert first.describe() == "val_loss at epoch 2: recorded 0.5000000000000001, reproduced 0.5"
    recorded = recorded_from(EXPECTED) | {"best_val_loss": [(0, 1.0)]}
    first = compare_metrics(recorded, EXPECTED).first
    assert first.describe() == "final metric best_val_loss: recorded 1.0, reproduced 0.45"


def test_missing_extra_and_repeated_points_are_differences():
    recorded = recorded_from(EXPECTED)
    recorded["train_loss"] = recorded["train_loss"][:2]
    assert compare_metrics(recorded, EXPECTED).first.describe() == (
        "train_loss at epoch 3: not recorded, reproduced 0.3"
    )
    recorded = recorded_from(EXPECTED) | {"val_accuracy": [(2, 0.9)]}
    assert compare_metrics(recorded, EXPECTED).first.describe() == (
        "val_accuracy at epoch 2: recorded 0.9, not reproduced"
    )
    recorded = recorded_from(EXPECTED)
    recorded["val_loss"] = [(1, 0.6), (2, 0.5), (2, 0.5), (3, 0.45)]
    assert compare_metrics(recorded, EXPECTED).identical  # logged twice, same value
    recorded["val_loss"] = [(1, 0.6), (2, 0.5), (2, 0.55), (3, 0.45)]
    assert compare_metrics(recorded, EXPECTED).first.describe() == (
        "val_loss at epoch 2: recorded 0.55, reproduced 0.5"
    )

"""Keys added with ``+`` are checked against the schema like any other key (issue 12.15)."""

from __future__ import annotations

import pytest

from nnexp.config.compose import compose_config
from nnexp.errors import ConfigError

ROOT_KEYS = "seed, data, model, optimizer, trainer, tracking, launcher, sweep"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["+optimizer.lrr=5"],
            "unknown config key 'optimizer.lrr'; valid keys in 'optimizer': name, lr, "
            "weight_decay, l1, momentum, dampening, nesterov, betas, eps, alpha, amsgrad, "
            "centered, schedule",
        ),
        (
            ["+trainer.early_stopping.patince=3"],
            "unknown config key 'trainer.early_stopping.patince'",
        ),
        (
            ["+launchr=slurm"],
            f"unknown config key 'launchr'; valid keys in the root config: {ROOT_KEYS}; "
            "config groups (select with GROUP=OPTION or +GROUP=OPTION): data, experiment, "
            "launcher, model, optimizer, sweep, tracking, trainer",
        ),
        (["+seed2=1"], "unknown config key 'seed2'"),
        (["+sweep=lr", "+sweep.samplr=1"], "unknown config key 'sweep.samplr'"),
        (
            ["+sweep=lr", "+sweep.space.lr.kye=1"],
            "unknown config key 'sweep.space.lr.kye'; valid keys in 'sweep.space.lr': key, type, "
            "low, high, log, step, choices, format",
        ),
        (["+sweep=lr", "+sweep.sampler.sed=1"], "unknown config key 'sweep.sampler.sed'"),
    ],
)
def test_a_key_added_with_plus_that_the_schema_does_not_declare_fails(
    overrides: list[str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        compose_config(overrides)
    assert str(info.value).startswith(message), str(info.value)


def test_without_plus_the_same_key_fails_the_same_way() -> None:
    with pytest.raises(ConfigError, match=r"^unknown config key 'optimizer\.lrr'; valid keys in"):
        compose_config(["optimizer.lrr=5"])


def test_config_groups_and_open_dictionaries_may_be_added() -> None:
    cfg = compose_config(
        [
            "+experiment=overfit",
            "+sweep=lr",
            "+sweep.sampler.args.n_ei_candidates=12",
            "+sweep.pruner.args.n_min_trials=2",
        ]
    )
    assert cfg.sweep.sampler.args.n_ei_candidates == 12
    assert cfg.sweep.pruner.args.n_min_trials == 2
    assert cfg.data.name == "sine"  # from the experiment
    assert "hydra" not in cfg


def test_a_group_file_with_a_key_outside_the_schema_is_one_line(tmp_path) -> None:
    (tmp_path / "scheduler").mkdir()
    (tmp_path / "scheduler" / "slurm.yaml").write_text("partition: debug\n")
    with pytest.raises(ConfigError) as info:
        compose_config([f"hydra.searchpath=[file://{tmp_path}]", "+scheduler=slurm"])
    assert str(info.value).startswith("unknown config key 'scheduler'; valid keys in the root")
    assert "\n" not in str(info.value)

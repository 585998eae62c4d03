"""Sweep configs, override text, fast composition and validation (no training)."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from nnexp.cmdline import shell_line
from nnexp.config.compose import compose_config
from nnexp.errors import ConfigError
from nnexp.sweep.config import SweepConfig
from nnexp.sweep.driver import plan_sweep, report_key
from nnexp.sweep.overrides import (
    TrialComposer,
    merge_overrides,
    trial_seed,
    user_overrides,
)
from nnexp.sweep.space import Dimension, grid_values, override_value, to_override
from nnexp.sweep.validate import config_groups

SWEEPS = ["lr", "arch", "activation", "optimizer", "regularization", "capacity"]


@pytest.mark.parametrize("name", SWEEPS)
def test_every_shipped_sweep_composes_typed_and_plans(name: str) -> None:
    cfg = compose_config([f"+sweep={name}"])
    assert OmegaConf.get_type(cfg.sweep) is SweepConfig
    plan = plan_sweep(cfg, [f"+sweep={name}"])
    assert plan.study_name == name
    assert plan.dims and plan.max_trials >= 1


def test_sweep_is_overridable_and_typos_fail_at_composition() -> None:
    cfg = compose_config(
        ["+sweep=lr", "sweep.n_trials=50", "sweep.space.lr.high=0.5", "sweep.pruner.name=none"]
    )
    assert cfg.sweep.n_trials == 50 and cfg.sweep.space.lr.high == 0.5
    with pytest.raises(ConfigError, match="n_trails"):
        compose_config(["+sweep=lr", "sweep.n_trails=5"])
    with pytest.raises(ConfigError, match="lgo"):
        compose_config(["+sweep=lr", "sweep.space.lr.lgo=true"])
    with pytest.raises(ConfigError):
        compose_config(["+sweep=lr", "sweep.n_trials=many"])


def test_override_text_round_trips_through_hydra() -> None:
    assert override_value(0.1) == "0.1"
    assert override_value(1e-05) == "1e-05"
    assert override_value(0.027511107882075052) == "0.027511107882075052"
    assert override_value([64, 64]) == "[64,64]"
    assert override_value(None) == "null" and override_value(True) == "true"
    dim = Dimension(
        "width", "model.hidden_sizes", "categorical", None, None, False, None, (1, 2), "[{value}]"
    )
    assert to_override(dim, 32) == "model.hidden_sizes=[32]"
    composer = TrialComposer(set(config_groups()))
    cfg = composer.compose(["optimizer.lr=0.027511107882075052", "model.hidden_sizes=[64,64]"])
    assert cfg.optimizer.lr == 0.027511107882075052
    assert list(cfg.model.hidden_sizes) == [64, 64]
    assert (
        shell_line(["model.hidden_sizes=[64,64]", "seed=3"])
        == "'model.hidden_sizes=[64,64]' seed=3"
    )


def test_trial_overrides_merge_later_wins_and_sweep_keys_drop() -> None:
    line = ["+sweep=lr", "sweep.n_trials=3", "data=circles", "optimizer.lr=0.5", "seed=2"]
    assert user_overrides(line) == ["data=circles", "optimizer.lr=0.5", "seed=2"]
    merged = merge_overrides(
        ["data=sine", "data.n_train=30"],
        user_overrides(line),
        ["optimizer.lr=0.01"],
        ["seed=20003"],
    )
    assert merged == ["data.n_train=30", "data=circles", "optimizer.lr=0.01", "seed=20003"]
    assert trial_seed(2, 3) == 20003 and trial_seed(0, 7) == 7


@pytest.mark.parametrize(
    "overrides",
    [
        ["optimizer.lr=0.003", "seed=5"],
        ["optimizer=sgd", "optimizer.lr=0.3", "model.hidden_sizes=[8,8,8]", "seed=1"],
        ["data=sine", "data.n_train=30", "trainer.batch_size=null", "model.dropout=0.2"],
        ["+experiment=overfit", "optimizer.lr=0.001"],
    ],
)
def test_fast_composition_equals_hydra_compose(overrides: list[str]) -> None:
    composer = TrialComposer(set(config_groups()))
    fast = OmegaConf.to_container(composer.compose(overrides), resolve=True)
    slow = OmegaConf.to_container(compose_config(overrides), resolve=True)
    assert fast == slow
    again = OmegaConf.to_container(composer.compose(overrides), resolve=True)  # cache hit
    assert again == slow


def test_report_key_follows_the_metric() -> None:
    assert report_key("best_val_loss") == "val_loss"
    assert report_key("final_val_accuracy") == "val_accuracy"
    assert report_key("test_rmse") == "val_rmse"
    assert report_key("epochs_run") is None


def test_grid_values() -> None:
    dim = Dimension("n", "trainer.epochs", "int", 10, 30, False, 10, (), None)
    assert grid_values(dim) == [10, 20, 30]
    with pytest.raises(ConfigError, match="step"):
        grid_values(Dimension("lr", "optimizer.lr", "float", 0.1, 1.0, False, None, (), None))


BAD = [
    ("lr", ["sweep.space.lr.low=1.0", "sweep.space.lr.high=0.1"], "low=1.0 >= high=0.1"),
    ("lr", ["sweep.space.lr.low=0.0"], "log=true needs low > 0"),
    (
        "lr",
        ["sweep.space.lr.log=false", "sweep.space.lr.step=-0.1", "sweep.space.lr.low=0.0"],
        "step=-0.1 is invalid",
    ),
    ("activation", ["sweep.space.activation.choices=[]"], "choices is empty"),
    ("lr", ["sweep.space.lr.key=optimizer.lrr"], "key 'optimizer.lrr' is not in the config"),
    (
        "optimizer",
        ["sweep.space.optimizer.choices=[adam,lbfgs]"],
        "unknown option 'lbfgs' for config group 'optimizer'",
    ),
    (
        "optimizer",
        [
            "sweep.space.optimizer.choices=null",
            "sweep.space.optimizer.type=float",
            "sweep.space.optimizer.low=0",
            "sweep.space.optimizer.high=1",
        ],
        "is a config group",
    ),
    (
        "lr",
        ["sweep.sampler.name=anneal"],
        "sweep.sampler.name='anneal' is invalid: valid samplers: tpe",
    ),
    ("lr", ["sweep.pruner.name=asha"], "sweep.pruner.name='asha' is invalid: valid pruners: none"),
    ("lr", ["+sweep.pruner.args.patience=3"], "sweep.pruner.args.patience is not an argument"),
    ("lr", ["sweep.sampler.name=grid"], "needs a finite grid"),
    ("lr", ["sweep.metric=best_val_acc"], "must be a run metric"),
    ("lr", ["sweep.metric=best_val_rmse"], "classification task"),
    ("lr", ["sweep.direction=down"], "valid choices: minimize, maximize"),
    ("lr", ["sweep.n_trials=0"], "must be >= 1"),
    ("lr", ["sweep.n_trials=null"], "set sweep.n_trials or sweep.timeout"),
    ("lr", ["sweep.log_every=0"], "sweep.log_every=0 is invalid: must be >= 1 (epochs)"),
    (
        "lr",
        ["sweep.metrics=[best_val_loss,train_time]", "sweep.directions=[minimize,minimize]"],
        "cannot prune multi-objective",
    ),
    ("regularization", ["sweep.space.dropout.high=1.0"], "model.dropout=1.0 is invalid"),
    ("arch", ["sweep.space.hidden_sizes.key=optimizer.lr"], "already searched"),
]


@pytest.mark.parametrize(("sweep", "extra", "message"), BAD, ids=[m for _, _, m in BAD])
def test_bad_sweeps_are_rejected_with_one_line(sweep: str, extra: list[str], message: str) -> None:
    overrides = [f"+sweep={sweep}", *extra]
    with pytest.raises(ConfigError) as info:
        plan_sweep(compose_config(overrides), overrides)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


def test_cli_rejects_a_bad_space_before_any_trial(tmp_path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nnexp",
            "+sweep=lr",
            "sweep.space.lr.low=2.0",
            "sweep.space.lr.high=1.0",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "nnexp: error: sweep.space.lr: low=2.0 >= high=1.0; need low < high"
    )
    assert not (tmp_path / "mlruns").exists()


def test_trial_seed_follows_vary_seed() -> None:
    from nnexp.sweep.objective import trial_overrides

    plan = plan_sweep(compose_config(["+sweep=lr", "seed=2"]), ["+sweep=lr", "seed=2"])
    overrides, seed = trial_overrides(plan, {"lr": 0.01}, 7)
    # the trial's own seed, the data on the base seed: every trial sees the same split
    assert seed == 20007
    assert overrides[-3:] == ["optimizer.lr=0.01", "data.seed=2", "seed=20007"]
    fixed = ["+sweep=lr", "seed=2", "sweep.vary_seed=false"]
    plan = plan_sweep(compose_config(fixed), fixed)
    assert trial_overrides(plan, {"lr": 0.01}, 7) == (["optimizer.lr=0.01", "seed=2"], 2)
    pinned = ["+sweep=lr", "seed=2", "data.seed=5"]
    plan = plan_sweep(compose_config(pinned), pinned)
    assert trial_overrides(plan, {"lr": 0.01}, 7)[0][-3:] == [
        "data.seed=5",
        "optimizer.lr=0.01",
        "seed=20007",
    ]


# Optuna takes these without a check and fails (or does something else) only once a trial
# samples: each must be refused while the sweep is planned, before any run exists.
BAD_ARGS = [
    ("sweep.sampler.args.n_startup_trials=-1", "must be an integer >= 0"),
    ("sweep.sampler.args.n_startup_trials=2.5", "must be an integer >= 0"),
    ("+sweep.sampler.args.n_ei_candidates=0", "must be an integer >= 1"),
    ("+sweep.sampler.args.multivariate=yes", "must be true or false"),
    ("+sweep.sampler.args.gamma=fast", "takes a Python object"),
    ("sweep.pruner.args.n_startup_trials=true", "must be an integer >= 0"),
]


@pytest.mark.parametrize(("override", "message"), BAD_ARGS, ids=[o for o, _ in BAD_ARGS])
def test_sampler_and_pruner_arguments_optuna_cannot_use_are_refused(override, message) -> None:
    overrides = ["+sweep=lr", override]
    with pytest.raises(ConfigError) as info:
        plan_sweep(compose_config(overrides), overrides)
    key = override.lstrip("+").split("=")[0]
    text = str(info.value)
    assert text.startswith(f"{key}=") and " is invalid: " in text and message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    "extra",
    [
        ["sweep.pruner.name=hyperband", "+sweep.pruner.args.min_resource=auto"],
        ["sweep.pruner.name=hyperband", "+sweep.pruner.args.reduction_factor=2"],
        ["sweep.sampler.name=qmc", "+sweep.sampler.args.qmc_type=halton"],
        ["sweep.sampler.name=cmaes", "+sweep.sampler.args.restart_strategy=null"],
        ["+sweep.sampler.args.multivariate=true"],
    ],
)
def test_sampler_and_pruner_arguments_optuna_can_use_are_taken(extra) -> None:
    overrides = ["+sweep=lr", *extra]
    plan_sweep(compose_config(overrides), overrides)

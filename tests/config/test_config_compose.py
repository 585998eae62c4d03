"""Every option of every config group composes, validates and builds real objects."""

from __future__ import annotations

import numpy as np
import pytest

from nnexp.build import build_model, build_optimizer, build_schedule, build_splits
from nnexp.config.compose import compose_config
from nnexp.config.store import CONF_DIR, experiment_names
from nnexp.errors import ConfigError

GROUPS = ("data", "model", "optimizer", "trainer", "tracking")


def options(group: str) -> list[str]:
    return sorted(path.stem for path in (CONF_DIR / group).glob("*.yaml"))


def test_defaults_compose_to_the_documented_experiment():
    cfg = compose_config()
    assert (cfg.data.name, cfg.model.name, cfg.optimizer.name, cfg.trainer.name) == (
        "moons",
        "mlp",
        "adam",
        "default",
    )
    assert cfg.tracking.uri is None  # MLFLOW_TRACKING_URI, else the project store (project.py)
    assert cfg.sweep is None


@pytest.mark.parametrize(
    "group,option",
    [(group, option) for group in GROUPS for option in options(group) if option != "csv"],
)
def test_every_group_option_composes_and_builds(group, option):
    overrides = [f"{group}={option}"]
    if group == "data" and option in ("xor",):
        overrides.append("trainer.batch_size=null")
    cfg = compose_config(overrides)
    assert cfg[group].name == option
    dataset, splits = build_splits(cfg.data, cfg.seed)
    model = build_model(cfg.model, dataset, cfg.seed)
    optimizer = build_optimizer(cfg.optimizer, model.params)
    schedule = build_schedule(cfg.optimizer, cfg.trainer.epochs)
    assert model.params[0].shape[0] == dataset.X.shape[1]
    assert schedule(0) > 0
    loss_before = model.loss(splits.train.X, splits.train.y)
    model.loss_and_grads(splits.train.X, splits.train.y, rng=np.random.default_rng(0))
    optimizer.step(model.grads)
    assert np.isfinite(loss_before)


def test_csv_option_requires_path_and_target(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n" + "\n".join(f"{i},{i % 3},{i % 2}" for i in range(40)) + "\n")
    cfg = compose_config(["data=csv", f"data.path={path}", "data.target=label"])
    dataset, _splits = build_splits(cfg.data, cfg.seed)
    assert dataset.X.shape == (40, 2) and dataset.n_classes == 2
    with pytest.raises(ConfigError, match=r"data\.path"):
        compose_config(["data=csv"])


@pytest.mark.parametrize("name", experiment_names())
def test_every_experiment_composes(name):
    cfg = compose_config([f"+experiment={name}"])
    assert cfg.tracking.experiment_name == name


def test_seed_xor_is_the_tutorial_exactly():
    cfg = compose_config(["+experiment=seed_xor"])
    assert cfg.data.name == "xor"
    assert list(cfg.model.hidden_sizes) == [2]
    assert (cfg.model.activation, cfg.model.output, cfg.model.loss) == ("sigmoid", "sigmoid", "mse")
    assert (cfg.optimizer.name, cfg.optimizer.lr) == ("sgd", 0.1)
    assert (cfg.trainer.epochs, cfg.trainer.batch_size, cfg.trainer.shuffle) == (1000, 1, False)


@pytest.mark.parametrize(
    "override,expected",
    [
        (
            "optimizer.lr=abc",
            "optimizer.lr=abc: Value 'abc' of type 'str' could not be converted to Float",
        ),
        (
            "trainer.epochs=1.5",
            "trainer.epochs=1.5: Value '1.5' of type 'float' could not be converted",
        ),
        (
            "optimizer.lrr=0.1",
            "unknown config key 'optimizer.lrr'; valid keys in 'optimizer': name, lr,",
        ),
        ("model=nope", "unknown option 'nope' for 'model'; valid options: linear, mlp, mlp_deep"),
        ("+experiment=nope", "unknown option 'nope' for 'experiment'; valid options:"),
        ("optimizer.lr=-1", "optimizer.lr=-1.0 is invalid: must be > 0"),
        ("optimizer.lr=0", "optimizer.lr=0.0 is invalid: must be > 0"),
        ("trainer.epochs=0", "trainer.epochs=0 is invalid: must be an integer >= 1"),
        ("data.val_fraction=1.5", "data.val_fraction=1.5 is invalid: must be in [0, 1)"),
        ("data.test_fraction=-0.1", "data.test_fraction=-0.1 is invalid: must be in [0, 1)"),
        (
            "model.hidden_sizes=[16,0]",
            "model.hidden_sizes[1]=0 is invalid: must be an integer >= 1",
        ),
        ("model.dropout=1.0", "model.dropout=1.0 is invalid: must be in [0, 1)"),
        ("model.activation=swish", "model.activation='swish' is invalid: valid choices: "),
        ("optimizer.name=lbfgs", "optimizer.name='lbfgs' is invalid: valid choices: "),
        ("data.name=mnist", "data.name='mnist' is invalid: valid choices: "),
        ("trainer.batch_size=0", "trainer.batch_size=0 is invalid: must be an integer >= 1"),
        ("data.seed=-1", "data.seed=-1 is invalid: must be >= 0"),
    ],
)
def test_bad_values_fail_at_composition_with_one_line(override, expected):
    with pytest.raises(ConfigError) as info:
        compose_config([override])
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(expected), message


def test_data_seed_fixes_the_data_while_seed_changes_the_rest():
    """``data.seed`` pins generation and split; unset, the data follow the run's ``seed``."""

    def fingerprint(*overrides):
        cfg = compose_config(list(overrides))
        return build_splits(cfg.data, int(cfg.seed))[1].fingerprint

    assert fingerprint("seed=1", "data.seed=5") == fingerprint("seed=2", "data.seed=5")
    assert fingerprint("seed=5") == fingerprint("seed=1", "data.seed=5")
    assert fingerprint("seed=1") != fingerprint("seed=2")


def test_an_override_hydra_cannot_parse_is_named_redacted_with_the_quoting_fix():
    # Hydra's parser said only "mismatched input '=' expecting <EOF>": which of the overrides?
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from nnexp.config.compose import describe_config_error
    from nnexp.redact import redact

    with pytest.raises(Exception) as caught:
        OverridesParser.create().parse_overrides(["tracking.uri=http://h/?token=SECRET"])
    line = redact(describe_config_error(caught.value))
    assert line.startswith("cannot parse the override 'tracking.uri=http://h/?token="), line
    assert "SECRET" not in line
    assert "mismatched input '='" in line
    assert "quote the value" in line
    assert "\n" not in line

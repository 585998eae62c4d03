"""Values that would have had no effect are refused; one_cycle phases without a step are refused.

The command-line side (one line, exit 2, no run) is in tests/hardening/test_hardening_bad_inputs.py;
here: the rules themselves, against torch where torch is the reference.
"""

from __future__ import annotations

import re

import pytest

from nnexp.config.compose import compose_config
from nnexp.config.effect import given_keys
from nnexp.config.validate import validate_config
from nnexp.errors import ConfigError
from nnexp.nn import make_schedule
from nnexp.nn.schedules import empty_one_cycle_phase, one_cycle_pct_range, one_cycle_phase_ends
from nnexp.schedule_steps import check_one_cycle_steps


def _torch_one_cycle(total: int, pct: float, three_phase: bool) -> list[float]:
    torch = pytest.importorskip("torch")  # the `bench` extra; CI installs it
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.1, total_steps=total, pct_start=pct, three_phase=three_phase,
        cycle_momentum=False,
    )  # fmt: skip
    rates = []
    for _ in range(total):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


@pytest.mark.parametrize("total,three_phase", [(20, False), (80, False), (20, True)])
def test_one_cycle_phase_ends_are_torchs_and_the_lowest_pct_start_divides_by_zero_there(
    total, three_phase
):
    low, _ = one_cycle_pct_range(total, three_phase)
    assert low == 1 / total
    assert empty_one_cycle_phase(one_cycle_phase_ends(total, low, three_phase)) == 0
    with pytest.raises(ZeroDivisionError):  # torch: the warm-up of length 0
        _torch_one_cycle(total, low, three_phase)
    with pytest.raises(ValueError, match=r"phase 1 of \d has no step: pct_start=.*pct_start must"):
        make_schedule("one_cycle", 0.1, total_steps=total, pct_start=low, three_phase=three_phase)
    pct = 1.5 / total  # just inside: the engine follows torch step by step
    ours = make_schedule(
        "one_cycle", 0.1, total_steps=total, pct_start=pct, three_phase=three_phase
    )
    assert [ours(t) for t in range(total)] == pytest.approx(
        _torch_one_cycle(total, pct, three_phase), rel=1e-12
    )


def test_three_phase_last_phase_needs_a_step():
    total = 20
    _, high = one_cycle_pct_range(total, True)
    assert high == pytest.approx(0.525)
    assert empty_one_cycle_phase(one_cycle_phase_ends(total, 0.6, True)) == 2
    assert empty_one_cycle_phase(one_cycle_phase_ends(total, 0.52, True)) is None
    with pytest.raises(ValueError, match="phase 3 of 3 has no step"):
        make_schedule("one_cycle", 0.1, total_steps=total, pct_start=0.6, three_phase=True)


@pytest.mark.parametrize(
    "overrides,n_train,message",
    [
        (
            ["optimizer.schedule.pct_start=0.0125", "trainer.epochs=20"],
            120,
            "optimizer.schedule.pct_start=0.0125 is invalid: one_cycle steps 80 times (20 "
            "epochs x 4 steps (batch_size=32 of 120 training samples), interval=step); its "
            "warm-up ends at step pct_start * 80 - 1 = 0, so it has no step (torch's OneCycleLR "
            "divides by its zero length); use pct_start in (0.0125, 1) or more steps",
        ),
        (
            ["trainer.epochs=3", "optimizer.schedule.interval=epoch"],
            120,
            "optimizer.schedule.pct_start=0.3 (the default) is invalid: one_cycle steps 3 times "
            "(3 epochs, interval=epoch); its warm-up ends at step pct_start * 3 - 1 = -0.1, so it "
            "has no step (torch's OneCycleLR would skip it); use pct_start in (0.333333, 1)",
        ),
        (
            ["trainer.epochs=1", "optimizer.schedule.interval=epoch"],
            120,
            "one_cycle needs at least 2 steps: use more epochs or interval=step",
        ),
    ],
)
def test_one_cycle_steps_are_counted_from_the_training_split(overrides, n_train, message):
    cfg = compose_config(["optimizer.schedule.name=one_cycle", *overrides])
    with pytest.raises(ConfigError) as caught:
        check_one_cycle_steps(cfg, n_train)
    assert message in str(caught.value)


def test_one_cycle_with_enough_steps_passes():
    cfg = compose_config(["optimizer.schedule.name=one_cycle", "optimizer.schedule.pct_start=0.02"])
    check_one_cycle_steps(cfg, 600)  # 100 epochs x 19 steps: the warm-up ends at step 37


def test_given_keys_are_the_override_lines_keys():
    lines = ["data=xor", "data.noise=0.7", "+model.dropout=0.1", "++seed=3", "~data.seed"]
    assert given_keys(lines) == {"data", "data.noise", "model.dropout", "seed", "data.seed"}


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["data=xor", "data.noise=0.7"], "data.noise=0.7 is invalid: data=xor does not take it"),
        (["data=iris", "data.n_samples=50"], "data.n_samples=50 is invalid: data=iris"),
        (["data.path=x.csv"], "data.path='x.csv' is invalid: data=moons does not take it"),
        (["data.task=regression"], "data.task='regression' is invalid: data=moons"),
        (["trainer.early_stopping.patience=3"], "trainer.early_stopping.patience=3 is invalid"),
        (["trainer.early_stopping.restore_best=false"], "restore_best=False is invalid"),
        (["model=linear", "model.activation=tanh"], "model.activation='tanh' is invalid"),
        (["model.hidden_sizes=[]", "model.norm=batch"], "model.norm='batch' is invalid"),
        (["model=linear", "model.dropout=0.1"], "model.dropout=0.1 is invalid"),
    ],
)
def test_a_value_without_effect_is_refused(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        compose_config(overrides)


def test_configs_that_were_fine_stay_fine():
    assert compose_config(["model.hidden_sizes=[]"]).model.activation == "tanh"  # mlp's default
    assert compose_config(["model=linear", "model.activation=identity"]).model.hidden_sizes == []
    assert compose_config(["data=blobs", "data.n_features=3", "data.centers=4"]).data.centers == 4
    assert compose_config(["trainer=early_stopping", "trainer.early_stopping.patience=3"])
    assert compose_config(["data=xor", "+experiment=seed_xor"]).data.name == "xor"


def test_a_changed_value_is_refused_without_overrides():
    """An experiment file or a reproduced run's params give no override lines: a knob whose
    value differs from the schema's default is refused all the same."""
    cfg = compose_config(["data=xor"])
    cfg.data.noise = 0.7
    with pytest.raises(ConfigError, match=r"^data.noise=0.7 is invalid: data=xor"):
        validate_config(cfg)
    cfg = compose_config()
    cfg.trainer.early_stopping.monitor = "val_accuracy"
    with pytest.raises(ConfigError, match=r"^trainer.early_stopping.monitor='val_accuracy'"):
        validate_config(cfg)


def test_cosine_warmup_is_named_in_epochs():
    with pytest.raises(ConfigError) as caught:
        compose_config(
            ["trainer.epochs=20", "optimizer.schedule.name=cosine",
             "optimizer.schedule.interval=step", "optimizer.schedule.warmup_epochs=25"]
        )  # fmt: skip
    assert str(caught.value) == (
        "optimizer.schedule.warmup_epochs=25 is invalid: must be < trainer.epochs=20 (cosine "
        "decays over the epochs after the warm-up)"
    )


def test_a_knob_at_its_default_changes_nothing_and_is_the_way_out_of_an_experiments_value():
    # regularization sets data.n_samples=200 and data.noise=0.3 for moons: with data=iris the
    # refusal says where they come from and how to set them aside (an override cannot delete)
    with pytest.raises(ConfigError, match=re.escape("give data.n_samples=1000, its default")):
        compose_config(["+experiment=regularization", "data=iris"])
    cfg = compose_config(
        ["+experiment=regularization", "data=iris", "data.n_samples=1000", "data.noise=0.2"]
    )
    assert cfg.data.name == "iris"
    assert compose_config(["data=xor", "data.noise=0.2"]).data.noise == 0.2


def test_reproduce_replays_a_recorded_value_that_had_no_effect():
    # a run recorded before these checks (data=xor with data.n_samples=100) must still replay
    from nnexp.config.validate import validate_config

    cfg = compose_config(["data=xor", "data.n_samples=100"], validate=False)
    with pytest.raises(ConfigError, match="data=xor does not take it"):
        validate_config(cfg)
    validate_config(cfg, effect=False)  # what reproduce calls (end to end: tests/commands)

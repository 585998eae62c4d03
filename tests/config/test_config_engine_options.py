"""Engine options through the config: every value takes effect (as in torch) or is refused with
one line naming the key and the optimiser/schedule; norms, clipping, plateau, per-step
schedules, L1 and class weights reach the run."""

from __future__ import annotations

import numpy as np
import pytest
from nnexp_testing import NnexpCommand

from nnexp.build import build_optimizer, build_schedule, build_splits, class_weights
from nnexp.config.compose import compose_config
from nnexp.errors import ConfigError
from nnexp.nn import MLP, SGD, GradientStep
from nnexp.run import run_experiment

QUIET = ["tracking=off", "trainer.progress=false"]


def test_sgd_with_momentum_is_momentum_sgd_as_in_torch():
    cfg = compose_config(["optimizer=sgd", "optimizer.momentum=0.9", "optimizer.dampening=0.1"])
    opt = build_optimizer(cfg.optimizer, [np.zeros(3)])
    assert isinstance(opt, SGD)
    assert (opt.momentum, opt.dampening, opt.nesterov) == (0.9, 0.1, False)
    nesterov = compose_config(
        ["optimizer=sgd", "optimizer.momentum=0.9", "optimizer.nesterov=true"]
    )
    assert build_optimizer(nesterov.optimizer, [np.zeros(3)]).nesterov is True
    plain = build_optimizer(compose_config(["optimizer=sgd"]).optimizer, [np.zeros(3)])
    assert plain.momentum == 0.0  # torch's default: plain SGD


@pytest.mark.parametrize(
    "opt,extra",
    [
        ("adam", ["optimizer.amsgrad=true"]),
        ("adamw", ["optimizer.amsgrad=true"]),
        ("rmsprop", ["optimizer.centered=true", "optimizer.momentum=0.5"]),
    ],
)
def test_optimiser_flags_take_effect(opt, extra):
    cfg = compose_config([f"optimizer={opt}", *extra])
    built = build_optimizer(cfg.optimizer, [np.zeros(3)])
    for override in extra:
        key, value = override.split("=")
        assert built.hyperparameters()[key.split(".")[1]] == {"true": True}.get(value, 0.5)


@pytest.mark.parametrize(
    "overrides,message",
    [
        (
            ["optimizer=sgd", "optimizer.betas=[0.9,0.99]"],
            "optimizer.betas=[0.9, 0.99] is invalid: it has no effect on optimizer=sgd "
            "(it takes: lr, momentum, dampening, nesterov, weight_decay)",
        ),
        (
            ["optimizer=sgd", "optimizer.eps=1e-6"],
            "optimizer.eps=1e-06 is invalid: it has no effect on optimizer=sgd",
        ),
        (
            ["optimizer=sgd", "optimizer.alpha=0.9"],
            "optimizer.alpha=0.9 is invalid: it has no effect on optimizer=sgd",
        ),
        (
            ["optimizer=adam", "optimizer.momentum=0.9"],
            "optimizer.momentum=0.9 is invalid: it has no effect on optimizer=adam",
        ),
        (
            ["optimizer=adam", "optimizer.alpha=0.9"],
            "optimizer.alpha=0.9 is invalid: it has no effect on optimizer=adam",
        ),
        (
            ["optimizer=momentum", "optimizer.nesterov=true"],
            "optimizer.nesterov=True is invalid: it has no effect on optimizer=momentum",
        ),
        (
            ["optimizer=adam", "optimizer.centered=true"],
            "optimizer.centered=True is invalid: it has no effect on optimizer=adam",
        ),
        (
            ["optimizer.schedule.name=cosine", "optimizer.schedule.gamma=0.5"],
            "optimizer.schedule.gamma=0.5 is invalid: it has no effect on schedule cosine "
            "(it takes: interval, warmup_epochs, min_lr)",
        ),
        (
            ["optimizer.schedule.step_size=5"],
            "optimizer.schedule.step_size=5 is invalid: it has no effect on schedule constant",
        ),
        (
            ["optimizer.schedule.name=reduce_on_plateau", "optimizer.schedule.interval=step"],
            "optimizer.schedule.interval='step' is invalid: reduce_on_plateau reads a per-epoch metric",
        ),
        (
            ["optimizer.schedule.name=one_cycle", "optimizer.schedule.warmup_epochs=2"],
            "optimizer.schedule.warmup_epochs=2 is invalid: has no effect on schedule one_cycle",
        ),
        (
            ["optimizer.schedule.interval=batch"],
            "optimizer.schedule.interval='batch' is invalid: valid choices: epoch, step",
        ),
        (
            ["model.init_std=0.5"],
            "model.init_std=0.5 is invalid: has no effect on model.init=xavier_uniform",
        ),
        (["model.norm=group"], "model.norm='group' is invalid: valid choices: none, batch, layer"),
        (
            ["model.norm=layer", "model.norm_momentum=0.2"],
            "model.norm_momentum=0.2 is invalid: has no effect on model.norm=layer",
        ),
        (
            ["model.norm_eps=0.001"],
            "model.norm_eps=0.001 is invalid: has no effect on model.norm=none",
        ),
        (["model.label_smoothing=1.5"], "model.label_smoothing=1.5 is invalid: must be in [0, 1)"),
        (
            ["trainer.clip_grad_norm=0"],
            "trainer.clip_grad_norm=0.0 is invalid: must be > 0 (or null: off)",
        ),
        (["optimizer.l1=-1"], "optimizer.l1=-1.0 is invalid: must be >= 0.0"),
        (
            ["data.class_weight=heavy"],
            "data.class_weight='heavy' is invalid: valid choices: null, balanced",
        ),
    ],
)
def test_values_without_effect_are_refused(overrides, message):
    with pytest.raises(ConfigError) as info:
        compose_config(overrides)
    assert str(info.value) == message or str(info.value).startswith(message)


def test_each_schedule_has_its_own_defaults():
    exp = build_schedule(compose_config(["optimizer.schedule.name=exponential"]).optimizer, 10)
    assert exp(10) == pytest.approx(0.01 * 0.95**10)  # not the step schedule's gamma 0.1
    step = build_schedule(compose_config(["optimizer.schedule.name=step"]).optimizer, 100)
    assert (step(29), step(30)) == pytest.approx((0.01, 0.001))


def test_a_refused_value_exits_2_with_one_line_and_no_run(tmp_path):
    cmd = NnexpCommand(tmp_path)
    result = cmd.run("optimizer=sgd", "optimizer.betas=[0.9,0.99]", "trainer.epochs=2")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "nnexp: error: optimizer.betas=[0.9, 0.99] is invalid: it has no effect on "
        "optimizer=sgd (it takes: lr, momentum, dampening, nesterov, weight_decay)"
    ]
    assert cmd.runs() == []


def test_norm_clipping_plateau_l1_and_class_weights_reach_the_run():
    cfg = compose_config(
        [
            *QUIET,
            "model.norm=batch",
            "model.norm_momentum=0.2",
            "trainer.clip_grad_norm=0.05",
            "optimizer.l1=1e-4",
            "optimizer.schedule.name=reduce_on_plateau",
            "optimizer.schedule.monitor=train_loss",
            "optimizer.schedule.patience=0",
            "optimizer.schedule.threshold=0.5",
            "data.class_weight=balanced",
            "trainer.epochs=4",
        ]
    )
    result = run_experiment(cfg)
    model = result.model
    assert model.norm == "batch" and model.norm_momentum == 0.2
    assert model.buffer_names == ["running_mean1", "running_var1", "running_mean2", "running_var2"]
    records = result.history.epochs
    assert all(r["grad_norm"] > 0.05 for r in records)  # the pre-clip norm is recorded
    # threshold 0.5 (rel): no epoch improves enough on the first, patience 0: from epoch 2 on
    # every epoch divides the rate by 10, effective from the next epoch (as torch's)
    assert [r["lr"] for r in records] == pytest.approx([0.01, 0.01, 0.001, 1e-4])
    _, splits = build_splits(cfg.data, cfg.seed)
    counts = np.bincount(splits.train.y)
    expected = len(splits.train.y) / (2 * counts)
    np.testing.assert_allclose(model.head.class_weight, expected)


def test_one_cycle_steps_every_batch():
    cfg = compose_config(
        [*QUIET, "optimizer.schedule.name=one_cycle", "trainer.epochs=3", "trainer.batch_size=100"]
    )
    result = run_experiment(cfg)
    n_train = len(result.splits.train.X)
    steps = -(-n_train // 100)
    from nnexp.nn import make_schedule

    sched = make_schedule("one_cycle", 0.01, total_steps=3 * steps)
    # each epoch records the rate of its last step
    assert [r["lr"] for r in result.history.epochs] == pytest.approx(
        [sched(steps * e - 1) for e in (1, 2, 3)], rel=1e-15
    )


def test_batchnorm_refuses_a_last_batch_of_one():
    cfg = compose_config(
        [*QUIET, "model.norm=batch", "data.n_samples=101", "trainer.batch_size=30"]
    )
    _, splits = build_splits(cfg.data, cfg.seed)
    n = len(splits.train.X)
    cfg.trainer.batch_size = n - 1
    with pytest.raises(
        ConfigError,
        match=rf"={n - 1} is invalid with model.norm=batch: it leaves a batch of 1 of the {n} training",
    ):
        run_experiment(cfg)


def test_class_weight_list_must_name_every_class():
    cfg = compose_config([*QUIET, "data=iris", "data.class_weight=[1,2]"])
    dataset, splits = build_splits(cfg.data, cfg.seed)
    with pytest.raises(ConfigError, match=r"has 3 classes \(give 3 weights or balanced\)"):
        class_weights(cfg.data, splits, dataset)


def test_gradient_step_is_used_only_when_needed():
    from nnexp.build import build_training

    cfg = compose_config(QUIET)
    dataset, splits = build_splits(cfg.data, cfg.seed)
    model = MLP([2, 4, 1], output="sigmoid", rng=0)
    optimizer, _, callbacks = build_training(cfg, model, splits, dataset.task)
    assert not isinstance(optimizer, GradientStep) and callbacks == []
    cfg.trainer.clip_grad_value = 0.1
    optimizer, _, _ = build_training(cfg, model, splits, dataset.task)
    assert isinstance(optimizer, GradientStep) and optimizer.clip_grad_value == 0.1


def test_pre_clip_gradient_norm_is_a_logged_metric(tmp_path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = compose_config(
        [
            "trainer.progress=false",
            f"tracking.uri={uri}",
            f"tracking.artifact_location={tmp_path / 'artifacts'}",
            "tracking.log_model=false",
            "tracking.log_plots=false",
            "trainer.epochs=3",
            "trainer.clip_grad_norm=0.01",
        ]
    )
    result = run_experiment(cfg)
    history = MlflowClient(tracking_uri=uri).get_metric_history(result.run_id, "grad_norm")
    assert [m.step for m in history] == [1, 2, 3]
    assert [m.value for m in history] == pytest.approx(
        [r["grad_norm"] for r in result.history.epochs], rel=1e-12
    )
    assert all(m.value > 0.01 for m in history)  # above the clipping threshold: it clipped


def test_pyfunc_model_with_batchnorm_predicts_with_running_statistics(tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = compose_config(
        [
            "trainer.progress=false",
            f"tracking.uri={uri}",
            f"tracking.artifact_location={tmp_path / 'artifacts'}",
            "tracking.log_plots=false",
            "trainer.epochs=3",
            "model.norm=batch",
        ]
    )
    result = run_experiment(cfg)
    mlflow.set_tracking_uri(uri)
    pyfunc = mlflow.pyfunc.load_model(result.model_uri)
    raw = result.dataset.X[:40]
    standardized = (raw - result.splits.scaler_mean) / result.splits.scaler_std
    np.testing.assert_array_equal(
        np.asarray(pyfunc.predict(raw)), result.model.predict(standardized)
    )
    assert not np.allclose(result.model.buffers[0], 0.0)  # trained running statistics in use

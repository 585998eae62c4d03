"""The trivial baseline and the loss floor under the run's own criterion (label smoothing and
class weights), checked against the loss the engine's heads compute, and the diagnosis of runs
that fit perfectly under such criteria."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from nnexp.config.compose import compose_config
from nnexp.data.baseline import trivial_baseline
from nnexp.data.loss_floor import loss_floor
from nnexp.errors import ConfigError
from nnexp.nn.heads import make_head
from nnexp.run import run_experiment

Y_TRAIN3 = np.array([0] * 50 + [1] * 30 + [2] * 20)
Y_EVAL3 = np.array([0] * 10 + [1] * 25 + [2] * 5)
Y_TRAIN2 = np.array([0] * 70 + [1] * 30)
Y_EVAL2 = np.array([0] * 12 + [1] * 28)


def _head_targets(head, y):
    return head.targets(y, len(y), np.float64)


def best_constant_loss(head, y_train, y_eval) -> float:
    """Minimise the engine's loss over one logit vector shared by every training sample (BFGS
    with the head's own gradient summed over the rows), then score it on ``y_eval``."""
    k = head.k
    t_train = _head_targets(head, y_train)

    def loss_and_grad(c):
        z = np.tile(c, (len(y_train), 1))
        loss, g = head.loss_and_grad(z, t_train)
        return loss, g.sum(axis=0)

    found = minimize(loss_and_grad, np.zeros(k), jac=True, method="BFGS", options={"gtol": 1e-12})
    z_eval = np.tile(found.x, (len(y_eval), 1))
    return head.loss(z_eval, _head_targets(head, y_eval))


SOFTMAX_CASES = [
    pytest.param(0.0, None, id="plain"),
    pytest.param(0.3, None, id="smoothed"),
    pytest.param(0.0, [1.0, 3.0, 0.5], id="weighted"),
    pytest.param(0.2, [2.0, 0.5, 4.0], id="smoothed+weighted"),
]


@pytest.mark.parametrize(("eps", "weights"), SOFTMAX_CASES)
def test_softmax_baseline_is_the_engine_loss_of_the_best_constant(eps, weights):
    head = make_head("softmax", "cross_entropy", 3, label_smoothing=eps, class_weight=weights)
    expected = best_constant_loss(head, Y_TRAIN3, Y_EVAL3)
    got = trivial_baseline(
        Y_TRAIN3, Y_EVAL3, "classification", "cross_entropy", 3,
        label_smoothing=eps, class_weight=weights,
    )  # fmt: skip
    assert got == pytest.approx(expected, rel=1e-7)
    # on the training split itself no constant does better
    on_train = trivial_baseline(
        Y_TRAIN3, Y_TRAIN3, "classification", "cross_entropy", 3,
        label_smoothing=eps, class_weight=weights,
    )  # fmt: skip
    assert on_train == pytest.approx(best_constant_loss(head, Y_TRAIN3, Y_TRAIN3), rel=1e-7)


@pytest.mark.parametrize(
    "weights",
    [pytest.param(None, id="plain"), pytest.param([20.0, 20.0], id="20-20"), [1.0, 4.0]],
)
def test_sigmoid_baseline_is_the_engine_loss_of_the_best_constant(weights):
    head = make_head("sigmoid", "bce", 1, class_weight=weights)
    expected = best_constant_loss(head, Y_TRAIN2, Y_EVAL2)
    got = trivial_baseline(Y_TRAIN2, Y_EVAL2, "classification", "bce", class_weight=weights)
    assert got == pytest.approx(expected, rel=1e-7)


def test_uniform_weights_scale_the_sigmoid_baseline_but_not_the_softmax_one():
    plain = trivial_baseline(Y_TRAIN2, Y_EVAL2, "classification", "bce")
    bce = trivial_baseline(Y_TRAIN2, Y_EVAL2, "classification", "bce", class_weight=[20, 20])
    ce = trivial_baseline(
        Y_TRAIN2, Y_EVAL2, "classification", "cross_entropy", 2, class_weight=[20, 20]
    )
    assert bce == pytest.approx(20 * plain, rel=1e-12)  # mean over samples, not normalised
    assert ce == pytest.approx(plain, rel=1e-12)  # divided by the sum of the weights


@pytest.mark.parametrize(("eps", "weights"), SOFTMAX_CASES)
def test_loss_floor_is_the_engine_loss_of_the_best_per_class_logits(eps, weights):
    head = make_head("softmax", "cross_entropy", 3, label_smoothing=eps, class_weight=weights)
    y = Y_EVAL3
    t = _head_targets(head, y)
    onehot = np.eye(3)[y]  # (n, 3): sample i takes the logit vector of its class

    def loss_and_grad(flat):
        logits = flat.reshape(3, 3)
        loss, g = head.loss_and_grad(onehot @ logits, t)
        return loss, (onehot.T @ g).ravel()

    # start at the smoothed targets' log-probabilities' neighbourhood; BFGS finds the minimum
    found = minimize(loss_and_grad, np.eye(3).ravel(), jac=True, method="BFGS",
                     options={"gtol": 1e-12})  # fmt: skip
    floor = loss_floor(y, "cross_entropy", 3, label_smoothing=eps, class_weight=weights)
    assert floor == pytest.approx(found.fun, rel=1e-7, abs=1e-9)


def test_loss_floor_unweighted_is_the_smoothed_targets_entropy():
    floor = loss_floor(Y_EVAL3, "cross_entropy", 3, label_smoothing=0.3)
    assert floor == pytest.approx(-(0.8 * math.log(0.8) + 0.2 * math.log(0.1)), rel=1e-12)
    assert floor == pytest.approx(0.6390, abs=1e-4)  # what the blobs run's loss settles at
    assert loss_floor(Y_EVAL3, "cross_entropy", 3) == 0.0
    assert loss_floor(Y_EVAL2, "bce", 2, class_weight=[1, 4]) == 0.0


RUN = ["data.n_samples=200", "trainer.epochs=20", "trainer.progress=false", "tracking=off"]


def test_perfect_fit_with_label_smoothing_is_good_not_underfit():
    cfg = compose_config([*RUN, "data=blobs", "model.label_smoothing=0.3", "trainer.epochs=100"])
    result = run_experiment(cfg)
    final = result.history.final
    assert final["train_accuracy"] == final["val_accuracy"] == 1.0
    d = result.diagnosis
    assert d.label == "good", d.reason
    assert d.loss_floor == pytest.approx(-(0.8 * math.log(0.8) + 0.2 * math.log(0.1)))
    assert d.train_vs_baseline < 0.01
    assert "above the floor 0.639" in d.reason


def test_uniform_sigmoid_class_weights_do_not_change_the_diagnosis():
    plain = run_experiment(compose_config(RUN))
    weighted = run_experiment(compose_config([*RUN, "data.class_weight=[20,20]"]))
    assert weighted.history.final["train_accuracy"] == plain.history.final["train_accuracy"]
    assert weighted.baseline_loss == pytest.approx(20 * plain.baseline_loss, rel=1e-12)
    assert weighted.diagnosis.label == plain.diagnosis.label == "good", weighted.diagnosis.reason
    assert weighted.diagnosis.train_vs_baseline == pytest.approx(
        plain.diagnosis.train_vs_baseline, rel=1e-3
    )


def test_label_smoothing_one_leaves_nothing_to_learn_and_is_refused():
    overrides = [*RUN, "data=blobs", "model.label_smoothing=1.0"]
    refused = r"model.label_smoothing=1.0 is invalid.*\[0, 1\)"
    with pytest.raises(ConfigError, match=refused):  # from the config alone (a multirun's check)
        compose_config(overrides)
    with pytest.raises(ConfigError, match=refused):  # and from the data's baseline
        run_experiment(compose_config(overrides, validate=False))

"""Every bad argument raises ValueError whose message names the bad value."""

from __future__ import annotations

import numpy as np
import pytest

from nnexp.nn import MLP, Dense, Dropout, gradient_check, make_optimizer
from nnexp.nn.initializers import get_initializer

P = [np.ones(3)]

BAD = [
    (lambda: MLP([2]), "[2]"),
    (lambda: MLP("2,3"), "'2,3'"),
    (lambda: MLP([2, 0, 1]), "0"),
    (lambda: MLP([2, 2.5, 1]), "2.5"),
    (lambda: MLP([2, 3], activation="swish"), "'swish'"),
    (lambda: MLP([2, 3], output="tanh"), "'tanh'"),
    (lambda: MLP([2, 3], output="softmax", loss="bce"), "'bce'"),
    (lambda: MLP([2, 3], loss="hinge"), "'hinge'"),
    (lambda: MLP([2, 3], init="orthogonal"), "'orthogonal'"),
    (lambda: MLP([2, 3], init="normal", init_kwargs={"std": -1.0}), "-1.0"),
    (lambda: MLP([2, 3], init="he_normal", init_kwargs={"std": 1.0}), "std"),
    (lambda: MLP([2, 3], dropout=1.0), "1.0"),
    (lambda: MLP([2, 3], dropout=-0.1), "-0.1"),
    (lambda: MLP([2, 3], dtype=np.float16), "float16"),
    (lambda: MLP([2, 3], dtype="int32"), "int32"),
    (lambda: MLP([2, 3], rng="seed"), "'seed'"),
    (
        lambda: MLP([2, 3], activation="leaky_relu", activation_kwargs={"negative_slope": 2.0}),
        "2.0",
    ),
    (lambda: Dropout(1.5), "1.5"),
    (lambda: Dense(0, 3, rng=np.random.default_rng(0)), "0"),
    (lambda: Dense(2, 3), "None"),
    (lambda: get_initializer("lecun"), "'lecun'"),
    (lambda: make_optimizer("adagrad", P, lr=0.1), "'adagrad'"),
    (lambda: make_optimizer("sgd", P, lr=-1.0), "lr must be > 0.0, got -1.0"),
    (lambda: make_optimizer("sgd", P, lr=0), "got 0"),
    (lambda: make_optimizer("sgd", P, lr=float("nan")), "nan"),
    (lambda: make_optimizer("sgd", P, lr="0.1"), "'0.1'"),
    (lambda: make_optimizer("sgd", P, lr=0.1, momentum=-0.5), "-0.5"),
    (lambda: make_optimizer("sgd", P, lr=0.1, nesterov=True), "momentum=0.0"),
    (lambda: make_optimizer("sgd", P, lr=0.1, nesterov="yes"), "'yes'"),
    (lambda: make_optimizer("momentum", P, lr=0.1, momentum=1.0), "1.0"),
    (lambda: make_optimizer("momentum", P, lr=0.1, momentum=0.0), "0.0"),
    (lambda: make_optimizer("sgd", P, lr=0.1, weight_decay=-0.01), "-0.01"),
    (lambda: make_optimizer("sgd", P, lr=0.1, dampening=1.5), "1.5"),
    (lambda: make_optimizer("adam", P, lr=0.1, betas=(0.9, 1.0)), "1.0"),
    (lambda: make_optimizer("adam", P, lr=0.1, betas=0.9), "0.9"),
    (lambda: make_optimizer("adam", P, lr=0.1, eps=0.0), "0.0"),
    (lambda: make_optimizer("adam", P, lr=0.1, momentum=0.9), "momentum"),
    (lambda: make_optimizer("adamw", P, lr=0.1, weight_decay=-1), "-1"),
    (lambda: make_optimizer("rmsprop", P, lr=0.1, alpha=1.2), "1.2"),
    (lambda: make_optimizer("rmsprop", P, lr=0.1, centered=1), "1"),
    (lambda: make_optimizer("sgd", [], lr=0.1), "empty"),
    (lambda: make_optimizer("sgd", [np.ones(2, dtype=int)], lr=0.1), "int64"),
    (lambda: make_optimizer("sgd", [[1.0, 2.0]], lr=0.1), "list"),
]


@pytest.mark.parametrize("fn,needle", BAD)
def test_bad_argument_raises_value_error_naming_the_value(fn, needle):
    with pytest.raises(ValueError) as e:
        fn()
    assert needle in str(e.value), str(e.value)


def test_bad_inputs_to_model_calls():
    model = MLP([3, 4, 2], output="softmax", rng=0)
    with pytest.raises(ValueError, match=r"\(5, 2\)"):
        model.forward(np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"\(3,\)"):
        model.loss(np.zeros(3), np.zeros(1))
    with pytest.raises(ValueError, match="label 7"):
        model.loss_and_grads(np.zeros((2, 3)), np.array([0, 7]))
    with pytest.raises(ValueError, match="empty batch"):
        model.loss_and_grads(np.zeros((0, 3)), np.zeros(0, int))
    with pytest.raises(ValueError, match="empty batch"):
        model.loss(np.zeros((0, 3)), np.zeros(0, int))
    with pytest.raises(ValueError, match="-1e-06"):
        gradient_check(model, np.zeros((2, 3)), np.array([0, 1]), eps=-1e-6)

"""Every bad argument raises ValueError whose message names the argument and its bad value."""

from __future__ import annotations

import numpy as np
import pytest

from nnexp.nn import MLP, Dense, Dropout, gradient_check, make_optimizer
from nnexp.nn.initializers import get_initializer

P = [np.ones(3)]

BAD = [
    (lambda: MLP([2]), "[2]"),
    (lambda: MLP("2,3"), "'2,3'"),
    (lambda: MLP([2, 0, 1]), "sizes[1] must be >= 1, got 0"),
    (lambda: MLP([2, 2.5, 1]), "sizes[1] must be an integer, got 2.5"),
    (lambda: MLP([2, 3], activation="swish"), "'swish'"),
    (lambda: MLP([2, 3], output="tanh"), "'tanh'"),
    (lambda: MLP([2, 3], output="softmax", loss="bce"), "'bce'"),
    (lambda: MLP([2, 3], loss="hinge"), "'hinge'"),
    (lambda: MLP([2, 3], init="orthogonal"), "'orthogonal'"),
    (lambda: MLP([2, 3], init="normal", init_kwargs={"std": -1.0}), "std must be > 0.0, got -1.0"),
    (lambda: MLP([2, 3], init="he_normal", init_kwargs={"std": 1.0}), "argument(s) std for"),
    (lambda: MLP([2, 3], dropout=1.0), "dropout must be in [0.0, 1.0), got 1.0"),
    (lambda: MLP([2, 3], dropout=-0.1), "dropout must be in [0.0, 1.0), got -0.1"),
    (
        lambda: MLP([2, 3], dtype=np.float16),
        "dtype must be one of float32, float64, got <class 'numpy.float16'>",
    ),
    (lambda: MLP([2, 3], dtype="int32"), "dtype must be one of float32, float64, got 'int32'"),
    (lambda: MLP([2, 3], rng="seed"), "'seed'"),
    (
        lambda: MLP([2, 3], activation="leaky_relu", activation_kwargs={"negative_slope": 2.0}),
        "negative_slope must be in [0.0, 1.0), got 2.0",
    ),
    (lambda: Dropout(1.5), "dropout p must be in [0.0, 1.0), got 1.5"),
    (lambda: Dense(0, 3, rng=np.random.default_rng(0)), "d_in must be >= 1, got 0"),
    (lambda: Dense(2, 3), "needs rng (a numpy.random.Generator) to draw W, got None"),
    (lambda: get_initializer("lecun"), "'lecun'"),
    (lambda: make_optimizer("adagrad", P, lr=0.1), "'adagrad'"),
    (lambda: make_optimizer("sgd", P, lr=-1.0), "lr must be > 0.0, got -1.0"),
    (lambda: make_optimizer("sgd", P, lr=0), "lr must be > 0.0, got 0"),
    (lambda: make_optimizer("sgd", P, lr=float("nan")), "lr must be > 0.0, got nan"),
    (lambda: make_optimizer("sgd", P, lr="0.1"), "lr must be a real number, got '0.1'"),
    (
        lambda: make_optimizer("sgd", P, lr=0.1, momentum=-0.5),
        "momentum must be in [0.0, 1.0), got -0.5",
    ),
    (lambda: make_optimizer("sgd", P, lr=0.1, nesterov=True), "momentum=0.0"),
    (lambda: make_optimizer("sgd", P, lr=0.1, nesterov="yes"), "'yes'"),
    (
        lambda: make_optimizer("momentum", P, lr=0.1, momentum=1.0),
        "momentum must be in [0.0, 1.0), got 1.0",
    ),
    (
        lambda: make_optimizer("momentum", P, lr=0.1, momentum=0.0),
        "momentum must be in (0, 1) for optimizer 'momentum', got 0.0",
    ),
    (
        lambda: make_optimizer("sgd", P, lr=0.1, weight_decay=-0.01),
        "weight_decay must be >= 0.0, got -0.01",
    ),
    (
        lambda: make_optimizer("sgd", P, lr=0.1, dampening=1.5),
        "dampening must be in [0.0, 1.0], got 1.5",
    ),
    (
        lambda: make_optimizer("adam", P, lr=0.1, betas=(0.9, 1.0)),
        "betas[1] must be in [0.0, 1.0), got 1.0",
    ),
    (
        lambda: make_optimizer("adam", P, lr=0.1, betas=0.9),
        "betas must be a pair (beta1, beta2), got 0.9",
    ),
    (lambda: make_optimizer("adam", P, lr=0.1, eps=0.0), "eps must be > 0.0, got 0.0"),
    (lambda: make_optimizer("adam", P, lr=0.1, momentum=0.9), "momentum"),
    (
        lambda: make_optimizer("adamw", P, lr=0.1, weight_decay=-1),
        "weight_decay must be >= 0.0, got -1",
    ),
    (
        lambda: make_optimizer("rmsprop", P, lr=0.1, alpha=1.2),
        "alpha must be in [0.0, 1.0), got 1.2",
    ),
    (
        lambda: make_optimizer("rmsprop", P, lr=0.1, centered=1),
        "centered must be True or False, got 1",
    ),
    (
        lambda: make_optimizer("sgd", [], lr=0.1),
        "params must be a non-empty list of arrays, got an empty list",
    ),
    (
        lambda: make_optimizer("sgd", [np.ones(2, dtype=int)], lr=0.1),
        "params[0] must be a float numpy array, got ndarray of dtype int64",
    ),
    (
        lambda: make_optimizer("sgd", [[1.0, 2.0]], lr=0.1),
        "params[0] must be a float numpy array, got list",
    ),
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

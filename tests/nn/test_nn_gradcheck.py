"""Gradient checks: every activation x every output/loss pairing, whole MLPs at random shapes."""

from __future__ import annotations

import numpy as np
import pytest

from nnexp.nn import ACTIVATIONS, MLP, VALID_PAIRS, gradient_check, make_activation
from nnexp.nn.gradcheck import numerical_gradient, relative_error

TOL = 1e-6
KINKED = {"relu", "leaky_relu"}


def _targets(rng, output, n, k):
    if output == "softmax":
        return rng.integers(0, k, n)
    if output == "sigmoid":
        return rng.integers(0, 2, (n, k)).astype(float)
    return rng.standard_normal((n, k))


def _pre_activations(model, X):
    """Hidden pre-activations of an eval pass (to keep kinked activations off their kink)."""
    h, out = X, []
    for i, (W, b) in enumerate(zip(model.params[::2], model.params[1::2], strict=True)):
        z = h @ W + b
        out.append(z)
        if i < len(model.params) // 2 - 1:
            act = make_activation(model.activation, **model.activation_kwargs)
            h = act.forward(z)
    return out[:-1]


def _random_model(seed, activation, output, loss, sizes=None):
    rng = np.random.default_rng(seed)
    if sizes is None:
        sizes = [int(rng.integers(2, 6)) for _ in range(int(rng.integers(2, 4)))] + [3]
    model = MLP(sizes, activation=activation, output=output, loss=loss, rng=rng)
    for b in model.params[1::2]:  # non-zero biases: no exact ties at 0 for kinked activations
        b[...] = rng.standard_normal(b.shape) * 0.5
    n = int(rng.integers(3, 9))
    X = rng.standard_normal((n, sizes[0]))
    y = _targets(rng, output, n, sizes[-1])
    if activation in KINKED:
        for z in _pre_activations(model, X):
            # central differences must not straddle the kink at 0
            assert np.abs(z).min() > 1e-4, "pre-activation too close to the kink; pick another seed"
    return model, X, y


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("output,loss", VALID_PAIRS)
def test_every_activation_and_pairing(activation, output, loss):
    for seed in (0, 1):
        model, X, y = _random_model(seed, activation, output, loss, sizes=[4, 5, 4, 3])
        errors = gradient_check(model, X, y)
        assert set(errors) == {"W1", "b1", "W2", "b2", "W3", "b3"}
        assert max(errors.values()) < TOL, errors


@pytest.mark.parametrize("seed", range(6))
def test_random_shapes(seed):
    rng = np.random.default_rng(100 + seed)
    activation = ["tanh", "sigmoid", "gelu", "elu", "softplus", "relu"][seed]
    output, loss = VALID_PAIRS[seed % len(VALID_PAIRS)]
    model, X, y = _random_model(
        100 + seed,
        activation,
        output,
        loss,
        sizes=[int(rng.integers(1, 7)) for _ in range(3)] + [int(rng.integers(2, 5))],
    )
    errors = gradient_check(model, X, y)
    assert max(errors.values()) < TOL, errors


def test_dropout_is_disabled_during_check():
    rng = np.random.default_rng(3)
    model = MLP([3, 6, 2], activation="tanh", output="softmax", dropout=0.5, rng=rng)
    X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    assert max(gradient_check(model, X, y).values()) < TOL


def test_check_leaves_params_unchanged():
    model, X, y = _random_model(0, "tanh", "identity", "mse")
    before = [p.copy() for p in model.params]
    gradient_check(model, X, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.params, strict=True))


def test_check_detects_a_wrong_gradient():
    model, X, y = _random_model(0, "tanh", "identity", "mse")
    bad = model.loss_and_grads

    def broken(*a, **k):
        loss = bad(*a, **k)
        model.grads[0] *= 1.1
        return loss

    model.loss_and_grads = broken
    assert gradient_check(model, X, y)["W1"] > 1e-3


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_backward_matches_central_differences(name):
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 5)) * 3
    if name in KINKED:
        z[np.abs(z) < 1e-3] = 0.5
    act = make_activation(name)
    w = rng.standard_normal(z.shape)  # L = sum(w * f(z))
    act.forward(z, training=True)
    analytic = act.backward(w.copy())

    def f():
        return float(np.sum(w * make_activation(name).forward(z)))

    assert relative_error(analytic, numerical_gradient(f, z)) < 1e-8


def test_gradient_check_verdict_against_the_documented_threshold(monkeypatch):
    from nnexp.nn import THRESHOLD, Dense

    rng = np.random.default_rng(0)
    model = MLP([3, 4, 2], activation="sigmoid", output="softmax", loss="mse", rng=0)
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 2, 5)
    ok = gradient_check(model, X, y)
    assert ok.passed and ok.threshold == THRESHOLD == 1e-6
    assert ok.max_error == max(ok.values()) < THRESHOLD
    real = Dense.backward

    def off_by_a_thousandth(self, grad):
        out = real(self, grad)
        self.dW *= 1.001
        return out

    monkeypatch.setattr(Dense, "backward", off_by_a_thousandth)
    bad = gradient_check(model, X, y)
    assert not bad.passed and bad.max_error > 1e-4
    assert "FAILED" in repr(bad)
    assert gradient_check(model, X, y, threshold=1e-2).passed  # the caller may choose

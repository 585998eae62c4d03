"""Activation values (vs formulas / math.erf / torch), stability, in-place safety, registry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnexp.nn import ACTIVATIONS, erf, erfc, make_activation, sigmoid

X = np.array([-1e4, -800.0, -50.0, -3.0, -0.5, 0.0, 0.5, 3.0, 50.0, 800.0, 1e4])


def _ref(name, x):
    x = float(x)
    if name == "identity":
        return x
    if name == "sigmoid":
        return 1.0 / (1.0 + math.exp(-x)) if x > -700 else math.exp(x)
    if name == "tanh":
        return math.tanh(x)
    if name == "relu":
        return max(x, 0.0)
    if name == "leaky_relu":
        return x if x > 0 else 0.01 * x
    if name == "elu":
        return x if x > 0 else math.expm1(x)
    if name == "gelu":
        return x * 0.5 * math.erfc(-x / math.sqrt(2.0))
    if name == "softplus":
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))
    raise AssertionError(name)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_values_and_stability(name):
    act = make_activation(name)
    with np.errstate(
        over="raise", invalid="raise", divide="raise"
    ):  # no overflow / invalid warnings anywhere
        a = act.forward(X.reshape(1, -1), training=True)
        g = act.backward(np.ones((1, X.size)))
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(g))
    ref = np.array([_ref(name, x) for x in X])
    np.testing.assert_allclose(a[0], ref, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_standalone_calls_do_not_mutate_inputs(name):
    z = np.linspace(-2, 2, 12).reshape(3, 4)
    z0, g = z.copy(), np.ones_like(z)
    act = make_activation(name)
    act.forward(z, training=True)
    act.backward(g)
    assert np.array_equal(z, z0) and np.array_equal(g, np.ones_like(z))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_float32_preserved(name):
    z = np.linspace(-3, 3, 8, dtype=np.float32).reshape(2, 4)
    act = make_activation(name)
    assert act.forward(z, training=True).dtype == np.float32
    assert act.backward(np.ones_like(z)).dtype == np.float32


def test_sigmoid_is_the_tutorial_formula_bit_for_bit():
    x = np.linspace(-30, 30, 1001)
    assert np.array_equal(sigmoid(x), 1 / (1 + np.exp(-x)))


def test_erf_accuracy():
    x = np.concatenate([np.linspace(-30, 30, 20001), [0.0, 1e-300, -1e-20, 1.0, -1.0, 8.0]])
    np.testing.assert_allclose(erf(x), [math.erf(v) for v in x], rtol=1e-15, atol=1e-16)
    ref = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(erfc(x), ref, rtol=1e-13, atol=1e-300)


def test_gelu_is_exact_erf_variant_like_torch():
    torch = pytest.importorskip("torch")
    z = np.linspace(-8, 8, 401)
    ours = make_activation("gelu").forward(z)
    theirs = torch.nn.functional.gelu(torch.tensor(z)).numpy()  # approximate='none'
    np.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)


def test_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="swish") as e:
        make_activation("swish")
    assert "relu" in str(e.value) and "gelu" in str(e.value)


def test_activation_kwargs_validated():
    with pytest.raises(ValueError, match=r"-0\.1"):
        make_activation("leaky_relu", negative_slope=-0.1)
    with pytest.raises(ValueError, match=r"0\.0"):
        make_activation("elu", alpha=0.0)
    with pytest.raises(ValueError, match="beta"):
        make_activation("relu", beta=2)
    assert (
        make_activation("leaky_relu", negative_slope=0.2).forward(np.array([[-1.0]]))[0, 0] == -0.2
    )

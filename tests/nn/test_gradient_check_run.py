"""``trainer.gradient_check``'s check (nnexp.gradient_check_run) on models the full check is too
slow for, and on float32 models."""

from __future__ import annotations

import numpy as np

from nnexp.gradient_check_run import MAX_ELEMENTS_PER_ARRAY, MAX_RELATIVE_ERROR, check_model
from nnexp.nn import MLP, gradient_check


def _data(n=16, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, 2, size=n)


def test_small_models_get_the_engines_full_check():
    X, y = _data()
    model = MLP([3, 8, 1], activation="tanh", output="sigmoid", rng=1)
    check = check_model(model, X, y)
    assert check.errors == gradient_check(model, X, y, eps=1e-6)
    assert check.failure() is None


def test_large_arrays_are_checked_on_a_sample_and_pass():
    X, y = _data(d=40)
    model = MLP([40, 30, 1], activation="tanh", output="sigmoid", rng=2)
    assert model.params[0].size > MAX_ELEMENTS_PER_ARRAY
    check = check_model(model, X, y)
    assert set(check.errors) == {"W1", "b1", "W2", "b2"}
    assert check.max_error < 1e-7


def test_a_float32_model_is_checked_in_float64_and_left_untouched():
    X, y = _data()
    model = MLP([3, 8, 1], activation="tanh", output="sigmoid", rng=3, dtype=np.float32)
    before = [p.copy() for p in model.params]
    check = check_model(model, X, y)
    assert check.max_error < 1e-7  # float32 finite differences would give ~1e-3
    assert all(np.array_equal(a, b) for a, b in zip(before, model.params, strict=True))


def test_a_wrong_gradient_names_its_layer():
    X, y = _data()
    model = MLP([3, 4, 4, 1], activation="tanh", output="sigmoid", rng=4)
    original = model.loss_and_grads

    def wrong(*args, **kwargs):
        loss = original(*args, **kwargs)
        model.grads[2] *= 1.5  # W2's gradient off by half
        return loss

    model.loss_and_grads = wrong
    check = check_model(model, X, y)
    assert check.worst[0] == "W2" and check.max_error > MAX_RELATIVE_ERROR
    assert check.failure().startswith("gradient check failed: layer 2 (W2) has relative error ")


def test_a_large_batchnorm_network_is_checked_in_training_mode_and_left_untouched():
    """The sampled check differentiates the training-mode loss (batch statistics), as the full
    check does, and leaves the running statistics as they were. (It once compared backprop
    with finite differences of the eval-mode loss, failing every BatchNorm network with a layer
    too large for the full check, and moved the running statistics of the model it checked.)"""
    X, y = _data(d=40)
    model = MLP([40, 30, 1], activation="tanh", output="sigmoid", norm="batch", rng=5)
    model.loss_and_grads(X * 3.0 + 1.0, y)  # running statistics away from their start
    buffers = [b.copy() for b in model.buffers]
    assert model.params[0].size > MAX_ELEMENTS_PER_ARRAY
    check = check_model(model, X, y)
    assert check.failure() is None and check.max_error < 1e-7
    assert all(np.array_equal(a, b) for a, b in zip(buffers, model.buffers, strict=True))

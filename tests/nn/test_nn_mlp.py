"""MLP behaviour: dropout, determinism, float32 end to end, shapes, predict, contract."""

from __future__ import annotations

import numpy as np
import pytest

from nnexp.nn import MLP, OPTIMIZERS, Dense, Dropout, make_optimizer


def _moons_like(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)


def test_contract_example():
    rng = np.random.default_rng(0)
    model = MLP(
        [2, 16, 1],
        activation="tanh",
        output="sigmoid",
        loss="bce",
        init="xavier_uniform",
        dropout=0.0,
        dtype=np.float64,
        rng=rng,
    )
    assert [p.shape for p in model.params] == [(2, 16), (16,), (16, 1), (1,)]
    assert [g.shape for g in model.grads] == [(2, 16), (16,), (16, 1), (1,)]
    X, y = _moons_like()
    out = model.forward(X, training=False)
    assert out.shape == (64, 1) and np.all((out > 0) & (out < 1))
    loss = model.loss_and_grads(X, y, rng=rng)
    assert isinstance(loss, float) and loss == pytest.approx(model.loss(X, y), rel=1e-12)
    opt = make_optimizer("adam", model.params, lr=1e-2, weight_decay=0.0)
    for _ in range(300):
        model.loss_and_grads(X, y, rng=rng)
        opt.step(model.grads)
    assert model.loss(X, y) < 0.5 * loss
    assert model.predict(X).shape == (64,) and set(np.unique(model.predict(X))) <= {0, 1}


def test_predict_shapes():
    X = np.zeros((5, 3))
    assert MLP([3, 4], output="softmax", rng=0).predict(X).shape == (5,)
    assert MLP([3, 2], output="sigmoid", rng=0).predict(X).shape == (5, 2)
    assert MLP([3, 1], output="identity", rng=0).predict(X).shape == (5,)
    assert MLP([3, 2], output="identity", rng=0).predict(X).shape == (5, 2)
    probs = MLP([3, 8, 4], output="softmax", rng=0).forward(np.ones((5, 3)))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_forward_returns_fresh_arrays():
    model = MLP([2, 3, 1], rng=0)
    X = np.ones((4, 2))
    a = model.forward(X)
    model.loss_and_grads(X * 2, np.zeros(4))
    b = model.forward(X)
    assert np.array_equal(a, b) and a is not b


def test_inputs_not_mutated():
    model = MLP([2, 5, 3], activation="relu", output="softmax", dropout=0.3, rng=0)
    X, y = np.random.default_rng(0).standard_normal((6, 2)), np.array([0, 1, 2, 0, 1, 2])
    X0, y0 = X.copy(), y.copy()
    model.loss_and_grads(X, y)
    model.forward(X)
    model.predict(X)
    assert np.array_equal(X, X0) and np.array_equal(y, y0)


def test_dropout_scaling_and_eval_identity():
    rng = np.random.default_rng(0)
    drop = Dropout(0.3)
    x = np.ones((2000, 100))
    y = drop.forward(x, training=True, rng=rng)
    zeros = np.mean(y == 0)
    assert zeros == pytest.approx(0.3, abs=0.01)
    assert np.allclose(y[y != 0], 1 / 0.7)
    assert y.mean() == pytest.approx(1.0, abs=0.01)  # inverted dropout preserves the mean
    g = drop.backward(np.ones_like(x))
    assert np.array_equal(g == 0, y == 0)  # same mask in backward
    assert drop.forward(x, training=False) is x  # eval: identity
    with pytest.raises(ValueError, match="rng"):
        drop.forward(x, training=True, rng=None)


def test_dropout_in_model_only_in_training():
    X, y = _moons_like()
    model = MLP([2, 32, 2], activation="relu", output="softmax", dropout=0.5, rng=0)
    a = model.forward(X)
    b = model.forward(X)
    assert np.array_equal(a, b)  # eval: deterministic, no dropout
    t1 = model.forward(X, training=True, rng=np.random.default_rng(1))
    assert not np.allclose(t1, a)
    l1 = model.loss_and_grads(X, y, rng=np.random.default_rng(5))
    l2 = model.loss_and_grads(X, y, rng=np.random.default_rng(5))
    l3 = model.loss_and_grads(X, y, rng=np.random.default_rng(6))
    assert l1 == l2 != l3
    assert model.loss_and_grads(X, y, dropout=False) == pytest.approx(model.loss(X, y), rel=1e-12)


def _train(seed, dtype=np.float64, dropout=0.2, steps=20):
    rng = np.random.default_rng(seed)
    X, y = _moons_like(96, seed=1)
    model = MLP(
        [2, 8, 8, 2],
        activation="gelu",
        output="softmax",
        dropout=dropout,
        init="he_normal",
        dtype=dtype,
        rng=rng,
    )
    opt = make_optimizer("adamw", model.params, lr=1e-2)
    for _ in range(steps):
        idx = rng.permutation(len(X))[:32]
        model.loss_and_grads(X[idx], y[idx], rng=rng)
        opt.step(model.grads)
    return model


def test_determinism_same_seed_same_bits():
    a, b, c = _train(7), _train(7), _train(8)
    for p, q in zip(a.params, b.params, strict=True):
        assert p.tobytes() == q.tobytes()
    assert not all(np.array_equal(p, q) for p, q in zip(a.params, c.params, strict=True))


def _all_arrays(obj, seen=None):
    """Every ndarray reachable from obj's attributes (lists, tuples, dicts included)."""
    seen = set() if seen is None else seen
    out = []
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, np.ndarray):
            out.append(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif hasattr(o, "__dict__") and not isinstance(o, (type, np.random.Generator)):
            stack.extend(vars(o).values())
    return out


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("output", ["softmax", "sigmoid", "identity"])
def test_float32_end_to_end(name, output):
    rng = np.random.default_rng(0)
    k = 3 if output == "softmax" else 1
    model = MLP(
        [4, 6, 5, k], activation="tanh", output=output, dropout=0.1, dtype=np.float32, rng=rng
    )
    X = rng.standard_normal((8, 4))  # float64 input: cast once at the boundary
    y = rng.integers(0, k, 8) if output == "softmax" else rng.random(8)
    opt = make_optimizer(name, model.params, lr=1e-2, weight_decay=0.01)
    for _ in range(2):
        loss = model.loss_and_grads(X, y, rng=rng)
        opt.step(model.grads)
    assert isinstance(loss, float)
    arrays = _all_arrays(model) + _all_arrays(opt)
    float_arrays = [a for a in arrays if a.dtype.kind == "f"]
    assert len(float_arrays) > 20
    assert {a.dtype for a in float_arrays} == {np.dtype(np.float32)}, [
        (a.shape, a.dtype) for a in float_arrays if a.dtype != np.float32
    ]
    assert model.forward(X).dtype == np.float32
    assert model.forward(X, training=True).dtype == np.float32
    assert isinstance(model.loss(X, y), float)


def test_float32_and_float64_start_from_same_weights():
    a = MLP([3, 4, 2], dtype=np.float32, rng=3)
    b = MLP([3, 4, 2], dtype=np.float64, rng=3)
    for p, q in zip(a.params, b.params, strict=True):
        assert np.array_equal(p, q.astype(np.float32))


def test_params_are_views_of_flat_buffers_and_settable():
    model = MLP([3, 4, 2], rng=0)
    assert all(p.base is model.flat_params for p in model.params)
    assert all(g.base is model.flat_grads for g in model.grads)
    new = [np.full(p.shape, i, float) for i, p in enumerate(model.params)]
    model.set_params(new)
    assert all(np.array_equal(p, q) for p, q in zip(model.params, new, strict=True))
    model.params[0][...] = 7.0
    assert np.all(model.flat_params[:12] == 7.0)
    with pytest.raises(ValueError, match=r"\(3, 4\)"):
        model.set_params([np.zeros((4, 3)), *new[1:]])
    with pytest.raises(ValueError, match="expected 4 arrays"):
        model.set_params(new[:2])


def test_batch_size_changes_and_layers():
    model = MLP([2, 5, 1], activation="relu", dropout=0.2, rng=0)
    assert [type(layer) for layer in model.layers][:3] == [Dense, type(model.layers[1]), Dropout]
    X = np.random.default_rng(0).standard_normal((10, 2))
    ref = [MLP([2, 5, 1], activation="relu", rng=0) for _ in range(2)]
    for n in (10, 3, 10, 1):
        loss = ref[0].loss_and_grads(X[:n], np.ones(n))
        # a fresh model (no cached buffers) gives the same result
        fresh = MLP([2, 5, 1], activation="relu", rng=0)
        fresh.set_params(ref[0].params)
        assert fresh.loss_and_grads(X[:n], np.ones(n)) == loss
        assert all(np.array_equal(a, b) for a, b in zip(fresh.grads, ref[0].grads, strict=True))


@pytest.mark.parametrize(
    "init",
    [
        "normal",
        "xavier_uniform",
        "glorot_uniform",
        "xavier_normal",
        "glorot_normal",
        "he_uniform",
        "kaiming_uniform",
        "he_normal",
        "kaiming_normal",
        "zeros",
    ],
)
def test_initialisers(init):
    model = MLP([400, 300, 2], init=init, rng=0)
    W = model.params[0]
    assert np.all(model.params[1] == 0)
    std = {
        "normal": 0.01,
        "xavier_uniform": np.sqrt(2 / 700),
        "glorot_uniform": np.sqrt(2 / 700),
        "xavier_normal": np.sqrt(2 / 700),
        "glorot_normal": np.sqrt(2 / 700),
        "he_uniform": np.sqrt(2 / 400),
        "kaiming_uniform": np.sqrt(2 / 400),
        "he_normal": np.sqrt(2 / 400),
        "kaiming_normal": np.sqrt(2 / 400),
        "zeros": 0.0,
    }[init]
    assert W.std() == pytest.approx(std, rel=0.02, abs=1e-12)
    if "uniform" in init:
        assert np.abs(W).max() <= np.sqrt(3) * std
    normal = MLP([2, 2], init="normal", init_kwargs={"std": 1.0}, rng=0).params[0]
    assert np.array_equal(normal, np.random.default_rng(0).normal(0, 1.0, (2, 2)))

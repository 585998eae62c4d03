"""Optimisers: hand-derived values, torch.optim parity, weight-decay semantics, in-place."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnexp.nn import MLP, OPTIMIZERS, make_optimizer, optimizers
from nnexp.nn.optimizers import flat_base


def _run(name, p0, grads, lr=0.1, **kw):
    p = np.array(p0, dtype=np.float64)
    opt = make_optimizer(name, [p], lr=lr, **kw)
    for g in grads:
        opt.step([np.array(g, dtype=np.float64)])
    return p


# -- hand-derived values -------------------------------------------------------------------
def test_sgd_hand_values():
    assert _run("sgd", [1.0], [[0.5]])[0] == pytest.approx(0.95, abs=1e-15)
    # coupled L2: g' = 0.5 + 0.1 * 1.0
    assert _run("sgd", [1.0], [[0.5]], weight_decay=0.1)[0] == pytest.approx(0.94, abs=1e-15)


def test_momentum_hand_values():
    # step 1: buf = g = 0.5, p = 1 - 0.1*0.5 = 0.95; step 2: buf = 0.9*0.5 + 0.5 = 0.95,
    # p = 0.95 - 0.1*0.95 = 0.855
    assert _run("momentum", [1.0], [[0.5], [0.5]])[0] == pytest.approx(0.855, abs=1e-15)
    # dampening 0.5: buf1 = g (torch clones g on step 1), buf2 = 0.9*0.5 + 0.5*0.5 = 0.7
    p = _run("momentum", [1.0], [[0.5], [0.5]], dampening=0.5)
    assert p[0] == pytest.approx(1.0 - 0.05 - 0.07, abs=1e-15)


def test_nesterov_hand_values():
    # step 1: buf = 0.5, g'' = 0.5 + 0.9*0.5 = 0.95 -> p = 0.905
    # step 2: buf = 0.95, g'' = 0.5 + 0.9*0.95 = 1.355 -> p = 0.905 - 0.1355 = 0.7695
    assert _run("nesterov", [1.0], [[0.5], [0.5]])[0] == pytest.approx(0.7695, abs=1e-15)


def test_adam_hand_values():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    p = _run("adam", [1.0], [[0.5], [-1.0]], lr=lr)
    # step 1: m = 0.05, v = 0.00025, m_hat = 0.5, v_hat = 0.25
    p1 = 1.0 - lr * 0.5 / (math.sqrt(0.25) + eps)
    # step 2: m = 0.9*0.05 + 0.1*(-1) = -0.055, v = 0.999*0.00025 + 0.001*1 = 0.00124975
    m_hat = -0.055 / (1 - b1**2)
    v_hat = 0.00124975 / (1 - b2**2)
    p2 = p1 - lr * m_hat / (math.sqrt(v_hat) + eps)
    assert p[0] == pytest.approx(p2, rel=1e-14)


def test_rmsprop_hand_values():
    # v = 0.01 * 0.25 = 0.0025, p = 1 - 0.01 * 0.5 / (0.05 + 1e-8)
    p = _run("rmsprop", [1.0], [[0.5]], lr=0.01)
    assert p[0] == pytest.approx(1.0 - 0.01 * 0.5 / (0.05 + 1e-8), rel=1e-15)


def test_adam_vs_adamw_weight_decay_semantics():
    # zero gradient, p = 1, lr = 0.1, wd = 0.01
    # Adam (coupled L2): g' = 0.01 -> normalised step of ~lr: p ~= 0.9
    # AdamW (decoupled): p *= 1 - lr*wd = 0.999, Adam part sees g = 0 -> no move
    p_adam = _run("adam", [1.0], [[0.0]], weight_decay=0.01)
    p_adamw = _run("adamw", [1.0], [[0.0]], weight_decay=0.01)
    assert p_adam[0] == pytest.approx(1.0 - 0.1 * 0.01 / (0.01 + 1e-8), rel=1e-12)
    assert p_adamw[0] == pytest.approx(0.999, rel=1e-15)
    # AdamW's default weight decay is torch's 0.01, Adam's is 0
    assert make_optimizer("adamw", [np.ones(1)], lr=0.1).weight_decay == 0.01
    assert make_optimizer("adam", [np.ones(1)], lr=0.1).weight_decay == 0.0


def test_defaults_match_torch():
    p = [np.ones(2)]
    adam = make_optimizer("adam", p, lr=1e-3)
    assert adam.betas == (0.9, 0.999) and adam.eps == 1e-8 and not adam.amsgrad
    rms = make_optimizer("rmsprop", p, lr=1e-2)
    assert rms.alpha == 0.99 and rms.eps == 1e-8 and rms.momentum == 0.0 and not rms.centered
    assert make_optimizer("momentum", p, lr=0.1).momentum == 0.9
    nes = make_optimizer("nesterov", p, lr=0.1)
    assert nes.momentum == 0.9 and nes.nesterov
    sgd = make_optimizer("sgd", p, lr=0.1)
    assert sgd.momentum == 0.0 and sgd.dampening == 0.0 and not sgd.nesterov


# -- in place, flat fast path, lr ------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_step_updates_model_arrays_in_place(name):
    model = MLP([3, 4, 2], activation="tanh", output="identity", rng=0)
    ids = [id(p) for p in model.params]
    before = model.get_params()
    opt = make_optimizer(name, model.params, lr=0.01)
    X = np.random.default_rng(1).standard_normal((5, 3))
    model.loss_and_grads(X, np.zeros((5, 2)))
    opt.step(model.grads)
    assert [id(p) for p in model.params] == ids
    assert flat_base(model.params) is model.flat_params
    assert all(not np.array_equal(a, b) for a, b in zip(before, model.params, strict=True))


@pytest.mark.parametrize(
    "name,kw",
    [
        ("sgd", {}),
        ("momentum", {"dampening": 0.3}),
        ("nesterov", {"weight_decay": 0.1}),
        ("adam", {"weight_decay": 0.1, "amsgrad": True}),
        ("adamw", {}),
        ("rmsprop", {"momentum": 0.5, "centered": True}),
    ],
)
def test_flat_path_equals_per_array_path(name, kw):
    """The fused flat-buffer update and the per-array update give identical bits."""
    rng = np.random.default_rng(0)
    model = MLP([3, 5, 2], rng=0)
    separate = [p.copy() for p in model.params]
    opt_flat = make_optimizer(name, model.params, lr=0.05, **kw)
    opt_sep = make_optimizer(name, separate, lr=0.05, **kw)
    assert opt_flat._flat and not opt_sep._flat
    for _ in range(5):
        model.flat_grads[...] = rng.standard_normal(model.flat_grads.shape)
        opt_flat.step(model.grads)
        opt_sep.step([g.copy() for g in model.grads])
    for a, b in zip(model.params, separate, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-15, atol=0)
    # gradients passed as arbitrary (non-flat) arrays also work on a flat model
    opt_flat.step([g.copy() for g in model.grads])


def test_chunked_large_model_matches_per_array(monkeypatch):
    monkeypatch.setattr(optimizers, "_CHUNK", 32768)  # several chunks
    model = MLP([400, 200, 10], rng=0)
    assert model.n_params > 2 * 32768
    separate = [p.copy() for p in model.params]
    o1 = make_optimizer("adam", model.params, lr=0.01, weight_decay=0.01)
    o2 = make_optimizer("adam", separate, lr=0.01, weight_decay=0.01)
    assert len(o1._groups) == 3
    rng = np.random.default_rng(0)
    for _ in range(3):
        model.flat_grads[...] = rng.standard_normal(model.n_params)
        o1.step(model.grads)
        o2.step([g.copy() for g in model.grads])
    for a, b in zip(model.params, separate, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-15)


def test_lr_is_settable_and_used():
    p = np.array([1.0])
    opt = make_optimizer("sgd", [p], lr=0.1)
    opt.lr = 0.5
    opt.step([np.array([1.0])])
    assert p[0] == 0.5
    with pytest.raises(ValueError, match=r"-1\.0"):
        opt.lr = -1.0


def test_step_does_not_modify_gradients():
    p, g = np.array([1.0, 2.0]), np.array([0.5, -0.5])
    opt = make_optimizer("adam", [p], lr=0.1, weight_decay=0.1)
    opt.step([g])
    assert np.array_equal(g, [0.5, -0.5])


def test_wrong_grads_rejected():
    opt = make_optimizer("sgd", [np.ones(3)], lr=0.1)
    with pytest.raises(ValueError, match="expected 1 gradient"):
        opt.step([np.ones(3), np.ones(3)])
    with pytest.raises(ValueError, match=r"\(4,\)"):
        opt.step([np.ones(4)])


# -- torch parity ----------------------------------------------------------------------------
TORCH_CASES = [
    ("sgd", "SGD", {}, {}),
    ("sgd", "SGD", {"weight_decay": 0.05}, {"weight_decay": 0.05}),
    ("momentum", "SGD", {}, {"momentum": 0.9}),
    (
        "momentum",
        "SGD",
        {"momentum": 0.8, "dampening": 0.2, "weight_decay": 0.01},
        {"momentum": 0.8, "dampening": 0.2, "weight_decay": 0.01},
    ),
    (
        "nesterov",
        "SGD",
        {"weight_decay": 0.01},
        {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    ),
    ("adam", "Adam", {}, {}),
    (
        "adam",
        "Adam",
        {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
        {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1},
    ),
    ("adam", "Adam", {"amsgrad": True}, {"amsgrad": True}),
    ("adamw", "AdamW", {}, {}),
    (
        "adamw",
        "AdamW",
        {"weight_decay": 0.1, "amsgrad": True},
        {"weight_decay": 0.1, "amsgrad": True},
    ),
    ("rmsprop", "RMSprop", {}, {}),
    (
        "rmsprop",
        "RMSprop",
        {"alpha": 0.9, "weight_decay": 0.01, "momentum": 0.5, "centered": True},
        {"alpha": 0.9, "weight_decay": 0.01, "momentum": 0.5, "centered": True},
    ),
]


@pytest.mark.parametrize("name,tname,kw,tkw", TORCH_CASES)
@pytest.mark.parametrize("flat", [True, False])
def test_matches_torch_optim(name, tname, kw, tkw, flat):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(42)
    shapes = [(3, 4), (4,), (4, 2), (2,)]
    if flat:
        model = MLP([3, 4, 2], rng=0)
        params = model.params
        model.set_params([rng.standard_normal(s) for s in shapes])
    else:
        params = [rng.standard_normal(s) for s in shapes]
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    lr = 0.01 if name.startswith(("adam", "rms")) else 0.1
    opt = make_optimizer(name, params, lr=lr, **kw)
    topt = getattr(torch.optim, tname)(tparams, lr=lr, **tkw)
    for step in range(8):
        grads = [rng.standard_normal(s) for s in shapes]
        if step == 4:  # a schedule changing lr mid-run
            opt.lr = lr / 2
            for group in topt.param_groups:
                group["lr"] = lr / 2
        for tp, g in zip(tparams, grads, strict=True):
            tp.grad = torch.tensor(g)
        topt.step()
        if flat:
            for gv, g in zip(model.grads, grads, strict=True):
                gv[...] = g
            opt.step(model.grads)
        else:
            opt.step(grads)
    for p, tp in zip(params, tparams, strict=True):
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
    if name.startswith("adam"):
        for m, tp in zip(opt.exp_avg(), tparams, strict=True):
            np.testing.assert_allclose(m, topt.state[tp]["exp_avg"].numpy(), rtol=1e-12, atol=1e-15)
        for v, tp in zip(opt.exp_avg_sq(), tparams, strict=True):
            np.testing.assert_allclose(
                v, topt.state[tp]["exp_avg_sq"].numpy(), rtol=1e-12, atol=1e-15
            )

"""Exact BCE at extreme logits (vs 50-digit arithmetic), label smoothing and class weights
(vs torch), the L1 penalty and gradient clipping (vs torch's training step)."""

from __future__ import annotations

import numpy as np
import pytest

from nnexp.nn import (
    MLP,
    GradientStep,
    clip_grad_norm_,
    clip_grad_value_,
    make_head,
    make_optimizer,
)


def _exact_bce(z: float, y: float) -> tuple[float, float]:
    """``softplus(z) - z y`` and ``sigmoid(z) - y`` with 50 significant digits."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    Z = mpmath.mpf(z)
    loss = (
        mpmath.log1p(mpmath.exp(Z)) - Z * y if z < 0 else Z * (1 - y) + mpmath.log1p(mpmath.exp(-Z))
    )
    return float(loss), float(1 / (1 + mpmath.exp(-Z)) - y)


@pytest.mark.parametrize(
    "z,y",
    [
        (30.0, 1.0),
        (40.0, 1.0),
        (-40.0, 0.0),
        (700.0, 1.0),
        (-745.0, 0.0),
        (36.7, 1.0),
        (800.0, 0.0),
        (-800.0, 1.0),
        (1e-9, 1.0),
        (-3.0, 0.25),
        (17.0, 0.0),
    ],
)
def test_bce_loss_is_exact_at_extreme_logits(z, y):
    """The issue's cases: logit 30 gave 9.237e-14 for the exact 9.358e-14, logit 40 gave 0.0
    for 4.2e-18; now within two ulps of the 50-digit value everywhere."""
    head = make_head("sigmoid", "bce", 1)
    loss, grad = head.loss_and_grad(np.array([[z]]), np.array([[y]]))
    exact_loss, exact_grad = _exact_bce(z, y)
    assert loss == pytest.approx(exact_loss, rel=4e-16, abs=0)
    # the gradient is torch's sigmoid(z) - y: exact to one ulp of 1
    assert abs(grad[0, 0] - exact_grad) <= 2.3e-16


def test_bce_loss_matches_torch_on_a_batch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 2)) * 20
    y = rng.integers(0, 2, (50, 2)).astype(float)
    loss, g = make_head("sigmoid", "bce", 2).loss_and_grad(z.copy(), y)
    zt = torch.tensor(z, requires_grad=True)
    t = torch.nn.functional.binary_cross_entropy_with_logits(zt, torch.tensor(y))
    t.backward()
    assert loss == pytest.approx(t.item(), rel=1e-14)
    # one ulp of 1 (sigmoid(z) - y at saturated z), divided by the 100 elements of the mean
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-13, atol=2.3e-18)


@pytest.mark.parametrize("smoothing", [0.0, 0.15, 1.0])
@pytest.mark.parametrize("weight", [None, [1.0, 3.0, 0.5, 2.0]])
def test_softmax_cross_entropy_options_match_torch(smoothing, weight):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    z = rng.normal(size=(9, 4)) * 3
    y = rng.integers(0, 4, 9)
    head = make_head("softmax", "cross_entropy", 4, label_smoothing=smoothing, class_weight=weight)
    loss, g = head.loss_and_grad(z.copy(), y)
    zt = torch.tensor(z, requires_grad=True)
    wt = None if weight is None else torch.tensor(weight, dtype=torch.float64)
    t = torch.nn.functional.cross_entropy(zt, torch.tensor(y), weight=wt, label_smoothing=smoothing)
    t.backward()
    assert loss == pytest.approx(t.item(), rel=1e-13)
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=0, atol=1e-15)
    assert head.loss(z.copy(), y) == loss


def test_bce_class_weights_match_torch_per_sample_weights():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    z = rng.normal(size=(11, 1)) * 4
    y = rng.integers(0, 2, (11, 1)).astype(float)
    loss, g = make_head("sigmoid", "bce", 1, class_weight=[0.25, 3.0]).loss_and_grad(z.copy(), y)
    zt = torch.tensor(z, requires_grad=True)
    w = torch.tensor(np.where(y == 1, 3.0, 0.25))
    t = torch.nn.functional.binary_cross_entropy_with_logits(zt, torch.tensor(y), weight=w)
    t.backward()
    assert loss == pytest.approx(t.item(), rel=1e-14)
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-14, atol=1e-16)


def test_loss_options_refused_where_torch_has_no_such_loss():
    with pytest.raises(ValueError, match="label_smoothing applies to softmax"):
        make_head("sigmoid", "bce", 1, label_smoothing=0.1)
    with pytest.raises(ValueError, match="class weights apply to softmax"):
        make_head("identity", "mse", 1, class_weight=[1.0])
    with pytest.raises(ValueError, match="class weights must be 3 positive numbers"):
        make_head("softmax", "cross_entropy", 3, class_weight=[1.0, 2.0])


# -- clipping and L1 --------------------------------------------------------------------------
def test_clip_functions_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=(4, 3)), rng.normal(size=3)]
    tensors = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    for t, a in zip(tensors, arrays, strict=True):
        t.grad = torch.tensor(a.copy())
    norm = clip_grad_norm_(arrays, 0.7)
    tnorm = torch.nn.utils.clip_grad_norm_(tensors, 0.7)
    assert norm == pytest.approx(tnorm.item(), rel=1e-14)
    for a, t in zip(arrays, tensors, strict=True):
        np.testing.assert_allclose(a, t.grad.numpy(), rtol=1e-14)
    unclipped = [a.copy() for a in arrays]
    assert clip_grad_norm_(arrays, 100.0) == pytest.approx(0.7, rel=1e-6)
    assert all(np.array_equal(a, b) for a, b in zip(arrays, unclipped, strict=True))
    clip_grad_value_(arrays, 0.05)
    torch.nn.utils.clip_grad_value_(tensors, 0.05)
    for a, t in zip(arrays, tensors, strict=True):
        np.testing.assert_array_equal(a, t.grad.numpy())


@pytest.mark.parametrize(
    "l1,clip_norm,clip_value", [(0.01, None, None), (0.0, 0.5, None), (0.003, 0.2, 0.01)]
)
def test_l1_and_clipping_train_like_torch(l1, clip_norm, clip_value):
    """Five Adam steps with loss + l1 * sum|p|, clip_grad_norm_, clip_grad_value_: the same
    weights as torch to 1e-12, and the pre-clip norms torch returns."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(16, 3)), rng.integers(0, 3, 16)
    model = MLP([3, 5, 3], activation="tanh", output="softmax", rng=0)
    step = GradientStep(
        make_optimizer("adam", model.params, lr=0.05),
        l1=l1,
        clip_grad_norm=clip_norm,
        clip_grad_value=clip_value,
    )
    W1, b1, W2, b2 = (torch.tensor(p.copy(), requires_grad=True) for p in model.params)
    topt = torch.optim.Adam([W1, b1, W2, b2], lr=0.05)
    norms = []
    for _ in range(5):
        model.loss_and_grads(X, y)
        step.step(model.grads)
        topt.zero_grad()
        z = torch.tanh(torch.tensor(X) @ W1 + b1) @ W2 + b2
        loss = torch.nn.functional.cross_entropy(z, torch.tensor(y))
        loss = loss + l1 * sum(p.abs().sum() for p in (W1, b1, W2, b2))
        loss.backward()
        if clip_norm is not None:
            norms.append(torch.nn.utils.clip_grad_norm_([W1, b1, W2, b2], clip_norm).item())
        if clip_value is not None:
            torch.nn.utils.clip_grad_value_([W1, b1, W2, b2], clip_value)
        topt.step()
    for ours, theirs in zip(model.params, (W1, b1, W2, b2), strict=True):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-12)
    metrics = step.epoch_metrics()
    if clip_norm is None and clip_value is None:
        assert metrics == {}
    elif clip_norm is not None:
        assert metrics["grad_norm"] == pytest.approx(np.mean(norms), rel=1e-12)
    assert step.epoch_metrics() == {}  # reset after each epoch


def test_per_step_schedule_sets_lr_before_every_step():
    model = MLP([2, 3, 1], activation="tanh", output="sigmoid", rng=0)
    rates = []

    class Spy:
        params = model.params
        lr = 1.0

        def step(self, grads):
            rates.append(self.lr)

    step = GradientStep(Spy(), step_schedule=lambda t: 0.1 * (t + 1))
    for _ in range(3):
        step.step(model.grads)
    assert rates == pytest.approx([0.1, 0.2, 0.3])
    assert step.lr == pytest.approx(0.3)

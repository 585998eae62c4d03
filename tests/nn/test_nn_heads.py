"""Fused heads and losses: values vs extended-precision references, extreme logits, targets."""

from __future__ import annotations

import numpy as np
import pytest

from nnexp.nn import LOSSES, MLP, make_head

LD = np.longdouble  # 80-bit extended on x86-64 ("float128")


def _ce_ref(z, y):
    z = z.astype(LD)
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(y)), y]))


def _bce_ref(z, y):
    z, y = z.astype(LD), y.astype(LD)
    # log(1 + e^{-z}) and log(1 + e^{z}) are representable in long double for |z| <= 1e4
    return float(np.mean(y * np.log1p(np.exp(-z)) + (1 - y) * np.log1p(np.exp(z))))


EXTREME = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 3.0], [0.0, 0.0, 0.0], [700.0, -700.0, 1e3]])


def test_softmax_cross_entropy_extreme_logits():
    y = np.array([1, 1, 2, 0])
    head = make_head("softmax", "cross_entropy", 3)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, g = head.loss_and_grad(EXTREME.copy(), y)
    assert np.isfinite(loss) and np.all(np.isfinite(g))
    assert loss == pytest.approx(_ce_ref(EXTREME, y), rel=1e-14)
    # hand values: loss = (2e4 + 0 + log 3 + 300) / 4; grad = (softmax - onehot) / n
    assert loss == pytest.approx((2e4 + np.log(3) + 300.0) / 4, rel=1e-14)
    expected = np.array([[1, -1, 0], [0, 0, 0], [1 / 3, 1 / 3, -2 / 3], [-1, 0, 1]]) / 4
    np.testing.assert_allclose(g, expected, atol=1e-15)


def test_sigmoid_bce_extreme_logits():
    z = np.array([[1e4], [-1e4], [1e4], [-1e4], [0.0], [40.0], [-745.0]])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    head = make_head("sigmoid", "bce", 1)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss, g = head.loss_and_grad(z.copy(), head.targets(y, 7, np.float64))
    assert np.isfinite(loss) and np.all(np.isfinite(g))
    assert loss == pytest.approx(_bce_ref(z[:, 0], y), rel=1e-14)
    assert loss == pytest.approx((1e4 + 1e4 + np.log(2) + 40.0 + 745.0) / 7, rel=1e-14)
    p = np.array([1.0, 0.0, 1.0, 0.0, 0.5, 1.0, 0.0])  # sigmoid(z) at these logits
    np.testing.assert_allclose(g[:, 0], (p - y) / 7, atol=1e-16)


def test_sigmoid_bce_is_bit_for_bit_its_documented_formula():
    """The head computes l = max(z, 0) - z y + log1p(exp(-|z|)) and (sigmoid(z) - y) / N
    exactly as written (one rounding per operation), signed zeros and NaN included: a change
    of the operations (fused, reordered) would change trained weights of existing runs."""
    rng = np.random.default_rng(3)
    z = rng.standard_normal((257, 1)) * 20
    z[:4, 0] = [-0.0, 0.0, 745.0, -745.0]
    y = (rng.random((257, 1)) > 0.5).astype(np.float64)
    y[::7] = 0.25  # soft targets too
    l1p = np.log1p(np.exp(-np.abs(z)))
    m = np.maximum(z, 0.0) - z * y
    want_loss = (float(m.sum()) + float(l1p.sum())) / z.size
    want_grad = (np.exp(np.minimum(z, 0.0) - l1p) - y) * (1.0 / z.size)
    zz = z.copy()
    loss, g = make_head("sigmoid", "bce", 1).loss_and_grad(zz, y, out=zz)
    assert g is zz
    assert loss == want_loss
    assert g.tobytes() == want_grad.tobytes()
    with np.errstate(invalid="ignore"):
        _, g_nan = make_head("sigmoid", "bce", 1).loss_and_grad(np.array([[np.nan]]), y[:1])
    assert np.isnan(g_nan[0, 0])


def test_mse_heads_match_tutorial_formula():
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    loss, g = make_head("identity", "mse", 2).loss_and_grad(z.copy(), y)
    assert loss == pytest.approx(((y - z) ** 2).mean(), rel=1e-15)
    np.testing.assert_allclose(g, -2 * (y - z) / 10, rtol=1e-15)
    # one sample, one output: exactly the tutorial's d_L_d_ypred = -2 * (y_true - y_pred)
    _, g1 = make_head("identity", "mse", 1).loss_and_grad(np.array([[0.3]]), np.array([[1.0]]))
    assert g1[0, 0] == -2 * (1.0 - 0.3)
    # sigmoid output + mse: chain through sigmoid'
    head = make_head("sigmoid", "mse", 1)
    zz = np.array([[0.7]])
    a = 1 / (1 + np.exp(-0.7))
    loss, gs = head.loss_and_grad(zz, np.array([[1.0]]))
    assert loss == (1.0 - a) ** 2
    assert gs[0, 0] == -2 * (1.0 - a) * (a * (1 - a))


def test_softmax_mse_uses_one_hot_targets():
    head = make_head("softmax", "mse", 3)
    y = head.targets(np.array([2, 0]), 2, np.float64)
    np.testing.assert_array_equal(y, [[0, 0, 1], [1, 0, 0]])


def test_float32_heads_stay_float32():
    for output, loss, y in [
        ("softmax", "cross_entropy", np.array([0, 2])),
        ("sigmoid", "bce", np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])),
        ("identity", "mse", np.ones((2, 3))),
        ("sigmoid", "mse", np.ones((2, 3))),
        ("softmax", "mse", np.array([1, 1])),
    ]:
        head = make_head(output, loss, 3)
        z = np.array([[1e4, -3, 0.5], [2, -1e4, 0]], dtype=np.float32)
        yy = head.targets(y, 2, np.dtype(np.float32))
        value, g = head.loss_and_grad(z, yy)
        assert g.dtype == np.float32 and head.output(z).dtype == np.float32
        assert isinstance(value, float) and np.isfinite(value)


def test_default_losses_and_invalid_pairs():
    assert MLP([2, 3], output="softmax").loss_name == "cross_entropy"
    assert MLP([2, 1], output="sigmoid").loss_name == "bce"
    assert MLP([2, 1], output="identity").loss_name == "mse"
    with pytest.raises(ValueError, match=r"'bce'.*'identity'") as e:
        make_head("identity", "bce", 1)
    assert "softmax+cross_entropy" in str(e.value)
    with pytest.raises(ValueError, match="'hinge'"):
        make_head("identity", "hinge", 1)
    with pytest.raises(ValueError, match="'tanh'"):
        make_head("tanh", None, 1)
    with pytest.raises(ValueError, match="got 1"):
        make_head("softmax", None, 1)


def test_target_validation():
    head = make_head("softmax", "cross_entropy", 3)
    with pytest.raises(ValueError, match="label 3 out of range"):
        head.targets(np.array([0, 3]), 2, np.float64)
    with pytest.raises(ValueError, match="label -1 out of range"):
        head.targets(np.array([0, -1]), 2, np.float64)
    with pytest.raises(ValueError, match="non-integer"):
        head.targets(np.array([0.5, 1.0]), 2, np.float64)
    assert head.targets(np.array([0.0, 2.0]), 2, np.float64).dtype.kind == "i"
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        head.targets(np.zeros((2, 3)), 2, np.float64)
    bce = make_head("sigmoid", "bce", 1)
    assert bce.targets(np.array([0, 1]), 2, np.float64).shape == (2, 1)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        bce.targets(np.array([0, 1, 1]), 2, np.float64)


def test_plain_losses_agree_with_fused_heads():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 3))
    labels = rng.integers(0, 3, 6)
    probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    ce = LOSSES["cross_entropy"]()
    fused = make_head("softmax", "cross_entropy", 3).loss(z, labels)
    assert ce.forward(probs, labels) == pytest.approx(fused, rel=1e-13)
    yb = rng.integers(0, 2, (6, 3)).astype(float)
    bce = LOSSES["bce"]()
    fused_b = make_head("sigmoid", "bce", 3).loss(z, yb)
    assert bce.forward(1 / (1 + np.exp(-z)), yb) == pytest.approx(fused_b, rel=1e-13)
    # backward of the plain losses vs finite differences on the prediction
    from nnexp.nn.gradcheck import numerical_gradient, relative_error

    for name, pred, y in [
        ("mse", z.copy(), yb),
        ("bce", 1 / (1 + np.exp(-z)), yb),
        ("cross_entropy", probs.copy(), labels),
    ]:
        loss = LOSSES[name]()
        loss.forward(pred, y)
        g = loss.backward()
        num = numerical_gradient(lambda loss=loss, pred=pred, y=y: loss.forward(pred, y), pred)
        assert relative_error(g, num) < 1e-7, name

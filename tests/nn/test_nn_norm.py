"""BatchNorm / LayerNorm: equal to torch (forward, backward, running statistics, eval) in
float64, in the gradient check, and saved/loaded with the model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nnexp.nn import MLP, BatchNorm, LayerNorm, gradient_check, load_model, save_model


def _data(n=10, d=3, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * 2.0 + 1.5  # off-centre and wider than 1: norms matter
    return X, rng.integers(0, k, n)


def _torch_net(torch, model, norm, momentum=0.1, eps=1e-5):
    """torch.nn.Sequential(Linear, Norm, Tanh, ..., Linear) with the model's weights."""
    layers, widths = [], model.sizes
    params = dict(zip(model.param_names, model.params, strict=True))
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        lin = torch.nn.Linear(a, b).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(params[f"W{i + 1}"].T))
            lin.bias.copy_(torch.tensor(params[f"b{i + 1}"]))
        layers.append(lin)
        if i < len(widths) - 2:
            cls = torch.nn.BatchNorm1d if norm == "batch" else torch.nn.LayerNorm
            kw = {"momentum": momentum} if norm == "batch" else {}
            nl = cls(b, eps=eps, **kw).double()
            with torch.no_grad():
                nl.weight.copy_(torch.tensor(params[f"gamma{i + 1}"]))
                nl.bias.copy_(torch.tensor(params[f"beta{i + 1}"]))
            layers += [nl, torch.nn.Tanh()]
    return torch.nn.Sequential(*layers)


def _torch_grads(net):
    out = []
    for m in net:
        if isinstance(m, type(net[0])):  # Linear
            out += [m.weight.grad.numpy().T, m.bias.grad.numpy()]
        elif hasattr(m, "weight"):
            out += [m.weight.grad.numpy(), m.bias.grad.numpy()]
    return out


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_training_steps_equal_torch_to_1e10(norm):
    """Three SGD steps: loss, every gradient, the parameters, BatchNorm's running statistics
    and the eval-mode outputs agree with torch to 1e-10 in float64."""
    torch = pytest.importorskip("torch")
    X, y = _data()
    model = MLP(
        [3, 6, 5, 3],
        activation="tanh",
        output="softmax",
        norm=norm,
        rng=1,
        norm_momentum=0.3 if norm == "batch" else None,
        norm_eps=1e-3,
    )
    # non-trivial gamma/beta so that their gradients and scaling are exercised
    for name, p in zip(model.param_names, model.params, strict=True):
        if name[:5] in ("gamma", "beta1", "beta2"):
            p[...] = np.linspace(0.5, 1.5, p.size) if name.startswith("gamma") else 0.3
    net = _torch_net(torch, model, norm, momentum=0.3, eps=1e-3)
    topt = torch.optim.SGD(net.parameters(), lr=0.1)
    from nnexp.nn import make_optimizer

    opt = make_optimizer("sgd", model.params, lr=0.1)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(3):
        loss = model.loss_and_grads(X, y)
        net.train()
        topt.zero_grad()
        tloss = torch.nn.functional.cross_entropy(net(Xt), yt)
        tloss.backward()
        assert abs(loss - tloss.item()) < 1e-10
        for ours, theirs in zip(model.grads, _torch_grads(net), strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
        opt.step(model.grads)
        topt.step()
    if norm == "batch":
        stats = [
            t
            for m in net
            if isinstance(m, torch.nn.BatchNorm1d)
            for t in (m.running_mean, m.running_var)
        ]
        assert model.buffer_names == [
            "running_mean1",
            "running_var1",
            "running_mean2",
            "running_var2",
        ]
        for ours, theirs in zip(model.buffers, stats, strict=True):
            np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=1e-10)
        assert not np.allclose(model.buffers[0], 0.0)  # the statistics did move
    else:
        assert model.buffers == []
    net.eval()
    with torch.no_grad():
        np.testing.assert_allclose(model.logits(X), net(Xt).numpy(), rtol=0, atol=1e-10)


def test_batchnorm_eval_uses_running_statistics_not_the_batch():
    model = MLP([3, 4, 2], activation="relu", output="softmax", norm="batch", rng=0)
    X, y = _data(k=2)
    before = model.logits(X)  # running mean 0, var 1: eval is Dense -> (x / sqrt(1 + eps))
    h = X @ model.params[0] + model.params[1]
    expected = np.maximum(h / np.sqrt(1 + 1e-5), 0) @ model.params[4] + model.params[5]
    np.testing.assert_allclose(before, expected, rtol=1e-13)
    model.loss_and_grads(X, y)  # a training pass moves the running statistics
    np.testing.assert_allclose(model.buffers[0], 0.1 * h.mean(0), rtol=1e-12)
    np.testing.assert_allclose(model.buffers[1], 0.9 + 0.1 * h.var(0, ddof=1), rtol=1e-12)
    assert not np.allclose(model.logits(X), before)
    # one row in eval is fine (running statistics); in training it is refused, as torch does
    assert model.logits(X[:1]).shape == (1, 2)
    with pytest.raises(ValueError, match="more than 1 sample per batch"):
        model.loss_and_grads(X[:1], y[:1])


@pytest.mark.parametrize("norm", ["batch", "layer"])
@pytest.mark.parametrize("output,loss", [("softmax", "cross_entropy"), ("sigmoid", "mse")])
def test_gradient_check_passes_with_norm_and_leaves_statistics(norm, output, loss):
    X, y = _data(n=6, k=2)
    if output == "sigmoid":
        y = y.astype(float)
    model = MLP(
        [3, 5, 4, 2 if output == "softmax" else 1],
        activation="tanh",
        output=output,
        loss=loss,
        norm=norm,
        rng=3,
    )
    buffers = [b.copy() for b in model.buffers]
    result = gradient_check(model, X, y)
    assert result.passed, result
    assert set(result) == set(model.param_names)
    for b, saved in zip(model.buffers, buffers, strict=True):
        assert np.array_equal(b, saved)


def test_gradient_check_fails_on_a_broken_batchnorm_backward(monkeypatch):
    X, y = _data(n=6, k=2)
    model = MLP([3, 5, 2], activation="tanh", output="softmax", norm="batch", rng=3)
    real = BatchNorm.backward
    monkeypatch.setattr(BatchNorm, "backward", lambda self, g: real(self, g) * 1.01)
    result = gradient_check(model, X, y)
    assert not result.passed
    assert result["W1"] > 1e-3  # the error shows below the broken layer only
    assert result["W2"] < 1e-6


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_saved_and_loaded_with_running_statistics(tmp_path, norm):
    X, y = _data()
    model = MLP(
        [3, 6, 3],
        activation="relu",
        output="softmax",
        norm=norm,
        rng=2,
        norm_eps=1e-4,
        label_smoothing=0.1,
        class_weight=[1.0, 2.0, 0.5],
    )
    for _ in range(3):
        model.loss_and_grads(X, y)
        model.params[2][...] += 0.1  # gamma moves, as training would
    loaded = load_model(save_model(model, tmp_path / "m.npz"))
    assert loaded.config() == model.config()
    assert loaded.param_names == model.param_names and loaded.buffer_names == model.buffer_names
    for a, b in zip(loaded.params + loaded.buffers, model.params + model.buffers, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(loaded.logits(X), model.logits(X))
    assert loaded.loss(X, y) == model.loss(X, y)


def test_model_without_norm_loads_from_a_file_without_norm_keys(tmp_path):
    import json

    model = MLP([2, 3, 1], activation="tanh", output="sigmoid", rng=0)
    path = save_model(model, tmp_path / "old.npz")
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__nnexp_meta__"]))
    for key in ("norm", "norm_eps", "norm_momentum", "label_smoothing", "class_weight"):
        del meta["config"][key]
    del meta["buffer_names"]
    arrays["__nnexp_meta__"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "v1.npz", **arrays)
    loaded = load_model(tmp_path / "v1.npz")
    assert loaded.norm == "none"
    assert np.array_equal(loaded.logits(np.ones((2, 2))), model.logits(np.ones((2, 2))))


@pytest.mark.parametrize("cls", [BatchNorm, LayerNorm])
def test_float32_stays_float32(cls):
    layer = cls(4, dtype=np.float32)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    y = layer.forward(x, training=True)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == layer.dgamma.dtype == np.float32
    assert layer.forward(x).dtype == np.float32


def test_standalone_layers_do_not_modify_their_inputs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4))
    g = rng.normal(size=(5, 4))
    for layer in (BatchNorm(4), LayerNorm(4)):
        x0, g0 = x.copy(), g.copy()
        layer.forward(x, training=True)
        layer.backward(g)
        assert np.array_equal(x, x0) and np.array_equal(g, g0)


def test_norm_options_are_refused_where_they_do_nothing():
    with pytest.raises(ValueError, match="norm_momentum applies to norm 'batch' only"):
        MLP([2, 3, 1], norm="layer", norm_momentum=0.2)
    with pytest.raises(ValueError, match="norm_eps applies"):
        MLP([2, 3, 1], norm_eps=1e-3)
    with pytest.raises(ValueError, match="unknown norm 'group'; valid: none, batch, layer"):
        MLP([2, 3, 1], norm="group")


def test_fit_restores_running_statistics_with_the_weights_after_divergence():
    """A diverged epoch puts back the weights *and* BatchNorm's running statistics of the last
    finite epoch (NaN statistics would otherwise poison every later prediction)."""
    from types import SimpleNamespace

    from nnexp.nn import make_optimizer
    from nnexp.train import fit

    X, y = _data(n=40, k=2, seed=5)
    model = MLP([3, 6, 2], activation="tanh", output="softmax", norm="batch", rng=0)
    inner = make_optimizer("sgd", model.params, lr=0.05)
    snapshots = []

    class PoisonInEpoch2:
        params, lr, steps = inner.params, 0.05, 0

        def step(self, grads):
            self.steps += 1
            inner.step(grads)
            if self.steps == 5:  # first step of epoch 2 (4 batches of 10 per epoch)
                model.flat_params[...] = np.nan

    class Snapshot:
        def on_epoch_end(self, record):
            snapshots.append([p.copy() for p in model.params + model.buffers])

    splits = SimpleNamespace(
        train=SimpleNamespace(X=X, y=y), val=None, test=None, task="classification"
    )
    history = fit(
        model,
        PoisonInEpoch2(),
        splits,
        epochs=3,
        batch_size=10,
        shuffle=False,
        callbacks=[Snapshot()],
    )
    assert history.diverged and len(history.epochs) == 1
    for now, then in zip(model.params + model.buffers, snapshots[0], strict=True):
        assert np.array_equal(now, then)
    assert np.all(np.isfinite(model.buffers[0]))

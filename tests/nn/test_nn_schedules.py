"""LR schedules vs hand formulas and torch.optim.lr_scheduler."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nnexp.nn import SCHEDULES, make_schedule


def test_constant():
    s = make_schedule("constant", 0.1)
    assert [s(e) for e in (0, 5, 100)] == [0.1, 0.1, 0.1]


def test_step():
    s = make_schedule("step", 0.1, step_size=3, gamma=0.5)
    assert [s(e) for e in range(7)] == pytest.approx([0.1] * 3 + [0.05] * 3 + [0.025])


def test_exponential():
    s = make_schedule("exponential", 0.2, gamma=0.9)
    assert [s(e) for e in range(4)] == pytest.approx([0.2, 0.18, 0.162, 0.1458])


def test_cosine():
    s = make_schedule("cosine", 1.0, total_epochs=10, min_lr=0.1)
    assert s(0) == 1.0
    assert s(5) == pytest.approx(0.55)  # half way: (max + min) / 2
    assert s(10) == pytest.approx(0.1) and s(50) == 0.1  # clamped after the end
    assert s(3) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * 3 / 10)) / 2)


def test_warmup_reaches_the_base_rate_at_its_last_epoch():
    s = make_schedule("cosine", 1.0, total_epochs=14, warmup_epochs=4)
    assert [s(e) for e in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert s(9) == pytest.approx(0.5)  # cosine over the remaining 10 epochs
    assert s(14) == pytest.approx(0.0)
    st = make_schedule("step", 0.1, step_size=2, gamma=0.1, warmup_epochs=1)
    assert [st(e) for e in range(4)] == pytest.approx([0.1, 0.1, 0.1, 0.01])
    assert make_schedule("constant", 0.3, warmup_epochs=2)(0) == pytest.approx(0.15)


@pytest.mark.parametrize(
    "name,kw,tname,tkw",
    [
        ("step", {"step_size": 4, "gamma": 0.3}, "StepLR", {"step_size": 4, "gamma": 0.3}),
        ("exponential", {"gamma": 0.8}, "ExponentialLR", {"gamma": 0.8}),
        (
            "cosine",
            {"total_epochs": 12, "min_lr": 0.01},
            "CosineAnnealingLR",
            {"T_max": 12, "eta_min": 0.01},
        ),
    ],
)
def test_matches_torch(name, kw, tname, tkw):
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    ts = getattr(torch.optim.lr_scheduler, tname)(opt, **tkw)
    ours = make_schedule(name, 0.5, **kw)
    for epoch in range(13):
        assert ours(epoch) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-12, abs=1e-15)
        opt.step()
        ts.step()


@pytest.mark.parametrize(
    "name,kw,bad",
    [
        ("step", {"step_size": 0}, "0"),
        ("step", {"gamma": 0.0}, "0.0"),
        ("exponential", {"gamma": 1.5}, "1.5"),
        ("cosine", {"total_epochs": 0}, "0"),
        ("cosine", {"min_lr": 2.0}, "2.0"),
        ("cosine", {"total_epochs": 5, "warmup_epochs": 5}, "5"),
        ("constant", {"warmup_epochs": -1}, "-1"),
        ("constant", {"gamma": 0.5}, "gamma"),
    ],
)
def test_bad_arguments(name, kw, bad):
    with pytest.raises(ValueError, match=bad):
        make_schedule(name, 0.1, **kw)


def test_bad_name_and_base_lr_and_epoch():
    with pytest.raises(ValueError, match="'linear'") as e:
        make_schedule("linear", 0.1)
    assert all(n in str(e.value) for n in SCHEDULES)
    with pytest.raises(ValueError, match=r"-0\.1"):
        make_schedule("constant", -0.1)
    with pytest.raises(ValueError, match="-1"):
        make_schedule("constant", 0.1)(-1)


def _torch_lrs(torch, make, steps, lr=0.5):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = make(torch.optim.lr_scheduler, opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"pct_start": 0.25, "anneal_strategy": "linear"},
        {"three_phase": True, "div_factor": 10.0, "final_div_factor": 100.0},
    ],
)
def test_one_cycle_matches_torch(kw):
    torch = pytest.importorskip("torch")
    total = 57
    ours = make_schedule("one_cycle", 0.5, total_steps=total, **kw)
    theirs = _torch_lrs(
        torch,
        lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=total, cycle_momentum=False, **kw),
        total,
    )
    assert [ours(t) for t in range(total)] == pytest.approx(theirs, rel=1e-12, abs=1e-15)


def test_cosine_with_warmup_matches_torch_linear_then_cosine():
    """Warm-up W then cosine: torch's SequentialLR(LinearLR(1/W, total_iters=W-1),
    CosineAnnealingLR(T_max=total-W, eta_min), milestones=[W]), stepped every batch."""
    torch = pytest.importorskip("torch")
    W, total, eta_min = 7, 40, 0.01
    ours = make_schedule("cosine", 0.5, total_epochs=total, min_lr=eta_min, warmup_epochs=W)

    def make(m, o):
        warm = m.LinearLR(o, start_factor=1 / W, end_factor=1.0, total_iters=W - 1)
        cos = m.CosineAnnealingLR(o, T_max=total - W, eta_min=eta_min)
        return m.SequentialLR(o, [warm, cos], milestones=[W])

    theirs = _torch_lrs(torch, make, total)
    assert [ours(t) for t in range(total)] == pytest.approx(theirs, rel=1e-12, abs=1e-15)
    assert ours(W - 1) == 0.5  # the warm-up's last step is at the base rate


def test_one_cycle_refuses_a_warmup():
    with pytest.raises(ValueError, match="one_cycle has its own warm-up"):
        make_schedule("one_cycle", 0.1, total_steps=10, warmup_epochs=2)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"mode": "max", "factor": 0.5, "patience": 2, "cooldown": 1},
        {"threshold": 0.05, "threshold_mode": "abs", "patience": 0, "min_lr": 0.02},
        {"factor": 0.3, "patience": 1, "threshold": 0.1, "cooldown": 2, "min_lr": 1e-3},
    ],
)
def test_reduce_on_plateau_matches_torch(kw):
    """The same metric sequence (improving, flat, noisy, worsening) gives torch's rates."""
    torch = pytest.importorskip("torch")
    from nnexp.nn import ReduceLROnPlateau

    rng = np.random.default_rng(0)
    values = [1.0, 0.8, 0.7, 0.7, 0.69999, 0.71, 0.7, 0.65, 0.66, 0.66]
    values += list(0.6 + 0.02 * rng.standard_normal(30)) + [0.7 + 0.01 * i for i in range(15)]

    class Opt:
        lr = 0.5

    ours = ReduceLROnPlateau(Opt, **kw)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    got, want = [], []
    for epoch, v in enumerate(values, start=1):
        ours.on_epoch_end({"epoch": epoch, "val_loss": float(v), "lr": Opt.lr})
        theirs.step(float(v))
        got.append(Opt.lr)
        want.append(topt.param_groups[0]["lr"])
    assert got == pytest.approx(want, rel=1e-15)
    assert len(set(want)) > 2  # the sequence did reduce, more than once


def test_reduce_on_plateau_names_a_missing_metric():
    from nnexp.nn import ReduceLROnPlateau

    class Opt:
        lr = 0.1

    with pytest.raises(ValueError, match="monitor 'val_r2' is not a recorded metric; recorded:"):
        ReduceLROnPlateau(Opt, monitor="val_r2").on_epoch_end({"epoch": 1, "val_loss": 1.0})

"""fit(): records, metrics, batching, seeding, schedules, early stopping, divergence, callbacks."""

from __future__ import annotations

import csv
import math
import re
import warnings

import numpy as np
import pytest

from nnexp.data import load_dataset, make_splits
from nnexp.nn import MLP, make_optimizer, make_schedule
from nnexp.train import EarlyStopping, History, fit


def moons_splits(n=200, seed=0, test_fraction=0.2, **kw):
    ds = load_dataset("moons", n_samples=n, noise=0.2, seed=seed)
    return make_splits(ds, val_fraction=0.2, test_fraction=test_fraction, seed=seed, **kw)


def sine_splits(n=100, seed=0):
    ds = load_dataset("sine", n_samples=n, noise=0.1, seed=seed)
    return make_splits(ds, val_fraction=0.2, test_fraction=0.2, seed=seed)


def clf_model(seed=0, hidden=(16,), dropout=0.0, output="sigmoid"):
    k = 1 if output == "sigmoid" else 2
    return MLP([2, *hidden, k], activation="tanh", output=output, dropout=dropout, rng=seed)


def reg_model(seed=0, hidden=(16,)):
    return MLP([1, *hidden, 1], activation="tanh", output="identity", loss="mse", rng=seed)


def strip_time(history: History) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "epoch_time"} for r in history.epochs]


class CountingOptimizer:
    """Wraps an optimiser and counts steps (lr is forwarded)."""

    def __init__(self, inner):
        self.inner, self.steps = inner, 0

    @property
    def lr(self):
        return self.inner.lr

    @lr.setter
    def lr(self, value):
        self.inner.lr = value

    def step(self, grads):
        self.steps += 1
        self.inner.step(grads)


# ---------------------------------------------------------------------------- records


def test_classification_records_and_test_metrics():
    splits = moons_splits()
    model = clf_model()
    opt = make_optimizer("adam", model.params, lr=0.01)
    h = fit(model, opt, splits, epochs=5, batch_size=32)
    assert h.stop_reason == "completed" and not h.diverged and h.task == "classification"
    assert [r["epoch"] for r in h.epochs] == [1, 2, 3, 4, 5]
    assert list(h.epochs[0]) == [
        "epoch",
        "train_loss",
        "val_loss",
        "train_accuracy",
        "val_accuracy",
        "lr",
        "epoch_time",
    ]
    for r in h.epochs:
        assert all(math.isfinite(v) for v in r.values())
        assert 0 <= r["train_accuracy"] <= 1 and r["lr"] == 0.01 and r["epoch_time"] > 0
    # train metrics are an eval-mode pass over the whole train split with the final weights
    tr = splits.train
    assert h.final["train_loss"] == model.loss(tr.X, tr.y)
    assert h.final["val_loss"] == model.loss(splits.val.X, splits.val.y)
    assert h.final["train_accuracy"] == np.mean(model.predict(tr.X) == tr.y)
    assert set(h.test) == {"test_loss", "test_accuracy"}
    assert h.test["test_loss"] == model.loss(splits.test.X, splits.test.y)
    assert h.final is h.epochs[-1]
    assert h.best_epoch == 1 + int(np.argmin([r["val_loss"] for r in h.epochs]))
    assert h.epochs[-1]["train_loss"] < h.epochs[0]["train_loss"]


def test_regression_records_rmse_r2():
    splits = sine_splits()
    model = reg_model()
    h = fit(model, make_optimizer("adam", model.params, lr=0.01), splits, epochs=4, batch_size=16)
    keys = {"train_loss", "val_loss", "train_rmse", "val_rmse", "train_r2", "val_r2"}
    assert keys <= set(h.final) and "train_accuracy" not in h.final
    assert set(h.test) == {"test_loss", "test_rmse", "test_r2"}
    # mse loss is the mean squared error: rmse**2 == loss
    assert h.final["train_rmse"] ** 2 == pytest.approx(h.final["train_loss"], rel=1e-12)
    y, pred = splits.val.y, model.predict(splits.val.X)
    r2 = 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)
    assert h.final["val_r2"] == pytest.approx(r2, rel=1e-12)


def test_no_test_split_gives_none_and_val_is_train_reuses_train_metrics():
    ds = load_dataset("xor")
    splits = make_splits(ds, val_fraction=0.0, test_fraction=0.0, seed=0)
    model = MLP([2, 4, 1], activation="tanh", output="sigmoid", rng=0)
    h = fit(model, make_optimizer("sgd", model.params, lr=0.5), splits, epochs=3)
    assert h.test is None
    for r in h.epochs:
        assert r["val_loss"] == r["train_loss"] and r["val_accuracy"] == r["train_accuracy"]


def test_loop_prints_nothing_and_warns_nothing(capsys):
    splits = moons_splits()
    model = clf_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(model, make_optimizer("sgd", model.params, lr=0.1), splits, epochs=2, batch_size=8)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


# ---------------------------------------------------------------------------- batching


@pytest.mark.parametrize(("batch_size", "steps_per_epoch"), [(None, 1), (0, 1), (32, 4), (1, 120)])
def test_steps_per_epoch(batch_size, steps_per_epoch):
    splits = moons_splits()  # n_train = 120
    assert splits.train.n == 120
    model = clf_model()
    opt = CountingOptimizer(make_optimizer("sgd", model.params, lr=0.1))
    fit(model, opt, splits, epochs=3, batch_size=batch_size)
    assert opt.steps == 3 * steps_per_epoch


@pytest.mark.parametrize("bad", [-1, 121, 10**6, 2.5, "32", True])
def test_batch_size_validation(bad):
    splits = moons_splits()
    model = clf_model()
    opt = make_optimizer("sgd", model.params, lr=0.1)
    with pytest.raises(ValueError, match="batch_size=") as err:
        fit(model, opt, splits, epochs=1, batch_size=bad)
    assert f"batch_size={bad!r}" in str(err.value)
    if isinstance(bad, int) and not isinstance(bad, bool):
        assert "[1, 120]" in str(err.value)


@pytest.mark.parametrize("bad", [0, -3, 1.5])
def test_epochs_validation(bad):
    model = clf_model()
    with pytest.raises(ValueError, match="epochs="):
        fit(model, make_optimizer("sgd", model.params, lr=0.1), moons_splits(), epochs=bad)


# ---------------------------------------------------------------------------- determinism


def run_once(seed):
    splits = moons_splits(seed=0)
    model = clf_model(seed=0, hidden=(16, 16), dropout=0.2)
    opt = make_optimizer("adam", model.params, lr=0.01)
    h = fit(model, opt, splits, epochs=8, batch_size=16, seed=seed)
    return h, [p.copy() for p in model.params]


def test_same_seed_bit_identical_and_seed_matters():
    h1, p1 = run_once(seed=3)
    h2, p2 = run_once(seed=3)
    assert strip_time(h1) == strip_time(h2)
    assert h1.test == h2.test
    assert all(np.array_equal(a, b) for a, b in zip(p1, p2, strict=True))
    h3, _ = run_once(seed=4)
    assert strip_time(h3) != strip_time(h1)


def test_no_shuffle_full_batch_independent_of_seed():
    def go(seed):
        model = clf_model()
        opt = make_optimizer("sgd", model.params, lr=0.1)
        return fit(model, opt, moons_splits(), epochs=3, seed=seed, shuffle=False)

    assert strip_time(go(0)) == strip_time(go(123))


# ---------------------------------------------------------------------------- schedule


def test_schedule_sets_lr_each_epoch():
    model = clf_model()
    opt = make_optimizer("sgd", model.params, lr=0.1)
    sched = make_schedule("cosine", base_lr=0.1, total_epochs=6, warmup_epochs=2)
    h = fit(model, opt, moons_splits(), epochs=6, batch_size=40, schedule=sched)
    assert [r["lr"] for r in h.epochs] == [float(sched(e)) for e in range(6)]
    h2 = fit(model, opt, moons_splits(), epochs=3, schedule=lambda e: 0.01 * (e + 1))
    assert [r["lr"] for r in h2.epochs] == [0.01, 0.02, 0.03]


# ---------------------------------------------------------------------------- early stopping


def overfit_setup(seed=0):
    """30 noisy sine points, a wide net: validation loss turns up quickly."""
    ds = load_dataset("sine", n_samples=130, noise=0.3, seed=seed)
    splits = make_splits(ds, val_fraction=0.5, test_fraction=0.2, seed=seed, n_train=30)
    model = MLP([1, 128, 128, 1], activation="tanh", output="identity", rng=seed)
    return splits, model, make_optimizer("adam", model.params, lr=0.01)


class Snapshots:
    def __init__(self, model):
        self.model, self.params, self.records = model, {}, []

    def on_epoch_end(self, record):
        self.params[record["epoch"]] = [p.copy() for p in self.model.params]
        self.records.append(record)


def test_early_stopping_restores_best_weights():
    splits, model, opt = overfit_setup()
    snap = Snapshots(model)
    es = EarlyStopping(patience=5)
    h = fit(model, opt, splits, epochs=1000, early_stopping=es, callbacks=[snap])
    best = es.best_epoch
    assert best == h.best_epoch == h.restored_epoch
    assert len(h.epochs) == best + 5 < 1000
    assert h.stop_reason == (
        f"early_stopping: val_loss did not improve for 5 epochs "
        f"(best {h.epochs[best - 1]['val_loss']:.4g} at epoch {best})"
    )
    for p, q in zip(model.params, snap.params[best], strict=True):
        assert np.array_equal(p, q)
    assert not np.array_equal(model.params[0], snap.params[len(h.epochs)][0])
    # evaluating the restored model reproduces the best record exactly
    assert model.loss(splits.val.X, splits.val.y) == h.epochs[best - 1]["val_loss"]
    assert h.test["test_loss"] == model.loss(splits.test.X, splits.test.y)
    assert h.final["epoch"] == len(h.epochs)  # history keeps the epochs after the best


def test_early_stopping_without_restore_keeps_last_weights():
    splits, model, opt = overfit_setup()
    snap = Snapshots(model)
    h = fit(
        model,
        opt,
        splits,
        epochs=1000,
        early_stopping=EarlyStopping(patience=5, restore_best=False),
        callbacks=[snap],
    )
    assert h.restored_epoch is None
    assert all(
        np.array_equal(p, q) for p, q in zip(model.params, snap.params[len(h.epochs)], strict=True)
    )


def test_early_stopping_max_mode_and_min_delta():
    es = EarlyStopping("val_accuracy")
    assert es.mode == "max"
    assert EarlyStopping("val_rmse").mode == "min" and EarlyStopping("train_r2").mode == "max"
    es = EarlyStopping("val_loss", min_delta=0.1, patience=2)
    assert es.update(1.0, 1) and not es.update(0.95, 2) and not es.should_stop
    assert not es.update(0.91, 3) and es.should_stop and es.best_epoch == 1
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping("foo")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)
    model = clf_model()
    with pytest.raises(ValueError, match="val_rmse"):
        fit(
            model,
            make_optimizer("sgd", model.params, lr=0.1),
            moons_splits(),
            epochs=2,
            early_stopping=EarlyStopping("val_rmse"),
        )


# ---------------------------------------------------------------------------- divergence


def test_divergence_stops_with_reason_and_no_nan():
    splits = sine_splits()
    model = MLP([1, 32, 32, 1], activation="relu", output="identity", rng=0)
    opt = make_optimizer("sgd", model.params, lr=1e3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow must not even warn
        h = fit(model, opt, splits, epochs=50, batch_size=8)
    assert h.diverged
    assert re.fullmatch(r"diverged: loss=(nan|inf|[-+0-9.e]+ > 1e\+06) at epoch \d+", h.stop_reason)
    div_epoch = int(h.stop_reason.rsplit(" ", 1)[1])
    assert len(h.epochs) == div_epoch - 1
    for r in h.epochs:
        assert all(math.isfinite(v) for v in r.values())
    assert h.final is None or h.final["epoch"] == div_epoch - 1
    assert h.test is None or all(math.isfinite(v) for v in h.test.values())
    assert all(np.isfinite(p).all() for p in model.params)  # weights rolled back


def test_divergence_bound_message():
    model = clf_model()
    h = fit(
        model,
        make_optimizer("sgd", model.params, lr=0.1),
        moons_splits(),
        epochs=5,
        divergence_bound=1e-3,
    )
    assert h.diverged and h.epochs == [] and h.final is None and h.test is None
    assert re.fullmatch(r"diverged: loss=0\.\d+ > 0\.001 at epoch 1", h.stop_reason)


# ---------------------------------------------------------------------------- callbacks


class Recorder:
    def __init__(self):
        self.records, self.begin, self.end = [], None, None

    def on_train_begin(self, history):
        self.begin = history

    def on_epoch_end(self, record):
        self.records.append(record)
        record["train_loss"] = -1.0  # mutating the copy must not touch the history

    def on_train_end(self, history):
        self.end = history


class Boom(Exception):
    pass


class RaiseAt:
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, record):
        if record["epoch"] == self.epoch:
            raise Boom(f"stop at {self.epoch}")


def test_callbacks_receive_every_epoch():
    rec, bare = Recorder(), object()  # an object without hooks is fine
    model = clf_model()
    h = fit(
        model,
        make_optimizer("sgd", model.params, lr=0.1),
        moons_splits(),
        epochs=4,
        callbacks=[rec, bare],
    )
    assert [r["epoch"] for r in rec.records] == [1, 2, 3, 4]
    assert rec.begin is h and rec.end is h
    assert all(r["train_loss"] > 0 for r in h.epochs)


def test_callback_exception_propagates_with_consistent_history():
    rec = Recorder()
    model = clf_model()
    with pytest.raises(Boom, match="stop at 3") as err:
        fit(
            model,
            make_optimizer("sgd", model.params, lr=0.1),
            moons_splits(),
            epochs=10,
            callbacks=[rec, RaiseAt(3)],
        )
    h = err.value.history
    assert h is rec.begin and rec.end is None
    assert [r["epoch"] for r in h.epochs] == [1, 2, 3]
    assert h.stop_reason == "interrupted: Boom at epoch 3" and not h.diverged and h.test is None
    assert h.final["train_loss"] == model.loss(moons_splits().train.X, moons_splits().train.y)


# ---------------------------------------------------------------------------- History


def test_history_columns_and_csv_roundtrip(tmp_path):
    model = clf_model()
    h = fit(model, make_optimizer("adam", model.params, lr=0.01), moons_splits(), epochs=6)
    cols = h.as_columns()
    assert cols["epoch"].dtype == np.int64 and list(cols["epoch"]) == [1, 2, 3, 4, 5, 6]
    assert np.array_equal(cols["val_loss"], [r["val_loss"] for r in h.epochs])
    path = h.to_csv(tmp_path / "deep" / "history.csv")
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and list(rows[0]) == list(h.epochs[0])
    for row, rec in zip(rows, h.epochs, strict=True):
        assert {k: float(v) for k, v in row.items()} == {k: float(v) for k, v in rec.items()}


def test_history_best_epoch_and_empty():
    h = History(epochs=[{"epoch": i, "val_loss": v} for i, v in enumerate([0.5, 0.3, 0.3, 0.4], 1)])
    assert h.best_epoch == 2 and h.best["val_loss"] == 0.3 and len(h) == 4
    empty = History()
    assert empty.final is None and empty.best_epoch is None and empty.as_columns() == {}


def test_float32_model():
    splits = moons_splits()
    model = MLP([2, 8, 1], activation="tanh", output="sigmoid", dtype=np.float32, rng=0)
    h = fit(model, make_optimizer("adam", model.params, lr=0.01), splits, epochs=3, batch_size=32)
    assert h.stop_reason == "completed" and all(math.isfinite(r["train_loss"]) for r in h.epochs)
    assert model.params[0].dtype == np.float32


def test_modules_import_no_heavy_dependencies():
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, nnexp.train, nnexp.diagnosis, nnexp.plots, nnexp.metrics\n"
        "bad = [m for m in ('hydra', 'optuna', 'mlflow', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""

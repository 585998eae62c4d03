"""The engine used as a library: bad arguments and data that do not fit the model are refused
with a ValueError/TypeError naming the argument, the bad value and what would fit; copies and
pickles of a model keep params/grads as views of flat_params/flat_grads."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from nnexp.data import load_dataset, make_splits
from nnexp.nn import MLP, gradient_check, load_model, make_optimizer, mlp, save_model
from nnexp.train import fit


def _splits(name: str, **kw):
    return make_splits(
        load_dataset(name, n_samples=150, seed=0, **kw), val_fraction=0.2, test_fraction=0.2, seed=0
    )


def _fit(model, splits, **kw):
    return fit(model, make_optimizer("adam", model.params, lr=0.01), splits, epochs=3, **kw)


# -- 1. gradient_check(max_elements=...) ----------------------------------------------------


def _broken_model():
    """A softmax model whose backward pass drops the first layer's bias gradient."""
    model = MLP([2, 3, 2], activation="tanh", output="softmax", rng=0)
    original = model.loss_and_grads

    def broken(X, y, rng=None, *, dropout=True):
        loss = original(X, y, rng, dropout=dropout)
        model.grads[1][...] = 0.0
        return loss

    model.loss_and_grads = broken
    return model


def test_gradient_check_with_one_element_still_catches_a_broken_backward_pass():
    X = np.random.default_rng(0).normal(size=(5, 2))
    y = np.array([0, 1, 0, 1, 1])
    result = gradient_check(_broken_model(), X, y, max_elements=1)
    assert not result.passed and result["b1"] == 1.0


@pytest.mark.parametrize(
    ("value", "error"), [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)]
)
def test_gradient_check_refuses_a_max_elements_that_is_not_a_positive_int(value, error):
    X = np.zeros((4, 2))
    y = np.array([0, 1, 0, 1])
    with pytest.raises(error) as caught:
        gradient_check(_broken_model(), X, y, max_elements=value)
    assert str(caught.value) == (
        f"max_elements must be a positive int or None (every element), got {value!r}"
    )


# -- 2. the data must fit the model's head ----------------------------------------------------


def test_fit_refuses_three_class_labels_for_a_sigmoid_head():
    model = MLP([2, 8, 1], output="sigmoid", rng=0)
    before = model.flat_params.copy()
    with pytest.raises(ValueError) as caught:
        _fit(model, _splits("spirals"))
    assert str(caught.value) == (
        "the train split's targets do not fit the model's sigmoid head (bce, 1 unit(s)): "
        "label 2 is not 0 or 1 (labels seen: {0, 1, 2}); it takes 0/1 labels of shape (n,) "
        "(or values in [0, 1] for a regression task without class weights); for more than 2 "
        "classes use output='softmax', for real-valued targets output='identity'"
    )
    assert np.array_equal(model.flat_params, before)  # refused before the first step


def test_fit_refuses_an_identity_head_on_class_labels():
    model = MLP([2, 8, 1], rng=0)
    with pytest.raises(ValueError) as caught:
        _fit(model, _splits("moons"))
    assert str(caught.value) == (
        "the train split's targets do not fit the model's identity head (mse, 1 unit(s)): the "
        "data is a classification task (class labels {0, 1}); it takes finite regression "
        "targets of shape (n,) or (n, 1); for class labels use output='softmax' (one unit per "
        "class) or output='sigmoid' (one unit, 2 classes)"
    )


def test_fit_refuses_negative_regression_targets_for_a_sigmoid_head():
    model = MLP([1, 8, 1], output="sigmoid", rng=0)
    with pytest.raises(
        ValueError, match=r"sigmoid head .*: targets span \[-\d.*, outside \[0, 1\]"
    ):
        _fit(model, _splits("sine"))


def test_fit_refuses_too_few_softmax_units_and_non_finite_data():
    with pytest.raises(ValueError, match=r"softmax head .*labels span \[0, 2\]; .*\[0, 2\)"):
        _fit(MLP([2, 8, 2], output="softmax", rng=0), _splits("spirals"))
    sp = _splits("sine")
    bad_y = type("S", (), {"X": sp.train.X, "y": np.where(np.arange(90) == 7, np.nan, 0.0)})
    splits = type("Splits", (), {"train": bad_y, "val": None, "test": None, "task": "regression"})
    with pytest.raises(ValueError, match=r"the train split's targets .*: target 7 is nan"):
        _fit(MLP([1, 4, 1], rng=0), splits)
    bad_X = type(
        "S", (), {"X": np.where(np.arange(90)[:, None] == 3, np.inf, sp.train.X), "y": sp.train.y}
    )
    splits.train = bad_X
    with pytest.raises(ValueError, match=r"the train split's X row 3, column 0 is inf"):
        _fit(MLP([1, 4, 1], rng=0), splits)


def test_fit_still_trains_data_that_fits_bit_for_bit():
    """The checks only read the data: fitting runs give the histories they gave before the
    checks existed (values measured then, with the same calls)."""
    model = MLP([2, 8, 1], output="sigmoid", rng=0, dropout=0.1)
    history = _fit(model, _splits("moons"), batch_size=16)
    assert [r["train_loss"] for r in history.epochs] == [
        0.6396704438825581,
        0.5464055058830994,
        0.47125926134456864,
    ]
    assert history.test == {"test_loss": 0.448044867640285, "test_accuracy": 0.9}
    model = MLP([2, 8, 3], output="softmax", rng=0, norm="batch")
    optimizer = make_optimizer("sgd", model.params, lr=0.1)
    history = fit(model, optimizer, _splits("spirals"), epochs=3, batch_size=16)
    assert [r["val_loss"] for r in history.epochs] == [
        1.1224241256555294,
        1.0793220957373963,
        1.048923506774927,
    ]
    history = _fit(MLP([1, 8, 1], rng=0), _splits("sine"), batch_size=16)
    assert [r["val_rmse"] for r in history.epochs] == [
        0.6375775543407228,
        0.6372515068770267,
        0.6304921682194266,
    ]


def test_check_fit_refuses_what_loss_and_grads_leaves_to_fit():
    model = MLP([2, 4, 1], output="sigmoid", rng=0)
    X = np.zeros((8, 2))
    with pytest.raises(ValueError, match="label 2 is not 0 or 1"):
        model.check_fit(X, np.full(8, 2), task="classification")
    with pytest.raises(ValueError, match=r"targets span \[2, 2\], outside \[0, 1\]"):
        model.check_fit(X, np.full(8, 2.0))
    with pytest.raises(ValueError, match="target 0 is nan"):
        model.check_fit(X, np.full(8, np.nan))
    model.check_fit(X, np.full(8, 0.25))  # soft targets in [0, 1] fit BCE without a task


# -- 3. predict refuses non-finite input -------------------------------------------------------


@pytest.mark.parametrize(("output", "k"), [("softmax", 2), ("sigmoid", 1), ("identity", 1)])
def test_predict_and_predict_proba_refuse_nan_and_inf_naming_row_and_column(output, k):
    model = MLP([2, 4, k], output=output, rng=0)
    for method in (model.predict, model.predict_proba, model.forward):
        with pytest.raises(ValueError) as caught:
            method([[0.5, 0.0], [0.0, np.nan], [np.inf, 0.0]])
        assert str(caught.value) == (
            "input row 1, column 1 is missing (NaN): the model takes finite features only "
            "(no NaN, missing value or inf) (2 such cells in all)"
        )
    with pytest.raises(ValueError, match="input row 0, column 0 is -inf"):
        model.predict([[-np.inf, 0.0]])
    assert model.predict([[0.5, 0.0]]).shape == (1,)


# -- 4. copies and pickles keep their views ----------------------------------------------------


def _assert_views(model):
    flat = np.concatenate([p.ravel() for p in model.params])
    assert np.array_equal(flat, model.flat_params)
    assert all(np.shares_memory(p, model.flat_params) for p in model.params)
    assert all(np.shares_memory(g, model.flat_grads) for g in model.grads)
    for dense, W, dW in zip(model.dense, model.params[::2], model.grads[::2], strict=False):
        assert dense.W is W or np.shares_memory(dense.W, model.flat_params)
        assert np.shares_memory(dense.dW, model.flat_grads) and W.shape == dW.shape


@pytest.mark.parametrize(
    "clone", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))], ids=["deepcopy", "pickle"]
)
@pytest.mark.parametrize("norm", ["none", "batch"])
def test_a_copy_keeps_its_views_and_trains_bit_identically_and_independently(clone, norm):
    sp = _splits("moons")
    model = MLP([2, 8, 8, 1], output="sigmoid", norm=norm, dropout=0.1, rng=0)
    model.label = "kept"  # an attribute set after construction travels too
    twin = clone(model)
    _assert_views(twin)
    assert twin.label == "kept" and repr(twin) == repr(model)
    assert np.array_equal(twin.flat_params, model.flat_params)
    stepped = clone(model)  # one step moves BatchNorm's running statistics: a third copy
    stepped.loss_and_grads(sp.train.X[:5], sp.train.y[:5])
    assert all(g.any() for g in stepped.grads[::2])
    make_optimizer("sgd", stepped.params, lr=0.1).step(stepped.grads)
    _assert_views(stepped)
    assert not np.array_equal(stepped.flat_params, model.flat_params)
    stepped.zero_grads()
    assert all(not g.any() for g in stepped.grads)
    original = model.flat_params.copy()
    original_buffers = [b.copy() for b in model.buffers]
    copied_history = _fit(twin, sp, batch_size=16)
    assert np.array_equal(model.flat_params, original)  # training the copy left the original
    assert all(np.array_equal(b, b0) for b, b0 in zip(model.buffers, original_buffers, strict=True))
    history = _fit(model, sp, batch_size=16)
    assert [r["train_loss"] for r in history.epochs] == [
        r["train_loss"] for r in copied_history.epochs
    ]
    assert np.array_equal(model.flat_params, twin.flat_params)
    assert all(np.array_equal(b, c) for b, c in zip(model.buffers, twin.buffers, strict=True))
    assert not np.array_equal(model.flat_params, original)


def test_the_rebuilt_attribute_list_is_what_the_constructor_makes():
    assert set(MLP([2, 3, 1]).__dict__) == mlp.BUILT_ATTRIBUTES
    assert set(MLP([2, 3, 3, 2], output="softmax", norm="batch", dropout=0.5).__dict__) == (
        mlp.BUILT_ATTRIBUTES
    )


def test_a_copy_continues_the_generator_where_the_original_is():
    model = MLP([2, 3, 1], dropout=0.5, rng=0)
    model.rng.random(3)
    twin = copy.deepcopy(model)
    assert twin.rng is not model.rng
    assert twin.rng.random() == model.rng.random()


# -- 5. bad arguments name themselves ------------------------------------------------------------


@pytest.mark.parametrize("seed", ["a", -1, 1.5, True, None])
def test_fit_refuses_a_seed_that_is_not_a_non_negative_int(seed):
    model = MLP([2, 4, 1], output="sigmoid", rng=0)
    with pytest.raises(ValueError) as caught:
        _fit(model, _splits("moons"), seed=seed)
    assert str(caught.value) == f"seed={seed!r} is invalid; must be an int >= 0"


@pytest.mark.parametrize("rng", [-1, "x", 1.5, True])
def test_mlp_and_load_model_refuse_a_bad_rng_naming_it(rng, tmp_path):
    message = f"rng must be a numpy.random.Generator, an int seed >= 0 or None, got {rng!r}"
    with pytest.raises(ValueError) as caught:
        MLP([2, 1], rng=rng)
    assert str(caught.value) == message
    path = save_model(MLP([2, 1], rng=0), tmp_path / "m.npz")
    with pytest.raises(ValueError) as caught:
        load_model(path, rng=rng)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("weights", "shown"),
    [
        ("balanced", "'balanced' ('balanced' needs the training labels"),
        ({0: 1.0, 1: 2.0, 2: 1.0}, "dict {0: 1.0, 1: 2.0, 2: 1.0}"),
        (["a", 1, 1], "['a', 1, 1]"),
        ([True, 1, 1], "[True, 1, 1]"),
        ([1.0, 2.0], "[1.0, 2.0]"),
    ],
)
def test_mlp_refuses_class_weights_that_are_not_a_list_of_positive_numbers(weights, shown):
    with pytest.raises(ValueError) as caught:
        MLP([2, 3], output="softmax", class_weight=weights)
    message = str(caught.value)
    assert message.startswith(
        "class_weight must be None or a list of 3 positive numbers"
        if weights != [1.0, 2.0]
        else "class weights must be 3 positive numbers"
    ), message
    assert shown in message
    weighted = MLP([2, 3], output="softmax", class_weight=(1, 2, 3.0))
    assert weighted.config()["class_weight"] == [1.0, 2.0, 3.0]


def test_load_model_says_a_csv_is_not_a_model_file(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError) as caught:
        load_model(path)
    message = str(caught.value)
    assert message == (
        f"cannot load model from {str(path)!r}: not an nnexp model file (a .npz archive "
        "written by save_model): corrupt or unsafe file, it starts with b'a,b\\n1,', neither "
        "a zip archive nor a NumPy file"
    )
    assert "allow_pickle" not in message


def test_save_and_load_expand_the_home_directory_and_errors_name_the_users_path(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path))
    model = MLP([2, 3, 1], rng=0)
    written = save_model(model, "~/m.npz")
    assert written == tmp_path / "m.npz" and written.is_file()
    assert np.array_equal(load_model("~/m.npz").flat_params, model.flat_params)
    with pytest.raises(FileNotFoundError) as caught:
        save_model(model, "~/absent/m.npz")
    assert str(caught.value) == (
        f"cannot save model to {str(tmp_path / 'absent' / 'm.npz')!r}: "
        f"{str(tmp_path / 'absent')!r} is not a directory"
    )
    (tmp_path / "adir").mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        save_model(model, "~/adir")
    assert str(caught.value) == (
        f"[Errno 21] cannot save model to {str(tmp_path / 'adir')!r}: Is a directory"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "m.npz"]  # no temp file left


@pytest.mark.parametrize("name", ["standardize", "standardize_y"])
@pytest.mark.parametrize("value", ["no", 0, None])
def test_make_splits_requires_a_bool_for_standardize(name, value):
    with pytest.raises(ValueError) as caught:
        make_splits(
            load_dataset("sine", n_samples=40, seed=0),
            val_fraction=0.2,
            test_fraction=0.2,
            seed=0,
            **{name: value},
        )
    assert str(caught.value) == f"{name} must be True or False, got {value!r}"

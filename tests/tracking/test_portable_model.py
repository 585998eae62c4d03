"""The logged model's forward pass (``nnexp/nn/portable.py``) agrees with the engine, needs only
NumPy, and the pyfunc model built on it takes arrays of either float dtype and named DataFrames.

Loading it where nnexp is not installed, and serving it, is tests/tracking/test_model_venv.py.
"""

from __future__ import annotations

import ast
import json
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest

from nnexp.nn import MLP, save_model
from nnexp.nn.activations import ACTIVATIONS as ENGINE_ACTIVATIONS
from nnexp.nn.portable import ACTIVATIONS, load_network
from nnexp.tracking.pyfunc import (
    NN_DIR,
    PORTABLE_FILES,
    PORTABLE_PACKAGE,
    model_requirements,
    write_scaler,
)

HEADS = [("softmax", 3), ("sigmoid", 1), ("sigmoid", 2), ("identity", 1), ("identity", 2)]


def _saved(tmp_path: Path, model: MLP, mean, std, names) -> tuple[Path, Path]:
    weights, scaler = tmp_path / "model.npz", tmp_path / "scaler.npz"
    save_model(model, weights)
    write_scaler(scaler, mean, std, names)
    return weights, scaler


def test_every_engine_activation_has_a_portable_one():
    assert sorted(ACTIVATIONS) == sorted(ENGINE_ACTIVATIONS)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("output,k", HEADS)
@pytest.mark.parametrize("activation", sorted(ENGINE_ACTIVATIONS))
def test_portable_forward_pass_equals_the_engine(tmp_path, activation, output, k, dtype):
    rng = np.random.default_rng(zlib.crc32(f"{activation}-{output}-{k}".encode()))
    d = int(rng.integers(1, 6))
    sizes = [d, *rng.integers(1, 9, size=int(rng.integers(0, 3))).tolist(), k]
    kwargs = {"leaky_relu": {"negative_slope": 0.2}, "elu": {"alpha": 0.7}}.get(activation, {})
    model = MLP(
        sizes,
        activation=activation,
        output=output,
        dtype=dtype,
        rng=rng,
        dropout=0.3,
        activation_kwargs=kwargs,
        init="normal",
        init_kwargs={"std": 2.0},
    )
    mean, std = rng.normal(size=d), rng.uniform(0.5, 2.0, size=d)
    network = load_network(*_saved(tmp_path, model, mean, std, [f"f{i}" for i in range(d)]))
    raw = rng.normal(scale=3.0, size=(40, d))
    standardised = (raw - mean) / std

    np.testing.assert_array_equal(network.logits(standardised), model.logits(standardised))
    np.testing.assert_array_equal(network.predict(raw), model.predict(standardised))
    assert network.predict(raw).dtype == model.predict(standardised).dtype


def test_inputs_float32_float64_and_named_columns_in_any_order(tmp_path):
    import pandas as pd

    rng = np.random.default_rng(3)
    model = MLP([3, 8, 1], activation="tanh", output="identity", rng=rng)
    mean, std, names = np.array([1.0, -2.0, 0.5]), np.array([2.0, 0.5, 3.0]), ["age", "bmi", "bp"]
    network = load_network(*_saved(tmp_path, model, mean, std, names))
    raw = rng.normal(size=(7, 3))
    expected = model.predict((raw - mean) / std)

    np.testing.assert_array_equal(network.predict(raw), expected)
    as32 = raw.astype(np.float32)
    np.testing.assert_array_equal(
        network.predict(as32), model.predict((as32.astype(np.float64) - mean) / std)
    )
    frame = pd.DataFrame(raw, columns=names)
    np.testing.assert_array_equal(network.predict(frame[["bp", "age", "bmi"]]), expected)
    np.testing.assert_array_equal(network.predict(pd.DataFrame(raw)), expected)  # 0..d-1

    with pytest.raises(ValueError, match=r"got 2 columns \['age', 'bp'\]: missing \['bmi'\]$"):
        network.predict(frame.drop(columns="bmi"))
    with pytest.raises(ValueError, match=r"got 4 columns .*: extra \['extra'\]$"):
        network.predict(frame.assign(extra=1.0))  # ignored before: a wrong count is refused
    # columns named otherwise (seen through /invocations): the message names what was sent,
    # not only what is missing ("lacks ['x0', 'x1']; expected ['x0', 'x1']" said nothing new)
    with pytest.raises(ValueError) as refused:
        network.predict(pd.DataFrame(raw, columns=["a", "b", "c"]))
    assert str(refused.value) == (
        "the model takes 3 feature columns ['age', 'bmi', 'bp'] (any order), got 3 columns "
        "['a', 'b', 'c']: missing ['age', 'bmi', 'bp']; extra ['a', 'b', 'c']"
    )
    with pytest.raises(ValueError) as refused:
        network.predict(raw[:, :2])
    assert str(refused.value) == (
        "the model takes 3 feature columns ['age', 'bmi', 'bp'] (in this order), got 2 columns"
    )


def test_an_architecture_key_it_does_not_know_is_refused(tmp_path):
    """A layer kind added to the engine but not here must fail loudly, not predict wrongly."""
    model = MLP([2, 4, 1], activation="relu", output="sigmoid", rng=0)
    weights, _ = _saved(tmp_path, model, None, None, ["a", "b"])
    with np.load(weights, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__nnexp_meta__"]))
    meta["config"]["attention"] = "multihead"
    arrays["__nnexp_meta__"] = np.array(json.dumps(meta))
    np.savez(weights, **arrays)
    with pytest.raises(ValueError, match=r"architecture keys \['attention'\] that this portable"):
        load_network(weights)


def test_every_key_the_engine_saves_is_known():
    """A key the engine writes into model.npz but this module does not know would make every
    logged model fail; each known key is either used at prediction or training-only."""
    from nnexp.nn.portable import INFERENCE_CONFIG, KNOWN_CONFIG, TRAINING_ONLY_CONFIG

    for norm in ("none", "batch", "layer"):
        saved = MLP([2, 3, 2], output="softmax", norm=norm, rng=0).config()
        assert set(saved) <= KNOWN_CONFIG
    assert not INFERENCE_CONFIG & TRAINING_ONLY_CONFIG


def _trained_with_norm(norm, activation, dtype, rng):
    """An MLP with ``norm`` whose gamma/beta and BatchNorm running statistics are far from
    their initial 1/0 (a forward pass ignoring any of them would disagree)."""
    kwargs = {"leaky_relu": {"negative_slope": 0.2}, "elu": {"alpha": 0.7}}.get(activation, {})
    model = MLP(
        [3, 7, 5, 3],
        activation=activation,
        activation_kwargs=kwargs,
        output="softmax",
        dtype=dtype,
        rng=rng,
        dropout=0.2,
        norm=norm,
        norm_eps=0.25,  # large, so an eps ignored or taken as the default shows
        **({"norm_momentum": 0.5} if norm == "batch" else {}),
        label_smoothing=0.1,
        class_weight=[1.0, 2.0, 0.5],
    )
    X = rng.normal(loc=1.5, scale=3.0, size=(32, 3))
    y = rng.integers(0, 3, size=32)
    for _ in range(3):  # moves BatchNorm's running statistics
        model.loss_and_grads(X, y)
    for name, p in zip(model.param_names, model.params, strict=True):
        if name.startswith(("gamma", "beta")):
            p[...] = rng.normal(size=p.shape)
    return model


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", sorted(ENGINE_ACTIVATIONS))
@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_portable_forward_pass_with_norm_equals_the_engine_in_eval_mode(
    tmp_path, norm, activation, dtype
):
    rng = np.random.default_rng(zlib.crc32(f"{norm}-{activation}-{np.dtype(dtype)}".encode()))
    model = _trained_with_norm(norm, activation, dtype, rng)
    if norm == "batch":
        running = model.buffers
        assert len(running) == 4 and not np.allclose(running[0], 0.0)
        assert not np.allclose(running[1], 1.0)
    mean, std = rng.normal(size=3), rng.uniform(0.5, 2.0, size=3)
    network = load_network(*_saved(tmp_path, model, mean, std, ["a", "b", "c"]))
    raw = rng.normal(scale=3.0, size=(17, 3))
    standardised = (raw - mean) / std

    logits = network.logits(standardised)
    assert logits.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(logits, model.logits(standardised))  # bit for bit
    np.testing.assert_array_equal(
        model.head.output(logits), model.forward(standardised, training=False)
    )
    np.testing.assert_array_equal(network.predict(raw), model.predict(standardised))
    # eval mode uses no batch statistics: one row alone gives its row of the batch (to
    # rounding only: BLAS sums a 1-row product in another order than a 17-row one)
    one = network.logits(standardised[:1])
    np.testing.assert_array_equal(one, model.logits(standardised[:1]))
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(one, logits[:1], rtol=tolerance, atol=tolerance)


def test_a_file_from_before_normalisation_loads_as_without_norm(tmp_path):
    model = MLP([2, 5, 1], activation="tanh", output="sigmoid", rng=1)
    weights, _ = _saved(tmp_path, model, None, None, ["a", "b"])
    with np.load(weights, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__nnexp_meta__"]))
    for key in ("norm", "norm_eps", "norm_momentum", "label_smoothing", "class_weight"):
        del meta["config"][key]
    arrays["__nnexp_meta__"] = np.array(json.dumps(meta))
    np.savez(weights, **arrays)
    X = np.random.default_rng(2).normal(size=(9, 2))
    np.testing.assert_array_equal(load_network(weights).logits(X), model.logits(X))


def _rewritten(weights: Path, edit) -> Path:
    with np.load(weights, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["__nnexp_meta__"]))
    edit(meta["config"], arrays)
    arrays["__nnexp_meta__"] = np.array(json.dumps(meta))
    np.savez(weights, **arrays)
    return weights


def test_a_bad_norm_or_missing_running_statistics_is_refused(tmp_path):
    model = MLP([2, 4, 1], output="sigmoid", norm="batch", rng=0)
    weights, _ = _saved(tmp_path, model, None, None, ["a", "b"])
    _rewritten(weights, lambda config, arrays: config.update(norm="group"))
    with pytest.raises(ValueError, match=r"unknown norm 'group'; known: none, batch, layer"):
        load_network(weights)

    save_model(model, weights)
    _rewritten(weights, lambda config, arrays: config.update(norm_eps=None))
    with pytest.raises(ValueError, match=r"norm 'batch' needs a positive finite norm_eps"):
        load_network(weights)

    save_model(model, weights)
    _rewritten(weights, lambda config, arrays: arrays.pop("buffer_1"))
    with pytest.raises(ValueError, match=r"6 parameter arrays and 2 buffers, the file has 6 and 1"):
        load_network(weights)

    save_model(model, weights)  # batch -> layer: BatchNorm's buffers are left over
    _rewritten(weights, lambda config, arrays: config.update(norm="layer", norm_momentum=None))
    with pytest.raises(ValueError, match=r"6 parameter arrays and 0 buffers, the file has 6 and 2"):
        load_network(weights)


def test_the_shipped_files_import_only_numpy_the_stdlib_and_each_other():
    """What travels with the model must import where only MLflow and NumPy are installed."""
    import sys

    shipped = {Path(name).stem for name in PORTABLE_FILES}
    for name in PORTABLE_FILES:
        tree = ast.parse((NN_DIR / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.module in shipped, f"{name}: from .{node.module}"
            elif isinstance(node, ast.ImportFrom | ast.Import):
                names = (
                    [node.module]
                    if isinstance(node, ast.ImportFrom)
                    else [alias.name for alias in node.names]
                )
                for module in names:
                    top = module.split(".")[0]
                    assert top == "numpy" or top in sys.stdlib_module_names, f"{name}: {module}"


def test_logged_model_is_self_contained_and_takes_arrays_and_frames(tmp_path, monkeypatch):
    """Logged through MLflow: requirements are MLflow and NumPy, the code travels in
    ``code/nnexp_portable``, and MLflow's own schema check lets both dtypes and names through."""
    import mlflow
    import pandas as pd
    import yaml

    from nnexp.tracking.pyfunc import log_pyfunc_model, model_tags

    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    rng = np.random.default_rng(5)
    model = MLP([4, 16, 1], activation="gelu", output="identity", rng=rng)
    names = ["sepal length", "sepal width", "petal length", "petal width"]
    mean, std = rng.normal(size=4), rng.uniform(0.5, 2, size=4)
    raw = rng.normal(size=(25, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = mlflow.MlflowClient().create_run("0")
        uri = log_pyfunc_model(
            model, mean, std, raw[:5], run_id=run.info.run_id, feature_names=names
        )
        assert uri.startswith("models:/m-")
        tags = model_tags(uri, run.info.run_id)
        assert tags == {"model_uri": uri, "model_run_uri": f"runs:/{run.info.run_id}/model"}
        local = Path(mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "dl")))
        pyfunc = mlflow.pyfunc.load_model(tags["model_run_uri"])
    assert (local / "requirements.txt").read_text().split() == model_requirements()
    assert sorted(p.name for p in (local / "code" / PORTABLE_PACKAGE).iterdir()) == sorted(
        ["__init__.py", *PORTABLE_FILES]
    )
    for name in PORTABLE_FILES:
        assert (local / "code" / PORTABLE_PACKAGE / name).read_text() == (NN_DIR / name).read_text()
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    code = ast.parse((local / "pyfunc_code.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(code)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module for node in ast.walk(code) if isinstance(node, ast.ImportFrom)}
    assert imported == {
        "contextlib",
        "importlib",
        "importlib.util",
        "io",
        "sys",
        "pathlib",
        "mlflow.models",
        "mlflow.exceptions",
        "mlflow.protos.databricks_pb2",
        "mlflow.pyfunc",
    }
    assert mlmodel["metadata"] == {"nnexp.feature_names": names}
    # no inputs: MLflow would cut a wider input to width (tests/tracking/test_model_input_checks)
    assert mlmodel["signature"]["inputs"] is None

    expected = model.predict((raw - mean) / std)
    np.testing.assert_allclose(pyfunc.predict(raw), expected, rtol=0, atol=1e-12)
    as32 = raw.astype(np.float32)
    np.testing.assert_allclose(
        pyfunc.predict(as32), model.predict((as32.astype(np.float64) - mean) / std), atol=1e-12
    )
    frame = pd.DataFrame(raw, columns=names)[names[::-1]]
    np.testing.assert_allclose(pyfunc.predict(frame), expected, rtol=0, atol=1e-12)


def test_logged_model_with_batchnorm_predicts_like_the_engine(tmp_path, monkeypatch):
    """Through MLflow: a float32 BatchNorm network (trained running statistics, label smoothing
    and class weights in its file) predicts the engine's labels from raw features."""
    import mlflow

    from nnexp.tracking.pyfunc import log_pyfunc_model

    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    rng = np.random.default_rng(27)  # a seed whose 60 rows get all three labels
    model = _trained_with_norm("batch", "relu", np.float32, rng)
    mean, std = rng.normal(size=3), rng.uniform(0.5, 2, size=3)
    raw = rng.normal(scale=3.0, size=(60, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = mlflow.MlflowClient().create_run("0")
        uri = log_pyfunc_model(
            model, mean, std, raw[:5], run_id=run.info.run_id, feature_names=["a", "b", "c"]
        )
        pyfunc = mlflow.pyfunc.load_model(uri)
    standardised = (raw - mean) / std
    expected = model.predict(standardised)
    assert sorted(set(expected.tolist())) == [0, 1, 2]  # not a constant answer
    np.testing.assert_array_equal(np.asarray(pyfunc.predict(raw)), expected)
    loaded = pyfunc.unwrap_python_model().network  # the forward pass MLflow loaded
    np.testing.assert_array_equal(loaded.logits(standardised), model.logits(standardised))

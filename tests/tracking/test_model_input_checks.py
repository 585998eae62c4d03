"""The logged model refuses input that is not exactly its features, each finite.

Found by a user: MLflow's enforcement of the former input signature (one unnamed ``double``
column per feature) kept the first d columns of a wider input, so a 5-column array given to a
4-feature model was read shifted by one column and answered; and a NaN feature became a
confident class (argmax of NaN logits is 0) or a NaN value. Now the signature declares no
inputs and the model checks what it is given (``nnexp/nn/model_input.py``), in
``pyfunc.load_model(...).predict`` and through ``mlflow models serve`` (HTTP 400 with the
message).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nnexp_testing import served_model, server_env

from nnexp.nn import MLP

IRIS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
#: (head, output units, feature names): every head the engine has.
HEADS = {
    "softmax": ("softmax", 3, IRIS),
    "sigmoid": ("sigmoid", 1, ["x0", "x1"]),
    "identity": ("identity", 2, ["age", "bmi", "bp"]),
}
WIDTH_4 = (
    "the model takes 4 feature columns ['sepal length (cm)', 'sepal width (cm)', "
    "'petal length (cm)', 'petal width (cm)'] (in this order), got {} columns"
)


def _log(tmp: Path, head: str):
    """Log an untrained network with ``head`` through nnexp's pyfunc path; -> (the local model
    folder, its ``models:/`` URI, the network, mean, std, feature names)."""
    import mlflow

    from nnexp.tracking.pyfunc import log_pyfunc_model

    output, k, names = HEADS[head]
    rng = np.random.default_rng(len(names))
    model = MLP([len(names), 8, k], activation="tanh", output=output, rng=rng)
    mean, std = rng.normal(size=len(names)), rng.uniform(0.5, 2.0, size=len(names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = mlflow.MlflowClient().create_run("0")
        uri = log_pyfunc_model(
            model,
            mean,
            std,
            rng.normal(size=(5, len(names))),
            run_id=run.info.run_id,
            feature_names=names,
        )
        local = mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp / head))
    return Path(local), uri, model, mean, std, names


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """One logged model per head, in one SQLite store."""
    import mlflow

    tmp = tmp_path_factory.mktemp("input-checks")
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    models = {head: _log(tmp, head) for head in HEADS}
    return store, models


def _load(logged, head):
    import mlflow

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mlflow.pyfunc.load_model(str(logged[1][head][0]))


def _refused(pyfunc, model_input) -> str:
    """The message ``predict`` refuses ``model_input`` with, checking the error's kinds: a
    ``ValueError`` to Python, an ``MlflowException`` of a bad request to the scoring server."""
    from mlflow.exceptions import MlflowException

    with pytest.raises(ValueError) as refused:
        pyfunc.predict(model_input)
    assert isinstance(refused.value, MlflowException)
    assert refused.value.get_http_status_code() == 400
    return refused.value.message


def test_the_signature_declares_no_inputs(logged):
    """MLflow then hands the input to the model as sent, instead of cutting it to width."""
    import yaml

    mlmodel = yaml.safe_load((logged[1]["softmax"][0] / "MLmodel").read_text())
    assert mlmodel["signature"]["inputs"] is None
    assert json.loads(mlmodel["signature"]["outputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}
    ]
    assert mlmodel["metadata"] == {"nnexp.feature_names": IRIS}


def test_an_array_one_column_too_wide_or_too_narrow_is_refused(logged):
    pyfunc = _load(logged, "softmax")
    X = np.random.default_rng(0).normal(size=(3, 4))
    # the user's report: a constant column in front, which MLflow's former check let through
    assert _refused(pyfunc, np.hstack([np.full((3, 1), 100.0), X])) == WIDTH_4.format(5)
    assert _refused(pyfunc, X[:, :3]) == WIDTH_4.format(3)
    assert _refused(pyfunc, X[:, :3].tolist()) == WIDTH_4.format(3)
    assert _refused(pyfunc, pd.DataFrame(np.hstack([X, X[:, :1]]))) == WIDTH_4.format(5)


def test_a_frame_with_a_column_missing_or_extra_is_refused_by_name(logged):
    pyfunc = _load(logged, "softmax")
    frame = pd.DataFrame(np.random.default_rng(1).normal(size=(3, 4)), columns=IRIS)
    expected = (
        "the model takes 4 feature columns ['sepal length (cm)', 'sepal width (cm)', "
        "'petal length (cm)', 'petal width (cm)'] (any order), got {}"
    )
    assert _refused(pyfunc, frame.assign(extra=1.0)[["extra", *IRIS]]) == expected.format(
        "5 columns ['extra', 'sepal length (cm)', 'sepal width (cm)', 'petal length (cm)', "
        "'petal width (cm)']: extra ['extra']"
    )
    assert _refused(pyfunc, frame.drop(columns="petal width (cm)")) == expected.format(
        "3 columns ['sepal length (cm)', 'sepal width (cm)', 'petal length (cm)']: "
        "missing ['petal width (cm)']"
    )
    renamed = frame.rename(columns={"sepal width (cm)": "sepal width"})
    assert _refused(pyfunc, renamed) == expected.format(
        "4 columns ['sepal length (cm)', 'sepal width', 'petal length (cm)', "
        "'petal width (cm)']: missing ['sepal width (cm)']; extra ['sepal width']"
    )


@pytest.mark.parametrize("head", sorted(HEADS))
def test_nan_and_inf_are_refused_for_every_head_naming_row_and_column(logged, head):
    pyfunc = _load(logged, head)
    names = HEADS[head][2]
    d = len(names)
    X = np.random.default_rng(2).normal(size=(4, d))
    X[2, d - 1] = np.nan
    assert _refused(pyfunc, X) == (
        f"input row 2, column {d - 1} ({names[-1]!r}) is missing (NaN): the model takes "
        "finite features only (no NaN, missing value or inf)"
    )
    X[1, 0] = -np.inf
    assert _refused(pyfunc, X) == (
        f"input row 1, column 0 ({names[0]!r}) is -inf: the model takes finite features only "
        "(no NaN, missing value or inf) (2 such cells in all)"
    )
    # by name: the column as the frame has it (reversed here)
    frame = pd.DataFrame(X[1:2], columns=names)[names[::-1]]
    assert _refused(pyfunc, frame) == (
        f"input row 0, column {d - 1} ({names[0]!r}) is -inf: the model takes finite "
        "features only (no NaN, missing value or inf)"
    )
    # a JSON null among numbers arrives as None in an object array
    row = np.array([[0.5] * (d - 1) + [None]], dtype=object)
    assert _refused(pyfunc, row).startswith(f"input row 0, column {d - 1} ({names[-1]!r}) is")


@pytest.mark.parametrize("head", sorted(HEADS))
def test_the_right_input_still_predicts_as_the_network(logged, head):
    """Arrays of the right width (float64, float32, a list of rows), named frames in any order
    and a dict of columns all give the network's answer on standardised features."""
    pyfunc = _load(logged, head)
    _, _, model, mean, std, names = logged[1][head]
    X = np.random.default_rng(3).normal(scale=2.0, size=(30, len(names)))
    expected = model.predict((X - mean) / std)
    frame = pd.DataFrame(X, columns=names)[names[::-1]]
    for model_input in (X, X.tolist(), frame, {n: X[:, i] for i, n in enumerate(names)}):
        np.testing.assert_allclose(pyfunc.predict(model_input), expected, rtol=0, atol=1e-12)
    as32 = X.astype(np.float32)
    np.testing.assert_allclose(
        pyfunc.predict(as32), model.predict((as32.astype(np.float64) - mean) / std), atol=1e-12
    )


def test_integer_features_are_taken_as_numbers(logged):
    """MLflow's former ``double`` signature refused an int64 array (other than 0/1)."""
    pyfunc = _load(logged, "identity")
    _, _, model, mean, std, _ = logged[1]["identity"]
    ints = np.arange(6).reshape(2, 3)
    np.testing.assert_allclose(pyfunc.predict(ints), model.predict((ints - mean) / std))


def test_a_model_loaded_after_another_uses_its_own_forward_pass(logged, tmp_path):
    """Every nnexp model ships its forward pass as ``nnexp_portable``: a model loaded after a
    model logged before ``model_input.py`` existed (that package, without it, already
    imported) failed with ``No module named 'nnexp_portable.model_input'``."""
    import importlib.util

    old = tmp_path / "old" / "nnexp_portable"
    old.mkdir(parents=True)
    (old / "__init__.py").write_text('"""an older model\'s forward pass"""\n')
    (old / "portable.py").write_text("def load_network(weights, scaler=None):\n    raise\n")
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] == "nnexp_portable"}
    for name in saved:
        del sys.modules[name]
    try:
        spec = importlib.util.spec_from_file_location(
            "nnexp_portable", old / "__init__.py", submodule_search_locations=[str(old)]
        )
        sys.modules["nnexp_portable"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["nnexp_portable"])
        import nnexp_portable.portable  # noqa: F401  (as the older model's load_context did)

        pyfunc = _load(logged, "sigmoid")
        folder = logged[1]["sigmoid"][0] / "code" / "nnexp_portable"
        assert Path(sys.modules["nnexp_portable.portable"].__file__) == folder / "portable.py"
        assert _refused(pyfunc, np.zeros((1, 3))) == (
            "the model takes 2 feature columns ['x0', 'x1'] (in this order), got 3 columns"
        )
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "nnexp_portable"]:
            del sys.modules[name]
        sys.modules.update(saved)


def _post(url: str, body: str, content_type: str = "application/json") -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body.encode(), headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow  # the server takes some 15 s to start here
def test_mlflow_models_serve_answers_400_for_a_wrong_width_or_a_nan(logged, tmp_path):
    """One real ``mlflow models serve`` of the iris-shaped classifier: the user's requests
    (one column too many, a null feature) get HTTP 400 with the model's message; right
    requests in every format the server takes still get the network's labels."""
    store, models = logged
    _, uri, model, mean, std, names = models["softmax"]
    X = np.random.default_rng(4).normal(scale=2.0, size=(6, 4)) + mean
    expected = model.predict((X - mean) / std).tolist()
    assert len(set(expected)) > 1  # not a constant answer
    env = server_env() | {"MLFLOW_TRACKING_URI": store}
    with served_model(uri, tmp_path, env) as url:
        wide = _post(url, json.dumps({"inputs": [[100.0, *row] for row in X.tolist()]}))
        null = _post(url, json.dumps({"inputs": [[0.5, 1.0, None, 0.2]]}))
        csv_nan = _post(url, f"{','.join(names)}\n0.5,,1,2\n", "text/csv")
        extra = _post(
            url, json.dumps({"dataframe_records": [dict(zip(names, X[0], strict=True), extra=1.0)]})
        )
        right = {
            "inputs": _post(url, json.dumps({"inputs": X.tolist()})),
            "instances": _post(url, json.dumps({"instances": X.tolist()})),
            "dataframe_split": _post(
                url,
                json.dumps(
                    {"dataframe_split": {"columns": names[::-1], "data": X[:, ::-1].tolist()}}
                ),
            ),
            "dataframe_records": _post(
                url,
                json.dumps(
                    {
                        "dataframe_records": [
                            dict(zip(names, row, strict=True)) for row in X.tolist()
                        ]
                    }
                ),
            ),
            "csv": _post(
                url,
                pd.DataFrame(X, columns=names).to_csv(index=False, float_format="%.17g"),
                "text/csv",
            ),
        }

    status, body = wide
    assert status == 400, body
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert body["message"].endswith("\nError: " + WIDTH_4.format(5))
    status, body = null
    assert status == 400, body
    assert body["message"].endswith(
        "\nError: input row 0, column 2 ('petal length (cm)') is missing (NaN): the model "
        "takes finite features only (no NaN, missing value or inf)"
    )
    status, body = csv_nan
    assert status == 400, body
    assert "input row 0, column 1 ('sepal width (cm)') is missing (NaN)" in body["message"]
    status, body = extra
    assert status == 400, body
    assert body["message"].endswith(": extra ['extra']")
    for form, (status, body) in right.items():
        assert (status, body) == (200, {"predictions": expected}), form

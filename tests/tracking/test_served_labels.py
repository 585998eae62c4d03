"""A served classifier answers with the data set's class labels, which the run records.

Found by an outside tester: with a CSV whose target holds ``cat``/``dog``, the logged model's
``predict`` returned the integer codes ``0``/``1``, the MLmodel metadata held only the feature
names, and "dog" appeared nowhere in the store. Now the class names (in the order of the
codes) go with the model (``scaler.npz``, MLmodel ``nnexp.class_names``) and with the run (tag
``data.class_names``, the dataset inputs' source tag), and the model predicts the labels:
strings for string labels, integers when every label is an integer.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nnexp_testing import NnexpCommand, served_model, server_env
from venvs import cached_venv, venv_python

from nnexp.nn import MLP, save_model
from nnexp.nn.portable import class_labels, load_network
from nnexp.tracking.pyfunc import write_scaler

ARGS = ["data=csv", "data.path=pets.csv", "data.target=label", "trainer.epochs=20"]
ARGS += ["trainer.progress=false", "tracking.log_plots=false"]


def _pets_csv(path: Path) -> None:
    """80 rows, two features; ``label`` is ``dog`` when ``a + b > 0``: separable."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 2))
    labels = np.where(X.sum(axis=1) > 0, "dog", "cat")
    rows = "".join(f"{a:.6f},{b:.6f},{label}\n" for (a, b), label in zip(X, labels, strict=True))
    path.write_text("a,b,label\n" + rows)


@pytest.fixture(scope="module")
def pets(tmp_path_factory):
    """One real run on the cat/dog CSV: (NnexpCommand, run, features frame, engine codes)."""
    from nnexp.build import build_splits
    from nnexp.config.compose import compose_config
    from nnexp.nn import load_model

    nnexp = NnexpCommand(tmp_path_factory.mktemp("pets"))
    _pets_csv(nnexp.workdir / "pets.csv")
    result = nnexp.run(*ARGS)
    assert result.returncode == 0, result.stderr
    (run,) = nnexp.runs()
    network = load_model(
        nnexp.client().download_artifacts(run.info.run_id, "model.npz", str(nnexp.workdir))
    )
    data = compose_config([*ARGS[:1], f"data.path={nnexp.workdir / 'pets.csv'}", *ARGS[2:]]).data
    dataset, splits = build_splits(data, 0)
    frame = pd.DataFrame(dataset.X[:40], columns=list(dataset.feature_names))
    codes = network.predict((dataset.X[:40] - splits.scaler_mean) / splits.scaler_std)
    return nnexp, run, frame, codes


def _load(nnexp: NnexpCommand, uri: str):
    import mlflow

    mlflow.set_tracking_uri(nnexp.store_uri)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mlflow.pyfunc.load_model(uri)


def test_the_model_predicts_the_csv_labels_and_records_them(pets):
    nnexp, run, frame, codes = pets
    assert set(codes.tolist()) == {0, 1}  # both classes predicted: the mapping is visible
    model = _load(nnexp, run.data.tags["model_uri"])
    predicted = model.predict(frame)
    assert predicted.tolist() == [["cat", "dog"][code] for code in codes]
    assert model.metadata.metadata == {
        "nnexp.feature_names": ["a", "b"],
        "nnexp.class_names": ["cat", "dog"],
    }
    assert run.data.tags["data.class_names"] == '["cat", "dog"]'
    client = nnexp.client()
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 3
    for dataset_input in inputs:
        source = json.loads(dataset_input.dataset.source)
        assert source["tags"]["nnexp.class_names"] == '["cat", "dog"]'


OUTSIDE = """
import importlib.util, json, sys, warnings
import pandas as pd, mlflow
warnings.simplefilter("ignore")
frame = pd.DataFrame(**json.loads(sys.argv[1]))
print(json.dumps({
    "nnexp_importable": importlib.util.find_spec("nnexp") is not None,
    "predictions": mlflow.pyfunc.load_model(sys.argv[2]).predict(frame).tolist(),
}))
"""


@pytest.mark.slow  # the model's own environment: built once per machine (minutes), then cached
def test_the_labels_come_back_where_nnexp_is_not_installed(pets, tmp_path):
    from nnexp.tracking.pyfunc import model_requirements

    nnexp, run, frame, codes = pets
    python = venv_python(cached_venv("model-env", model_requirements()))
    env = {k: v for k, v in server_env().items() if k != "PYTHONPATH"}
    env["MLFLOW_TRACKING_URI"] = nnexp.store_uri
    uri = run.data.tags["model_uri"]
    result = subprocess.run(
        [str(python), "-c", OUTSIDE, frame.to_json(orient="split", index=False), uri],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {
        "nnexp_importable": False,
        "predictions": [["cat", "dog"][code] for code in codes],
    }


@pytest.mark.slow  # the server takes some 15 s to start here
def test_mlflow_models_serve_answers_with_the_labels(pets, tmp_path):
    """A real ``mlflow models serve`` of the run's model (some 15 s to start): the JSON
    predictions are the strings."""
    nnexp, run, frame, codes = pets
    env = server_env() | {"MLFLOW_TRACKING_URI": nnexp.store_uri}
    with served_model(run.data.tags["model_uri"], tmp_path, env) as url:
        body = json.dumps({"dataframe_split": frame.to_dict(orient="split", index=False)})
        request = urllib.request.Request(
            f"{url}/invocations", data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    assert answer == {"predictions": [["cat", "dog"][code] for code in codes]}


def _portable(tmp_path: Path, output: str, k: int, class_names) -> tuple[MLP, object]:
    rng = np.random.default_rng(k)
    model = MLP([2, 4, k], activation="tanh", output=output, rng=rng)
    save_model(model, tmp_path / "model.npz")
    write_scaler(tmp_path / "scaler.npz", None, None, ["a", "b"], class_names)
    return model, load_network(tmp_path / "model.npz", tmp_path / "scaler.npz")


def test_integer_labels_stay_integers_and_old_models_return_codes(tmp_path):
    X = np.random.default_rng(0).normal(scale=3.0, size=(30, 2))
    model, network = _portable(tmp_path, "softmax", 3, ("0", "1", "2"))
    codes = model.predict(X)
    assert len(set(codes.tolist())) > 1
    assert network.predict(X).dtype == np.int64
    assert network.predict(X).tolist() == codes.tolist()
    # a CSV whose integer labels are 3 and 7: the original integers come back
    model, network = _portable(tmp_path, "sigmoid", 1, ("3", "7"))
    assert network.predict(X).tolist() == [[3, 7][code] for code in model.predict(X)]
    # written before class names were recorded: the codes, as then
    model, network = _portable(tmp_path, "softmax", 3, None)
    with np.load(tmp_path / "scaler.npz") as scaler:
        assert "class_names" not in scaler.files
    assert network.predict(X).tolist() == model.predict(X).tolist()


def test_class_labels_from_names():
    assert class_labels(None) is None
    assert class_labels(()) is None
    assert class_labels(np.array(["0", "1"])).tolist() == [0, 1]
    assert class_labels(["-1", "1"]).dtype == np.int64
    assert class_labels(["cat", "dog"]).tolist() == ["cat", "dog"]
    assert class_labels(["007", "1"]).tolist() == ["007", "1"]  # not the integer 7
    assert class_labels(["1.5", "2"]).tolist() == ["1.5", "2"]


def test_class_names_that_do_not_fit_the_head_are_refused(tmp_path):
    with pytest.raises(ValueError, match="3 class names for a softmax head of 2"):
        _portable(tmp_path, "softmax", 2, ("a", "b", "c"))

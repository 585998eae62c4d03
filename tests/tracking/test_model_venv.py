"""A model logged by nnexp loads, predicts and is served where nnexp is not installed.

The environment is a virtualenv with exactly the model's ``requirements.txt`` (``mlflow`` and
``numpy`` at this machine's versions, with their dependencies, pandas among them): what
``mlflow models serve``'s default virtualenv manager would build from the model. It is built
once per machine (tests/venvs.py; about 2-10 minutes, depending on the load) and reused.
The server runs with ``--env-manager local`` from that environment: the virtualenv manager
would install the same requirements again into an environment of its own (at its first start;
MLflow then reuses it from ``~/.mlflow/envs``), minutes this test need not spend.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from nnexp_testing import FAST, NnexpCommand, served_model, server_env
from venvs import cached_venv, venv_python

pytestmark = pytest.mark.slow

#: diabetes takes no data.n_samples (a knob given for a data set that does not take it is refused)
ARGS = [
    *(arg for arg in FAST if not arg.startswith("data.n_samples=")),
    "data=diabetes",
    "model.hidden_sizes=[16]",
    "model.activation=gelu",
]


@pytest.fixture(scope="session")
def model_env() -> Path:
    from nnexp.tracking.pyfunc import model_requirements

    return cached_venv("model-env", model_requirements())


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A regression run (real-valued predictions) on diabetes (named features) and what nnexp
    itself predicts for raw inputs: the engine's network on standardised features."""
    from nnexp.build import build_splits
    from nnexp.config.compose import compose_config
    from nnexp.nn import load_model

    nnexp = NnexpCommand(tmp_path_factory.mktemp("model-run"))
    result = nnexp.run(*ARGS)
    assert result.returncode == 0, result.stderr
    (run,) = nnexp.runs()
    network = load_model(
        nnexp.client().download_artifacts(run.info.run_id, "model.npz", str(nnexp.workdir))
    )
    dataset, splits = build_splits(compose_config(ARGS).data, 0)
    raw = dataset.X[:40]
    expected = {
        "float64": network.predict((raw - splits.scaler_mean) / splits.scaler_std),
        "float32": network.predict(
            (raw.astype(np.float32).astype(np.float64) - splits.scaler_mean) / splits.scaler_std
        ),
    }
    return nnexp, run, raw, list(dataset.feature_names), expected


def _outside_env(nnexp: NnexpCommand) -> dict[str, str]:
    """No PYTHONPATH (it points at this checkout), the run's store as MLflow's tracking URI."""
    env = {k: v for k, v in server_env().items() if k != "PYTHONPATH"}
    env["MLFLOW_TRACKING_URI"] = nnexp.store_uri
    return env


LOAD_AND_PREDICT = """
import importlib.util, json, sys, warnings
import numpy as np, pandas as pd, mlflow
warnings.simplefilter("ignore")
raw, names, uris = np.array(json.loads(sys.argv[1])), json.loads(sys.argv[2]), sys.argv[3:]
out = {"nnexp_importable": importlib.util.find_spec("nnexp") is not None}
for uri in uris:
    model = mlflow.pyfunc.load_model(uri)
    out[uri] = {
        "float64": model.predict(raw).tolist(),
        "float32": model.predict(raw.astype(np.float32)).tolist(),
        "frame": model.predict(pd.DataFrame(raw, columns=names)[names[::-1]]).tolist(),
    }
print(json.dumps(out))
"""


def test_the_model_loads_and_predicts_without_nnexp(model_env, logged, tmp_path):
    nnexp, run, raw, names, expected = logged
    tags = run.data.tags
    uris = [tags["model_uri"], tags["model_run_uri"]]
    assert uris[0].startswith("models:/m-") and uris[1] == f"runs:/{run.info.run_id}/model"
    result = subprocess.run(
        [
            str(venv_python(model_env)),
            "-c",
            LOAD_AND_PREDICT,
            json.dumps(raw.tolist()),
            json.dumps(names),
            *uris,
        ],
        cwd=tmp_path,
        env=_outside_env(nnexp),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out.pop("nnexp_importable") is False
    assert sorted(out) == sorted(uris)
    for predictions in out.values():
        np.testing.assert_allclose(predictions["float64"], expected["float64"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(predictions["float32"], expected["float32"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(predictions["frame"], expected["float64"], rtol=0, atol=1e-12)


def _post(url: str, payload: dict) -> list:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["predictions"]


def test_mlflow_models_serve_answers_invocations_without_nnexp(model_env, logged, tmp_path):
    nnexp, run, raw, names, expected = logged
    serve = served_model(
        run.data.tags["model_uri"],
        tmp_path,
        _outside_env(nnexp),
        mlflow=(str(model_env / "bin" / "mlflow"),),
        timeout=300,
    )
    with serve as url:
        as_arrays = _post(f"{url}/invocations", {"inputs": raw.tolist()})
        reordered = [names.index(name) for name in names[::-1]]
        as_frame = _post(
            f"{url}/invocations",
            {"dataframe_split": {"columns": names[::-1], "data": raw[:, reordered].tolist()}},
        )
    np.testing.assert_allclose(as_arrays, expected["float64"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(as_frame, expected["float64"], rtol=0, atol=1e-12)

"""The trained network as a self-contained MLflow pyfunc model.

``mlflow.pyfunc.load_model(uri).predict(X)`` takes *raw* features (as in the data set, before
standardisation): a float32 or float64 array (columns in training order) or a pandas DataFrame
whose columns carry the training features' names (any order). It returns what
``model.predict`` returns for the standardised features for regression (values), and for
classification the data set's class labels: the original strings of a CSV target (``cat``,
``dog``), integers when every class name is one (``0``, ``1``); the class names, in the order
of the network's integer codes, are in the MLmodel metadata (``nnexp.class_names``) and
``scaler.npz``. A model logged before class names were recorded returns the codes.

The model needs MLflow and NumPy only (its ``requirements.txt``), not nnexp: its code is
``pyfunc_code.py`` (models from code, no pickle) and its forward pass ``nnexp/nn/portable.py``
(+ ``special.py``), shipped as the code path ``code/nnexp_portable/``. The weights travel as the
engine's own ``model.npz``, the scaler and feature names as ``scaler.npz`` (both loaded with
``allow_pickle=False``).

The signature declares the outputs only, no inputs, so that MLflow hands the input to the
model as it came and the model checks it itself (``nnexp/nn/model_input.py``: exactly the d
features, by position or by name, all finite; anything else is a bad request, HTTP 400 when
served). MLflow's own enforcement of an input signature cannot refuse a wrong width: against
unnamed ``double`` columns (models logged before) it keeps the first d columns of a wider input
and reads the features shifted; named columns refuse plain arrays; a tensor spec reads a
DataFrame's columns in the order given. The feature names are in the MLmodel metadata
(``nnexp.feature_names``) and ``scaler.npz``.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:  # models logged before the model became self-contained import NnexpPyfuncModel from here
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is a hard dependency
    PythonModel = object  # type: ignore[assignment,misc]


WEIGHTS = "weights"
SCALER = "scaler"
#: The run tags a logged model shares with its run (the UI's user and source columns).
SOURCE_TAGS = ("mlflow.user", "mlflow.source.")
#: The package the forward pass travels in, inside the model's ``code/`` folder.
PORTABLE_PACKAGE = "nnexp_portable"
#: Files of ``nnexp/nn/`` copied into it: each imports only NumPy, the standard library and
#: the others (tests/tracking/test_portable_model.py checks).
PORTABLE_FILES = ("portable.py", "special.py", "model_input.py")
NN_DIR = Path(__file__).resolve().parents[1] / "nn"


def model_requirements() -> list[str]:
    """What the model needs to load: its ``requirements.txt``."""
    import mlflow

    return [f"numpy=={np.__version__}", f"mlflow=={mlflow.__version__}"]


def model_tags(model_uri: str, run_id: str, name: str = "model") -> dict[str, str]:
    """The run's tags for its model: the logged-model URI (``models:/m-...``, needs the
    tracking URI) and the run-relative one (``runs:/RUN_ID/model``)."""
    return {"model_uri": model_uri, "model_run_uri": f"runs:/{run_id}/{name}"}


def write_portable_package(folder: Path) -> Path:
    """Copy the forward pass into ``folder/nnexp_portable/``; return that package folder."""
    package = folder / PORTABLE_PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        '"""nnexp\'s forward pass in NumPy alone, shipped with a logged model."""\n'
    )
    for name in PORTABLE_FILES:
        shutil.copyfile(NN_DIR / name, package / name)
    return package


def write_scaler(
    path: Path,
    scaler_mean: np.ndarray | None,
    scaler_std: np.ndarray | None,
    feature_names: Sequence[str],
    class_names: Sequence[str] | None = None,
) -> None:
    """The scaler file the portable model reads: ``mean``/``std`` (d,), ``feature_names``
    (d,) and, for a classifier, ``class_names`` (k,), the label of each integer code."""
    mean = np.asarray(scaler_mean if scaler_mean is not None else [], dtype=np.float64)
    std = np.asarray(scaler_std if scaler_std is not None else [], dtype=np.float64)
    arrays = {"feature_names": np.array(list(feature_names), dtype=str)}
    if class_names:
        arrays["class_names"] = np.array([str(name) for name in class_names], dtype=str)
    np.savez(path, mean=mean, std=std, **arrays)


def model_signature(example: np.ndarray, predictions: np.ndarray) -> Any:
    """Outputs inferred from ``predictions``; no inputs: the model checks its input itself
    (MLflow would cut a wider input to the signature's width before the model saw it)."""
    from mlflow.models import ModelSignature, infer_signature

    return ModelSignature(inputs=None, outputs=infer_signature(example, predictions).outputs)


def log_pyfunc_model(
    model: Any,
    scaler_mean: np.ndarray | None,
    scaler_std: np.ndarray | None,
    example: np.ndarray,
    *,
    run_id: str,
    linked_metrics: Sequence[Any] | None = None,
    name: str = "model",
    feature_names: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
) -> str:
    """Log ``model`` as a logged model of run ``run_id``; return its URI (``models:/m-...``).

    ``class_names`` (a classifier's labels in the order of its integer codes) go into the
    scaler file and the MLmodel metadata (``nnexp.class_names``): the model then predicts the
    original labels (:func:`nnexp.nn.portable.class_labels`).

    The record is the one ``mlflow.pyfunc.log_model`` writes for an active run (the model names
    its source run and carries its params; the run lists the model as an output at step 0; the
    run's step-0 metrics are linked to the model), but the run need not be active, and
    ``linked_metrics`` (the run's step-0 ``Metric`` entities, as logged) spare MLflow's way of
    finding them: reading the whole history of every metric key, one query per key.
    """
    import mlflow
    from mlflow.entities import LoggedModelOutput

    from nnexp.nn import save_model
    from nnexp.nn.portable import load_network

    if mlflow.active_run() is not None:
        raise RuntimeError("log_pyfunc_model links the run itself: no fluent run may be active")
    if feature_names is None:
        feature_names = [f"x{i}" for i in range(example.shape[1])]
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    if linked_metrics is None:
        linked_metrics = metrics_at_step(client, run, 0)
    with tempfile.TemporaryDirectory(prefix="nnexp-pyfunc-") as tmp:
        weights = Path(tmp) / "model.npz"
        scaler = Path(tmp) / "scaler.npz"
        save_model(model, weights)
        write_scaler(scaler, scaler_mean, scaler_std, feature_names, class_names)
        package = write_portable_package(Path(tmp) / "code")
        # The signature's outputs come from the portable forward pass reading the written
        # files: a network it cannot rebuild fails here, while logging, not when loaded.
        predictions = load_network(weights, scaler).predict(example)
        # The client's create (not mlflow.initialize_logged_model, whose context providers
        # probe for notebooks and import IPython: 0.3 s of a fresh process) with the run's own
        # user and source tags, which are what those providers would give.
        logged = client.create_logged_model(
            experiment_id=run.info.experiment_id,
            name=name,
            source_run_id=run_id,
            tags={k: v for k, v in run.data.tags.items() if k.startswith(SOURCE_TAGS)},
            params={key: str(value) for key, value in run.data.params.items()},
        )
        with warnings.catch_warnings(), _requirements_taken_as_installed():
            # MLflow nags about type hints and input examples; the signature is given explicitly.
            warnings.simplefilter("ignore", UserWarning)
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(Path(__file__).with_name("pyfunc_code.py")),
                artifacts={WEIGHTS: str(weights), SCALER: str(scaler)},
                code_paths=[str(package)],
                signature=model_signature(example, predictions),
                metadata=model_metadata(feature_names, class_names),
                pip_requirements=model_requirements(),
                model_id=logged.model_id,
            )
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    link_metrics(client, run_id, logged.model_id, linked_metrics)
    return info.model_uri


def model_metadata(
    feature_names: Sequence[str], class_names: Sequence[str] | None
) -> dict[str, list[str]]:
    """The MLmodel file's ``metadata``: the input columns and, for a classifier, the class
    names in the order of the network's integer codes."""
    metadata = {"nnexp.feature_names": list(feature_names)}
    if class_names:
        metadata["nnexp.class_names"] = [str(name) for name in class_names]
    return metadata


@contextlib.contextmanager
def _requirements_taken_as_installed() -> Iterator[None]:
    """While the model is logged, skip MLflow's check that the running interpreter satisfies
    the model's requirements.

    The requirements are :func:`model_requirements`, the versions this interpreter runs, so the
    check cannot find a mismatch; but to make it MLflow maps every installed distribution to
    its modules (``importlib.metadata.packages_distributions``): 0.6 s of each process that
    logs a model, a tenth of a default run. Only MLflow's own module attribute is swapped, and
    only for this call; if MLflow renames it, the check simply runs.
    """
    from mlflow.utils import environment

    name = "warn_dependency_requirement_mismatches"
    original = getattr(environment, name, None)
    if original is None:
        yield
        return
    setattr(environment, name, lambda requirements: None)
    try:
        yield
    finally:
        setattr(environment, name, original)


def metrics_at_step(client: Any, run: Any, step: int) -> list[Any]:
    """The run's metric points at ``step`` not yet linked to a model, found as MLflow finds
    them (every key's history): for a run whose step-0 metrics the caller does not know."""
    return [
        point
        for key in run.data.metrics
        for point in client.get_metric_history(run.info.run_id, key)
        if point.step == step and point.model_id is None
    ]


def link_metrics(client: Any, run_id: str, model_id: str, metrics: Sequence[Any]) -> None:
    """Link metric points of ``run_id`` to a logged model by logging them again with its id.

    Same key, value, timestamp and step, so the run's own history gains no point (the store
    keeps one row per point) while the model's metrics table gets them.
    """
    from mlflow.entities import Metric

    points = [
        Metric(
            m.key,
            m.value,
            m.timestamp,
            m.step,
            dataset_name=getattr(m, "dataset_name", None),
            dataset_digest=getattr(m, "dataset_digest", None),
            run_id=run_id,
            model_id=model_id,
        )
        for m in metrics
    ]
    for start in range(0, len(points), 1000):
        client.log_batch(run_id, metrics=points[start : start + 1000])


# Defining a PythonModel subclass makes MLflow warn that ``predict`` has no type hints (on
# purpose: MLflow would convert inputs to match them). MLflow forces that warning on with its own
# filter, so the notice is swallowed here instead.
with contextlib.redirect_stderr(io.StringIO()):

    class NnexpPyfuncModel(PythonModel):
        """The model class of runs logged before models became self-contained (their code file
        imports it from here, so they still load where nnexp is installed)."""

        def load_context(self, context: Any) -> None:
            from nnexp.nn import load_model

            self.model = load_model(context.artifacts[WEIGHTS])
            with np.load(context.artifacts[SCALER], allow_pickle=False) as scaler:
                self.mean = scaler["mean"]
                self.std = scaler["std"]

        def predict(self, context, model_input, params=None):  # no type hints: MLflow parses them
            features = np.asarray(
                model_input, dtype=self.mean.dtype if self.mean.size else np.float64
            )
            if self.mean.size:
                features = (features - self.mean) / self.std
            return self.model.predict(features)

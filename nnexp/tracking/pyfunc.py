"""The trained network as an MLflow pyfunc model.

``mlflow.pyfunc.load_model(uri).predict(X)`` takes *raw* features (as in the data set, before
standardisation) and returns what ``model.predict`` returns for the standardised features:
class labels for classification heads, values for regression. The weights travel as the
engine's own ``.npz`` (loaded with ``allow_pickle=False``), the scaler as a second ``.npz``.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

try:  # the class must be importable wherever MLflow unpickles the model
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is a hard dependency
    PythonModel = object  # type: ignore[assignment,misc]


WEIGHTS = "weights"
SCALER = "scaler"


# Defining a PythonModel subclass makes MLflow warn that ``predict`` has no type hints (on
# purpose: MLflow would convert inputs to match them). MLflow forces that warning on with its own
# filter, so the notice is swallowed here instead.
with contextlib.redirect_stderr(io.StringIO()):

    class NnexpPyfuncModel(PythonModel):
        """Standardise raw features with the training split's statistics, then predict."""

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


def log_pyfunc_model(
    model: Any,
    scaler_mean: np.ndarray | None,
    scaler_std: np.ndarray | None,
    example: np.ndarray,
    name: str = "model",
) -> str:
    """Log ``model`` to the active run; return the model URI (``models:/...``)."""
    import mlflow
    from mlflow.models import infer_signature

    from nnexp.nn import save_model

    with tempfile.TemporaryDirectory(prefix="nnexp-pyfunc-") as tmp:
        weights = Path(tmp) / "model.npz"
        scaler = Path(tmp) / "scaler.npz"
        save_model(model, weights)
        mean = np.asarray(scaler_mean if scaler_mean is not None else [], dtype=np.float64)
        std = np.asarray(scaler_std if scaler_std is not None else [], dtype=np.float64)
        np.savez(scaler, mean=mean, std=std)
        wrapper = NnexpPyfuncModel()
        wrapper.model, wrapper.mean, wrapper.std = model, mean, std
        signature = infer_signature(example, wrapper.predict(None, example))
        with warnings.catch_warnings():
            # MLflow nags about type hints and input examples; the signature is given explicitly.
            warnings.simplefilter("ignore", UserWarning)
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=str(Path(__file__).with_name("pyfunc_code.py")),
                artifacts={WEIGHTS: str(weights), SCALER: str(scaler)},
                signature=signature,
                pip_requirements=[f"numpy=={np.__version__}", f"mlflow=={mlflow.__version__}"],
            )
    return info.model_uri

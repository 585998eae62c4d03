"""The logged model's code (MLflow "models from code"); it needs MLflow and NumPy, not nnexp.

MLflow copies this file into the model and runs it when the model is logged and when it is
loaded. The forward pass travels with the model as its code path ``code/nnexp_portable/``
(copies of ``nnexp/nn/portable.py`` and ``special.py``), which MLflow puts on ``sys.path``
before loading the model; it is imported in ``load_context`` (never while logging, when that
folder is not on ``sys.path`` yet). Nothing here imports nnexp.

``predict`` has no type hints on purpose (MLflow would convert inputs to match them); the
warning MLflow prints about that when the class is defined is swallowed.
"""

import contextlib
import io

import mlflow.models
from mlflow.pyfunc import PythonModel

with contextlib.redirect_stderr(io.StringIO()):

    class NnexpNetwork(PythonModel):
        """Standardise raw features with the training split's statistics, then predict."""

        def load_context(self, context):
            from nnexp_portable.portable import load_network

            self.network = load_network(context.artifacts["weights"], context.artifacts["scaler"])

        def predict(self, context, model_input, params=None):
            return self.network.predict(model_input)


mlflow.models.set_model(NnexpNetwork())

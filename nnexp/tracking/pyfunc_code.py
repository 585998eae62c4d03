"""The logged model's code (MLflow "models from code"); it needs MLflow and NumPy, not nnexp.

MLflow copies this file into the model and runs it when the model is logged and when it is
loaded. The forward pass travels with the model as its code path ``code/nnexp_portable/``
(copies of ``nnexp/nn/portable.py``, ``special.py`` and ``model_input.py``); it is imported
from there in ``load_context`` (never while logging, when that folder does not exist yet).
Nothing here imports nnexp.

``predict`` has no type hints on purpose (MLflow would convert inputs to match them); the
warning MLflow prints about that when the class is defined is swallowed.

The model's signature declares no inputs, so ``predict`` sees the input as sent and the forward
pass refuses a wrong width, names or a non-finite value (``nnexp_portable/model_input.py``);
the refusal is raised as an :class:`InvalidModelInput`, which ``mlflow models serve`` answers
with HTTP 400 and the message (any other exception becomes a generic "unexpected error").
"""

import contextlib
import importlib
import importlib.util
import io
import sys
from pathlib import Path

import mlflow.models
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel


class InvalidModelInput(MlflowException, ValueError):
    """The input is not the model's features: a ``ValueError`` to Python callers, a bad request
    (HTTP 400 with this message) to the scoring server."""

    def __init__(self, message):
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


#: The forward pass's package, in the model's ``code/`` folder.
PACKAGE = "nnexp_portable"


def own_portable_modules(weights):
    """(``portable``, ``model_input``) of this model's own ``code/nnexp_portable/``.

    Every nnexp model ships its forward pass under the same package name, and Python imports a
    name once per process: a model loaded after another would run the other's copy (one logged
    before ``model_input.py`` existed: an ImportError). So a copy imported from another folder
    is dropped first (the models already loaded keep the functions they hold). ``weights`` is
    the model's ``artifacts/model.npz``; the code folder is beside ``artifacts/``.
    """
    folder = (Path(weights).resolve().parents[1] / "code" / PACKAGE).resolve()
    loaded = sys.modules.get(PACKAGE)
    imported_from = [Path(p).resolve() for p in getattr(loaded, "__path__", [])]
    if loaded is not None and folder.is_dir() and imported_from != [folder]:
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]
    if PACKAGE not in sys.modules and (folder / "__init__.py").is_file():
        spec = importlib.util.spec_from_file_location(
            PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        package = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = package
        spec.loader.exec_module(package)
    return (
        importlib.import_module(f"{PACKAGE}.portable"),
        importlib.import_module(f"{PACKAGE}.model_input"),
    )


with contextlib.redirect_stderr(io.StringIO()):

    class NnexpNetwork(PythonModel):
        """Standardise raw features with the training split's statistics, then predict."""

        def load_context(self, context):
            portable, model_input = own_portable_modules(context.artifacts["weights"])
            self.network = portable.load_network(
                context.artifacts["weights"], context.artifacts["scaler"]
            )
            self.input_error = model_input.InputError  # the class this network raises

        def predict(self, context, model_input, params=None):
            try:
                return self.network.predict(model_input)
            except self.input_error as refused:
                raise InvalidModelInput(str(refused)) from None


mlflow.models.set_model(NnexpNetwork())

"""The pyfunc model's code file (MLflow "models from code"): no pickled Python objects.

MLflow executes this file when the model is logged and when it is loaded; it names the model
class to use. ``predict`` has no type hints on purpose (MLflow would convert inputs to match
them), so MLflow's warning that it has none is silenced here.
"""

import warnings

import mlflow.models

from nnexp.tracking.pyfunc import NnexpPyfuncModel

warnings.filterwarnings("ignore", message=r".*type hints.*", category=UserWarning)
mlflow.models.set_model(NnexpPyfuncModel())

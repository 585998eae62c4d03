"""The pyfunc model's code file (MLflow "models from code"): no pickled Python objects.

MLflow executes this file when the model is loaded; it names the model class to use.
"""

import mlflow.models

from nnexp.tracking.pyfunc import NnexpPyfuncModel

mlflow.models.set_model(NnexpPyfuncModel())

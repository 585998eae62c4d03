"""MLflow, and only here: stores, runs, batched metrics, datasets and the pyfunc model.

Importing this package is cheap; MLflow itself is imported when a store is first opened.
MLflow's console chatter (INFO logs, artifact progress bars, telemetry) is turned off here, before
MLflow is imported, so a run's output is nnexp's summary; set the variables to override.
"""

import os as _os
import warnings as _warnings

for _name, _value in {
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # "View run ... at: URL" after each run on a tracking server: chatter, and the URL verbatim
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    "DO_NOT_TRACK": "true",
    "GIT_PYTHON_REFRESH": "quiet",
}.items():
    _os.environ.setdefault(_name, _value)

# MLflow warns about pyfunc type hints and input examples on every model it logs or loads;
# nnexp gives the model signature explicitly.
_warnings.filterwarnings("ignore", category=UserWarning, module=r"mlflow(\.|$)")

from nnexp.tracking.recorder import RunRecorder, end_open_runs  # noqa: E402
from nnexp.tracking.store import Store, open_store, resolve_uri  # noqa: E402

__all__ = ["RunRecorder", "Store", "end_open_runs", "open_store", "resolve_uri"]

"""MLflow, and only here: stores, runs, batched metrics, datasets and the pyfunc model.

Importing this package is cheap; MLflow itself is imported when a store is first opened.
"""

from nnexp.tracking.recorder import RunRecorder, end_open_runs
from nnexp.tracking.store import Store, open_store, resolve_uri

__all__ = ["RunRecorder", "Store", "end_open_runs", "open_store", "resolve_uri"]
